/**
 * The ACP backend: drives turns on an ACP agent (`opencode acp`, claude-agent-acp,
 * codex-acp, any agent speaking ACP v1 on stdio) with the same public shape as
 * `OpencodeAdapter`: `prompt` resolves a `TurnResult` once the one terminal reply
 * reached the sink; requests are answered through `replyPermission`/`answer`.
 *
 *   const adapter = new AcpAdapter({ command: "opencode acp", directory }, sink);
 *   await adapter.prompt("Fix the failing test");
 *
 * The agent is started on the first turn (in its own process group) and kept for
 * the next; one that died is started again, and a keyed session is resumed on it
 * (`session/resume`, else `session/load`) when the agent says it can. Turns are
 * serialized (p-queue, concurrency 1), as on OpenCode. The agent's `fs/*` and
 * `terminal/*` client methods are not offered (the capabilities say so): the agent
 * reads and runs things itself, under its own permission rules.
 */
import PQueue from "p-queue";
import pino, { type Logger } from "pino";
import { PROTOCOL_VERSION, type AnyMessage, type InitializeResponse, type PromptResponse } from "@agentclientprotocol/sdk";
import { toSinkObject, type Sink, type SinkObject } from "../sink/types.js";
import { parseAdapterConfig, type AdapterConfig, type AdapterConfigInput } from "../adapter/config.js";
import { BridgeError } from "../adapter/errors.js";
import { holdProcess } from "../adapter/keep-alive.js";
import { checkPrompt, turnConfig, type PromptOptions } from "../adapter/prompt-options.js";
import type { AnswerOutcome } from "../adapter/requests.js";
import type { TurnResult } from "../adapter/delivery.js";
import type { BridgeRequest, PermissionReply, RequestAnswer } from "../codec/requests.js";
import type { PromptInputPart } from "../adapter/parts.js";
import { promptErrorOutcome, promptOutcome, type RpcError } from "./codec.js";
import { spawnAgent, splitCommand, type AgentProcess } from "./process.js";
import { AcpTurn } from "./turn.js";
import { capabilitiesOf, type BackendCapabilities } from "./capabilities.js";

export type AcpAdapterConfig = Omit<AdapterConfigInput, "baseUrl" | "username" | "password" | "verifyAtEnd" | "line"> & {
  /** The agent command: a command line (`opencode acp`; quotes group) or an argv. */
  readonly command: string | readonly string[];
  /** The agent's environment (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Time allowed for starting the agent: `initialize` and `session/new|load|resume` (default 60 s). */
  readonly startTimeoutMs?: number;
  /** Every JSON-RPC message to (`out`) and from (`in`) the agent: for captures and diagnostics. */
  readonly onTraffic?: (direction: "in" | "out", msg: AnyMessage) => void;
};

const VERSION = "0.1.0";

export class AcpAdapter {
  readonly config: AdapterConfig;
  private readonly command: readonly string[];
  private readonly sink: SinkObject;
  private readonly log: Logger;
  private readonly queue = new PQueue({ concurrency: 1 });
  private agent: { proc: AgentProcess; init: InitializeResponse; sessions: Set<string> } | undefined;
  private current: AcpTurn | undefined;
  private readonly keys = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly input: AcpAdapterConfig,
    sink: Sink,
  ) {
    this.command = typeof input.command === "string" ? splitCommand(input.command) : [...input.command];
    if (this.command.length === 0) throw new BridgeError("config", "invalid ACP adapter config: command is empty (expected e.g. \"opencode acp\")");
    // The adapter's validated options, shared with OpencodeAdapter; its base URL is never used here.
    const { command: _c, env: _e, startTimeoutMs: _s, onTraffic: _t, ...rest } = input;
    this.config = parseAdapterConfig({ ...rest, baseUrl: "http://127.0.0.1/", verifyAtEnd: false });
    this.sink = toSinkObject(sink);
    this.log = (this.config.logger ?? pino({ enabled: false })).child({ component: "acp", agent: this.command[0] });
  }

  /** What this backend can do; the agent-dependent ones are known once it has started (`start`). */
  get capabilities(): BackendCapabilities {
    return capabilitiesOf(this.agent?.init);
  }

  /** Start the agent (if it is not running) and initialize it. */
  async start(): Promise<InitializeResponse> {
    if (this.agent && !this.agent.proc.exitedNow) return this.agent.init;
    const proc = spawnAgent(
      this.command,
      {
        update: (params) => {
          const turn = this.current;
          if (turn !== undefined && params.sessionId === turn.sessionId) turn.onUpdate(params.update);
        },
        permission: (params, signal) => {
          const turn = this.current;
          if (turn === undefined || params.sessionId !== turn.sessionId) return Promise.resolve({ outcome: { outcome: "cancelled" } });
          return turn.onPermission(params, signal);
        },
      },
      {
        cwd: this.config.directory,
        env: this.input.env ?? process.env,
        onStderr: (line) => this.log.debug({ line }, "agent stderr"),
        ...(this.input.onTraffic ? { onMessage: this.input.onTraffic } : {}),
      },
    );
    void proc.exited.then((exit) => {
      this.log.warn(exit, "the agent process exited");
      this.current?.fail("transport", `the agent process exited during the turn (${exit.signal ?? `exit code ${exit.code}`})`);
    });
    try {
      const init = await this.bounded(
        proc.connection.agent.request("initialize", {
          protocolVersion: PROTOCOL_VERSION,
          clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
          clientInfo: { name: "opencode-bridge", version: VERSION },
        }),
        proc,
        "initialize",
      );
      this.agent = { proc, init, sessions: new Set() };
      return init;
    } catch (err) {
      await proc.stop();
      throw err;
    }
  }

  /** A request to the agent, bounded by `startTimeoutMs` and by the agent's life. */
  private async bounded<T>(req: Promise<T>, proc: AgentProcess, what: string): Promise<T> {
    const ms = this.input.startTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const gone = (exit: { code: number | null; signal: string | null }) =>
      new BridgeError("transport", `the agent exited before answering ${what} (${exit.signal ?? `exit code ${exit.code}`}): is \`${this.command.join(" ")}\` an ACP agent?`);
    try {
      return await Promise.race([
        // Its stdio closes before its exit is reported: a closed connection waits (briefly) for the exit status.
        req.catch(async (err: unknown) => {
          if (!proc.connection.signal.aborted) throw err;
          const exit = await Promise.race([proc.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000))]);
          throw exit ? gone(exit) : err;
        }),
        proc.exited.then((exit) => {
          throw gone(exit);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new BridgeError("timeout", `the agent did not answer ${what} within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  prompt(input: string | readonly PromptInputPart[], opts: PromptOptions = {}): Promise<TurnResult> {
    try {
      checkPrompt(this.config, input, opts, this.closed);
      if (typeof input !== "string" && input.some((p) => p.type !== "text")) {
        throw new BridgeError("config", "the ACP backend sends text parts only (files are not supported yet)");
      }
    } catch (err) {
      return this.refuse(err as Error, opts);
    }
    const release = holdProcess();
    const text = typeof input === "string" ? input : input.map((p) => (p.type === "text" ? p.text : "")).join("\n");
    return this.queue.add(() => this.runTurn(text, opts)).finally(release);
  }

  private async refuse(err: Error, opts: PromptOptions): Promise<never> {
    const turn = this.newTurn(opts.traceId ?? this.config.newTraceId(), opts.sessionId ?? "", this.config);
    turn.fail(err instanceof BridgeError ? err.replyCode : "internal", `the bridge refused the turn: ${err.message}`);
    await turn.settled();
    throw err;
  }

  private newTurn(traceId: string, sessionId: string, cfg: AdapterConfig): AcpTurn {
    const log = this.log.child({ trace_id: traceId, session_id: sessionId });
    return new AcpTurn(traceId, sessionId, cfg, this.sink, log, {
      cancel: async () => {
        await this.agent?.proc.connection.agent.notify("session/cancel", { sessionId });
        log.info("session/cancel sent");
      },
    });
  }

  /**
   * Starts the agent and opens a session on it: `sessionId` resumed (or loaded), else a
   * new one. The daemon opens each turn's session before it accepts the turn (its id is
   * in the 202); the turn's `prompt` with that `sessionId` then runs in it.
   */
  async openSession(sessionId?: string): Promise<string> {
    if (this.closed) throw new BridgeError("config", "the adapter is closed");
    // Open on the running agent already: at once, not behind the session's running turn.
    if (sessionId !== undefined && this.agent && !this.agent.proc.exitedNow && this.agent.sessions.has(sessionId)) return sessionId;
    return this.queue.add(async () => {
      await this.start();
      return this.session(sessionId === undefined ? {} : { sessionId });
    });
  }

  /** The agent session for this turn: new, the host's (`sessionId`), or the one its `sessionKey` names. */
  private async session(opts: PromptOptions): Promise<string> {
    const agent = this.agent;
    if (agent === undefined) throw new BridgeError("transport", "the agent is not running");
    const want = opts.sessionId ?? (opts.sessionKey !== undefined ? this.keys.get(opts.sessionKey) : undefined);
    const request = agent.proc.connection.agent;
    const cwd = this.config.directory;
    if (want !== undefined && agent.sessions.has(want)) return want;
    if (want !== undefined) {
      const caps = agent.init.agentCapabilities;
      // Resume does not replay the history; load does (as session/update, which no turn listens to yet).
      const method = caps?.sessionCapabilities?.resume ? "session/resume" : caps?.loadSession ? "session/load" : undefined;
      if (method === undefined && opts.sessionId !== undefined) {
        throw new BridgeError("not_found", `the agent cannot load or resume sessions, so session ${want} is not available`);
      }
      if (method !== undefined) {
        try {
          await this.bounded(request.request(method, { sessionId: want, cwd, mcpServers: [] }), agent.proc, method);
        } catch (err) {
          if (err instanceof BridgeError) throw err;
          throw new BridgeError("not_found", `the agent could not ${method.slice(8)} session ${want}: ${(err as Error).message}`, { cause: err });
        }
        agent.sessions.add(want);
        return want;
      }
    }
    const created = await this.bounded(request.request("session/new", { cwd, mcpServers: [] }), agent.proc, "session/new");
    agent.sessions.add(created.sessionId);
    if (opts.sessionKey !== undefined) this.keys.set(opts.sessionKey, created.sessionId);
    return created.sessionId;
  }

  private async runTurn(text: string, opts: PromptOptions): Promise<TurnResult> {
    const traceId = opts.traceId ?? this.config.newTraceId();
    const cfg = turnConfig(this.config, opts);
    let turn: AcpTurn | undefined;
    const onAbort = () => void turn?.expire("aborted", "the turn was aborted by the host");
    try {
      if (opts.signal?.aborted) throw new BridgeError("config", "the turn was aborted before it started");
      await this.start();
      const sessionId = await this.session(opts);
      const agent = this.agent;
      if (agent === undefined || agent.proc.exitedNow) throw new BridgeError("transport", "the agent process exited before the prompt was sent");
      turn = this.newTurn(traceId, sessionId, cfg);
      this.current = turn;
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const t = turn;
      const prompt = agent.proc.connection.agent.request("session/prompt", { sessionId, prompt: [{ type: "text", text }] });
      t.started();
      prompt.then(
        (r: PromptResponse) => t.end(promptOutcome(r)),
        (err: unknown) => {
          // The pipe closes before the exit is reported: a closed connection is the agent gone.
          if (agent.proc.exitedNow || agent.proc.connection.signal.aborted) t.fail("transport", "the agent process exited during the turn (its stdio closed)");
          else t.end(promptErrorOutcome(err as RpcError));
        },
      );
      if (opts.signal?.aborted) onAbort();
    } catch (err) {
      const e = err instanceof BridgeError ? err : new BridgeError("transport", `could not start the agent's turn: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      const code = opts.signal?.aborted ? "aborted" : e.replyCode;
      this.log.warn({ code, err: e.message }, "the turn failed before it started");
      turn ??= this.newTurn(traceId, opts.sessionId ?? "", cfg);
      turn.fail(code, e.message);
    }
    try {
      return await turn.settled();
    } finally {
      if (this.current === turn) this.current = undefined;
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  pendingRequests(): BridgeRequest[] {
    return this.current?.requests.list() ?? [];
  }

  replyPermission(requestId: string, reply: PermissionReply, message?: string): Promise<AnswerOutcome> {
    return this.answer(requestId, message === undefined ? { reply } : { reply, message });
  }

  async answer(requestId: string, answer: RequestAnswer): Promise<AnswerOutcome> {
    const turn = this.current;
    if (turn === undefined) return { status: "unknown", message: `no turn is running, so there is no request ${requestId}` };
    return turn.requests.answer(requestId, answer);
  }

  /** The agent's process id while it runs (for diagnostics and fault tests). */
  get agentPid(): number | undefined {
    return this.agent && !this.agent.proc.exitedNow ? this.agent.proc.pid : undefined;
  }

  /** Kills the agent's process group now (the process is about to exit). */
  kill(): void {
    this.closed = true;
    this.agent?.proc.kill();
  }

  /** Waits for queued turns, then stops the agent and everything it started (its process group). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.onIdle();
    await this.agent?.proc.stop();
    await this.sink.flush?.();
  }
}
