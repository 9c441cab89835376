/**
 * An `opencode serve` the bridge owns: started on a free loopback port with a
 * generated password (passed only through the child's environment), checked
 * through /global/health, restarted when it has died by the next time it is
 * needed, and stopped with TERM then KILL.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { startManagedServer, type ManagedServer, type ManagedServerOptions } from "./managed.js";

/**
 * What it passes on to each start (`line`: known when the binary was chosen by
 * version, else found from the binary; `readyTimeoutMs`: default 30 s here), its
 * project directory and its logger.
 */
export type OwnedServerOptions = Pick<ManagedServerOptions, "binary" | "line" | "env" | "readyTimeoutMs"> & {
  readonly directory: string;
  readonly logger?: Logger;
};

export class OwnedServer {
  readonly password = randomBytes(24).toString("base64url");
  private server: ManagedServer | undefined;
  private starting: Promise<ManagedServer> | undefined;
  restarts = 0;

  constructor(private readonly opts: OwnedServerOptions) {}

  /** The running server, started (or restarted) if needed. */
  async ensure(): Promise<ManagedServer> {
    const s = this.server;
    if (s && s.child.exitCode === null && s.child.signalCode === null) return s;
    if (s) {
      this.restarts++;
      this.opts.logger?.warn({ code: s.child.exitCode, signal: s.child.signalCode }, "opencode serve exited: restarting");
    }
    this.starting ??= startManagedServer({
      binary: this.opts.binary,
      ...(this.opts.line !== undefined ? { line: this.opts.line } : {}),
      cwd: this.opts.directory,
      env: this.opts.env,
      password: this.password,
      readyTimeoutMs: this.opts.readyTimeoutMs ?? 30_000,
      onOutput: (chunk) => this.opts.logger?.debug({ opencode: chunk.trimEnd() }, "opencode output"),
    }).finally(() => {
      this.starting = undefined;
    });
    this.server = await this.starting;
    this.opts.logger?.info({ url: this.server.url, version: this.server.version, pid: this.server.pid }, "opencode serve ready");
    return this.server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.stop();
  }
}
