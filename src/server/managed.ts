/**
 * Starting and stopping a real `opencode serve` child on loopback, of either line.
 *
 * Used by the capture tool, the end-to-end tests and the CLI's owned server.
 * The binary comes from the `opencode-ai` npm package, the cache or PATH; the
 * password, when there is one, is passed only through the child's environment.
 * 1.x is ready when `/global/health` answers; 2.x serves everything under
 * `/api/*` (its 1.x routes answer the web app's HTML) and always asks for Basic
 * auth, so a 2.x server always gets a password (generated when none is given)
 * and is ready when `GET /api/info` answers `{version}`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { basicAuth } from "../adapter/http.js";
import { chooseOpencodeBinary, opencodeLine, type OpencodeLine } from "./install.js";
import { startReaper } from "./reaper.js";

export interface ManagedServerOptions {
  /** Path of the `opencode` binary; see `chooseOpencodeBinary` for what is used without it. */
  readonly binary?: string;
  /** Working directory of the child (the project directory it serves by default). */
  readonly cwd: string;
  /** Extra environment; merged over process.env. */
  readonly env?: Readonly<Record<string, string>>;
  /** The Basic-auth password (user `opencode`). 2.x always needs one: one is generated when none is given. */
  readonly password?: string;
  /**
   * Which line the binary is. Default: read from its path when it is a cached or
   * npm-installed package (`opencode-ai` → 1, `@opencode/cli-*` → 2), else from `opencode --version`.
   */
  readonly line?: OpencodeLine;
  readonly port?: number;
  /** How long to wait for the server to answer (`/global/health` on 1.x, `/api/info` on 2.x). */
  readonly readyTimeoutMs?: number;
  /** Called with each chunk of the child's stderr/stdout (it logs there). */
  readonly onOutput?: (chunk: string) => void;
  /**
   * Stop the server when this process dies, however it dies (see reaper.ts).
   * Default true; false leaves a server that outlives its starter.
   */
  readonly reaper?: boolean;
}

export interface ManagedServer {
  readonly url: string;
  readonly version: string;
  /** The line started (1: `/global/health`, `/event`; 2: `/api/*`). */
  readonly line: OpencodeLine;
  /** The Basic-auth password (user `opencode`) a client must send; undefined: the server asks for none. */
  readonly password: string | undefined;
  readonly pid: number | undefined;
  readonly child: ChildProcess;
  stop(graceMs?: number): Promise<void>;
}

export class ManagedServerError extends Error {
  constructor(
    message: string,
    readonly code: "binary_not_found" | "not_ready" | "exited",
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ManagedServerError";
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How much of a failed server's output its error message quotes. */
const TAIL_CHARS = 2_000;

/** The last line `BINARY --version` prints, bounded to 10 s; undefined when it does not answer. */
export function binaryVersion(binary: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = "";
    const child = spawn(binary, ["--version"], { stdio: ["ignore", "pipe", "ignore"], env: { ...env } as NodeJS.ProcessEnv });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.once("error", () => resolve(undefined));
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? out.trim().split("\n").pop() : undefined);
    });
  });
}

/** The line of a binary: from its package path when it has one, else from what `--version` prints. */
export async function binaryLine(binary: string): Promise<OpencodeLine> {
  if (/[\\/]@opencode[\\/]cli-[^\\/]+[\\/]/.test(binary)) return 2;
  if (/[\\/]opencode-ai[\\/]|[\\/]opencode-[a-z]+-[a-z0-9]+[\\/]/.test(binary)) return 1;
  const version = /(\d+)\.\d+\.\d+/.exec((await binaryVersion(binary)) ?? "")?.[0];
  return version === undefined ? 1 : opencodeLine(version);
}

/** Readiness: the server's version once it answers at `ready`; throws why not yet. */
async function probe(url: string, ready: string, line: OpencodeLine, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${url}${ready}`, { headers, signal: AbortSignal.timeout(1_000) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const body = (await res.json().catch(() => undefined)) as { version?: unknown } | undefined;
  // 2.x answers its web app's HTML on 1.x routes; a 1.x server has no /api/info: neither has a JSON `version`.
  if (line === 2 && typeof body?.version !== "string") throw new Error("/api/info did not answer {version}");
  return String(body?.version ?? "unknown");
}

export async function startManagedServer(opts: ManagedServerOptions): Promise<ManagedServer> {
  const binary = opts.binary ?? chooseOpencodeBinary().binary;
  const line = opts.line ?? (await binaryLine(binary));
  const password = opts.password ?? (line === 2 ? randomBytes(24).toString("base64url") : undefined);
  const ready = line === 2 ? "/api/info" : "/global/health";
  const port = opts.port ?? (await freePort());
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...(opts.env ?? {}) };
  if (password !== undefined) env.OPENCODE_SERVER_PASSWORD = password;
  else delete env.OPENCODE_SERVER_PASSWORD;
  const child = spawn(binary, ["serve", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: opts.cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: some opencode-ai versions start the server through a
    // launcher script, and stopping must reach the real server too.
    detached: true,
  });
  const releaseReaper = child.pid !== undefined && opts.reaper !== false ? startReaper(child.pid) : undefined;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  child.once("error", (err) => (spawnError = err));
  child.once("exit", (code, signal) => {
    exited = { code, signal };
    // The reaper then stops whatever is left of the group (a launcher's real server) and exits.
    releaseReaper?.();
  });
  // The last few KiB of what the server printed: a server that fails to start says why there.
  let tail = "";
  const keep = (c: string) => {
    tail = (tail + c).slice(-TAIL_CHARS);
    opts.onOutput?.(c);
  };
  const outputClosed = new Promise<void>((r) => child.once("close", () => r()));
  child.stdout?.setEncoding("utf8").on("data", keep);
  child.stderr?.setEncoding("utf8").on("data", keep);
  const said = () => {
    // Without its colours: the message is read in logs and terminals alike.
    // eslint-disable-next-line no-control-regex -- ANSI colour sequences start with ESC
    const t = tail.replace(/\x1b\[[0-9;]*m/g, "").trim();
    return t === "" ? " (it printed nothing)" : `; its last output:\n${t}`;
  };

  const url = `http://127.0.0.1:${port}`;
  const auth = basicAuth(undefined, password);
  const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (spawnError) {
      throw new ManagedServerError(`could not start ${binary}: ${spawnError.message}`, "binary_not_found", {
        cause: spawnError,
      });
    }
    if (exited) {
      // Let its last output arrive: the pipes close just after the exit.
      await Promise.race([outputClosed, sleep(1_000)]);
      throw new ManagedServerError(
        `opencode serve exited before it was ready (code ${exited.code}, signal ${exited.signal})${said()}`,
        "exited",
      );
    }
    try {
      return {
        url,
        version: await probe(url, ready, line, headers),
        line,
        password,
        pid: child.pid,
        child,
        stop: (graceMs = 3_000) => stopChild(child, graceMs),
      };
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  await stopChild(child, 1_000);
  throw new ManagedServerError(
    `opencode serve did not answer ${ready} within ${opts.readyTimeoutMs ?? 20_000} ms (last: ${String(lastError)})${said()}`,
    "not_ready",
  );
}

/** Signal the child's whole process group (it was started detached, as its leader); false when the group is gone. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals | 0): boolean {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
    return child.pid !== undefined;
  } catch {
    if (signal !== 0) child.kill(signal);
    return false;
  }
}

/**
 * TERM to the child's process group (an opencode serve, an ACP agent), then KILL after
 * graceMs. Resolves once the child has exited and its group is gone.
 */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    signalGroup(child, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child, "SIGKILL"), graceMs);
    await done;
    clearTimeout(timer);
  }
  // What it started may outlive it (a launcher that exited and left the server behind, Claude Code's
  // `claude`: the group keeps the id): make sure, and wait until the group is gone (a killed process
  // lingers until its parent reaps it).
  signalGroup(child, "SIGKILL");
  for (let i = 0; i < 100 && signalGroup(child, 0); i++) await sleep(20);
}
