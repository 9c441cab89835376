/**
 * An ACP agent as a child process: spawned in its own process group (an agent's
 * own children — Claude Code's `claude`, OpenCode 2.x's `opencode serve --stdio` —
 * outlive a killed parent otherwise), spoken to over stdio with
 * `@agentclientprotocol/sdk`, and stopped by signalling the whole group.
 *
 * Every JSON-RPC message in either direction can be observed (`onMessage`): the
 * captures under test/fixtures/acp are that traffic.
 */
import { signalGroup, stopChild } from "../server/managed.js";
import { startReaper } from "../server/reaper.js";
import { spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";
import { client, ndJsonStream, type AnyMessage, type ClientConnection, type RequestPermissionRequest, type RequestPermissionResponse, type SessionNotification, type Stream } from "@agentclientprotocol/sdk";

export interface AgentHandlers {
  /** A `session/update` notification (called in arrival order, synchronously). */
  update(params: SessionNotification): void;
  /** A `session/request_permission` request; its promise is the answer. */
  permission(params: RequestPermissionRequest, signal: AbortSignal): Promise<RequestPermissionResponse>;
}

export interface SpawnAgentOptions {
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Every JSON-RPC message: `out` to the agent, `in` from it. */
  readonly onMessage?: (direction: "in" | "out", msg: AnyMessage) => void;
  /** The agent's stderr, line by line (it logs there). */
  readonly onStderr?: (line: string) => void;
}

export interface AgentExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface AgentProcess {
  readonly pid: number;
  readonly connection: ClientConnection;
  /** Resolves when the agent process has exited (never rejects). */
  readonly exited: Promise<AgentExit>;
  /** Whether the process has exited. */
  readonly exitedNow: boolean;
  /** TERM the process group, KILL it after `graceMs`; resolves once the agent has exited. */
  stop(graceMs?: number): Promise<void>;
  /** KILL the process group now (the bridge is about to exit: no time to wait). */
  kill(): void;
}

/** Split an agent command line (`opencode acp`, `node "my agent.js" --flag`) into argv; quotes group, no other shell syntax. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1]?.replace(/\\(.)/g, "$1") ?? m[2] ?? m[3] ?? "");
  return out;
}

/** Wraps a message stream so each message is observed on its way. */
function observed(stream: Stream, onMessage: NonNullable<SpawnAgentOptions["onMessage"]>): Stream {
  const tap = (direction: "in" | "out") =>
    new TransformStream<AnyMessage, AnyMessage>({
      transform(msg, controller) {
        onMessage(direction, msg);
        controller.enqueue(msg);
      },
    });
  const outgoing = tap("out");
  void outgoing.readable.pipeTo(stream.writable).catch(() => {});
  return { writable: outgoing.writable, readable: stream.readable.pipeThrough(tap("in")) };
}

export function spawnAgent(command: readonly string[], handlers: AgentHandlers, opts: SpawnAgentOptions): AgentProcess {
  const [file, ...args] = command;
  if (file === undefined) throw new Error("the agent command is empty");
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: { ...(opts.env ?? process.env) } as NodeJS.ProcessEnv,
    stdio: ["pipe", "pipe", "pipe"],
    // Its own process group, so that stopping it stops what it started.
    detached: true,
  });
  // Stops the agent's group when the bridge dies, however it dies (kill -9 runs no exit hook,
  // and some agents, Codex, do not exit when their stdin closes): src/server/reaper.ts.
  const releaseReaper = child.pid !== undefined ? startReaper(child.pid) : undefined;
  let exitedNow = false;
  const exited = new Promise<AgentExit>((resolve) => {
    child.once("exit", (code, signal) => {
      exitedNow = true;
      // The reaper then stops whatever is left of the group (Claude Code's `claude`) and exits.
      releaseReaper?.();
      resolve({ code, signal });
    });
    child.once("error", () => {
      exitedNow = true;
      resolve({ code: null, signal: null });
    });
  });
  // A spawn failure (ENOENT) surfaces as `exited`; the pipes' errors are the same event seen twice.
  child.stdin.on("error", () => {});
  child.stdout.on("error", () => {});
  let pending = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    pending += c;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const l of lines) opts.onStderr?.(l);
  });
  const raw = ndJsonStream(Writable.toWeb(child.stdin) as WritableStream<Uint8Array>, Readable.toWeb(child.stdout) as ReadableStream<Uint8Array>);
  const stream = opts.onMessage ? observed(raw, opts.onMessage) : raw;
  const app = client()
    .onNotification("session/update", ({ params }) => handlers.update(params))
    .onRequest("session/request_permission", ({ params, signal }) => handlers.permission(params, signal));
  const connection = app.connect(stream);
  return {
    pid: child.pid ?? -1,
    connection,
    exited,
    get exitedNow() {
      return exitedNow;
    },
    async stop(graceMs = 2000) {
      connection.close();
      await stopChild(child, graceMs);
    },
    kill() {
      connection.close();
      signalGroup(child, "SIGKILL");
    },
  };
}
