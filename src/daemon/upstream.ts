/**
 * The OpenCode server behind the daemon: one given by URL (`--opencode-url`),
 * or an `opencode serve` the daemon starts and owns. Either way the daemon asks
 * for a target (URL and credentials) before each turn — an owned server that
 * has died is restarted then, possibly on another port.
 */
import type { Logger } from "pino";
import type { DaemonCore } from "./core.js";
import { isSupportedVersion } from "../adapter/prompt-options.js";
import type { Line } from "../adapter/dialect.js";
import { createDialect, KnownLine } from "../adapter/line.js";
import type { ManagedServer } from "../server/managed.js";
import { OwnedServer, type OwnedServerOptions } from "../server/owned.js";
import { backoffDelay } from "../util/backoff.js";
import { errorMessage } from "../util/errors.js";

export interface OpencodeTarget {
  readonly baseUrl: string;
  readonly username?: string;
  readonly password?: string;
  /** The line of a server the daemon started (it knows what it started); unset: found at connect time. */
  readonly line?: Line;
}

export interface UpstreamHealth {
  /** An OpenCode server given by URL or owned by the daemon, or an ACP agent (./acp.ts). */
  readonly mode: "external" | "owned" | "acp";
  readonly healthy: boolean;
  readonly version?: string;
  /** Which OpenCode line the server is (1 or 2), found by asking it. */
  readonly line?: Line;
  /** Whether the bridge supports that version. */
  readonly supported?: boolean;
  readonly error?: string;
  /** ACP: the agent command, and the agent's name from its last `initialize` (version above). */
  readonly command?: string;
  readonly agent?: string;
}

export interface Upstream {
  readonly mode: UpstreamHealth["mode"];
  /** Where to send the next turn (an owned server is started or restarted here). */
  target(): Promise<OpencodeTarget>;
  /** Asks OpenCode for its line and version (createDialect: /api/info or /global/health); never throws. */
  health(timeoutMs: number): Promise<UpstreamHealth>;
  /** Restarts of an owned server (none for an external one). */
  restarts?(): number;
  stop(): Promise<void>;
  /** Given the daemon once it is built (an ACP upstream makes its adapters with the daemon's settings and reply path). */
  attach?(core: DaemonCore): void;
  /** Idle sessions' adapters to keep at most, when fewer than the daemon's `maxIdleSessions` (an ACP agent process each). */
  readonly maxIdle?: number;
  /** Kills an owned server at once (the process is about to exit); nothing for an external one. */
  kill?(): void;
}

async function probe(mode: "external" | "owned", target: OpencodeTarget | undefined, directory: string, timeoutMs: number): Promise<UpstreamHealth> {
  if (!target) return { mode, healthy: false, error: "not started" };
  try {
    // A health check has the caller's own bound.
    const { healthy, version, line } = await createDialect({ ...target, directory, requestTimeoutMs: timeoutMs }).info();
    return { mode, healthy, version, line, supported: isSupportedVersion(version) };
  } catch (err) {
    return { mode, healthy: false, error: errorMessage(err) };
  }
}

/**
 * An OpenCode server someone else runs. Its line, once found, is given with the
 * target (src/adapter/line.ts `KnownLine`): a turn's session and adapter are made
 * for that line without asking the server again.
 */
export class ExternalUpstream implements Upstream {
  readonly mode = "external";
  private readonly line: KnownLine;

  constructor(
    private readonly t: OpencodeTarget,
    private readonly directory: string,
  ) {
    this.line = new KnownLine({ ...t, directory });
  }

  target(): Promise<OpencodeTarget> {
    const line = this.line.get();
    return Promise.resolve(line === undefined ? this.t : { ...this.t, line });
  }

  async health(timeoutMs: number): Promise<UpstreamHealth> {
    const h = await probe(this.mode, this.t, this.directory, timeoutMs);
    this.line.set(h.line);
    return h;
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * An `opencode serve` on a free loopback port with a generated password, owned
 * by the daemon. The daemon watches the child: when it dies, `/healthz` says so
 * at once and a restart begins right away (retried with backoff: 1 s doubling to
 * 30 s), without waiting for the next turn.
 */
export class OwnedUpstream implements Upstream {
  readonly mode = "owned";
  private readonly server: OwnedServer;
  private last: OpencodeTarget | undefined;
  private current: ManagedServer | undefined;
  /** Why the server is down, while it is. */
  private down: string | undefined;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private failedRestarts = 0;

  constructor(
    private readonly opts: OwnedServerOptions & { readonly logger?: Logger },
  ) {
    this.server = new OwnedServer(opts);
  }

  async target(): Promise<OpencodeTarget> {
    const s = await this.server.ensure();
    this.last = { baseUrl: s.url, password: this.server.password, line: s.line };
    if (s !== this.current) this.watch(s);
    return this.last;
  }

  health(timeoutMs: number): Promise<UpstreamHealth> {
    if (this.down !== undefined) return Promise.resolve({ mode: this.mode, healthy: false, error: this.down });
    return probe(this.mode, this.last, this.opts.directory, timeoutMs);
  }

  restarts(): number {
    return this.server.restarts;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.server.stop();
  }

  kill(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.current?.child.kill("SIGKILL");
  }

  private watch(s: ManagedServer): void {
    this.current = s;
    this.down = undefined;
    this.failedRestarts = 0;
    s.child.once("exit", (code, signal) => {
      if (this.stopped || this.current !== s) return;
      this.down = `opencode serve exited (${signal ?? `code ${code}`}); restarting it`;
      this.opts.logger?.warn({ code, signal }, "opencode serve died: restarting it now");
      this.restartSoon(0);
    });
  }

  private restartSoon(delayMs: number): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.target().catch((err: unknown) => {
        this.failedRestarts++;
        const next = backoffDelay({ initialDelayMs: 1_000, maxDelayMs: 30_000, factor: 2, jitter: "equal" }, this.failedRestarts);
        this.down = `opencode serve could not be restarted (${errorMessage(err)}); retrying in ${Math.round(next / 1000)} s`;
        this.opts.logger?.error({ err, retry_ms: next }, "could not restart opencode serve");
        this.restartSoon(next);
      });
    }, delayMs);
  }
}
