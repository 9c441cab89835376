/**
 * The bridge as an HTTP daemon (node:http, no framework). See docs/daemon.md;
 * its routes and their handlers are the one table `ROUTES` in ./routes.ts.
 *
 * Every turn's replies go to the event subscribers and to the configured
 * outputs (webhook, JSON Lines …) through ./reply-path.ts. Turns run in the
 * background (./run.ts), one adapter per OpenCode session: turns of one session
 * are serialized, sessions run in parallel. This file holds the lifecycle:
 * start (after recovering the journal, ./recovery.ts), shutdown (./shutdown.ts).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DaemonCore } from "./core.js";
import type { DaemonOptions, DaemonOptionsInput } from "./options.js";
import { recoverJournal, resumeRecovered } from "./recovery.js";
import { handleRequest } from "./routes.js";
import { abortRunningTurns, exitAtOnce, shutdownDaemon, type ShutdownReport } from "./shutdown.js";

export type { ShutdownReport } from "./shutdown.js";

export class BridgeDaemon {
  readonly options: DaemonOptions;
  private readonly core: DaemonCore;
  /** Set once a shutdown has ended: what it gave up. */
  shutdownReport: ShutdownReport | undefined;
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;
  private resolveStopped!: () => void;
  /** Resolves once shutdown has finished. */
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(input: DaemonOptionsInput) {
    this.core = new DaemonCore(input);
    this.options = this.core.options;
  }

  /** Listens; resolves with the address. */
  async start(): Promise<{ url: string; host: string; port: number }> {
    const core = this.core;
    if (core.auth === undefined) {
      core.log.warn("running without a token (--no-token): every local process, and every user of this machine, can start turns");
    }
    // A shared store: its tables made when missing, its notifications listened to, before any request.
    await core.shared?.open();
    const recovered = core.journal ? recoverJournal(core, core.journal) : undefined;
    const server = createServer((req, res) => {
      core.guests?.request(req.socket, res);
      void handleRequest(core, req, res);
    });
    server.maxConnections = this.options.maxConnections;
    server.on("connection", (socket) => {
      core.guests?.admit(socket);
      core.connections++;
      socket.once("close", () => core.connections--);
    });
    // These bound receiving a request (slow clients), not answering it: an event
    // stream stays open for the length of its turn.
    server.requestTimeout = 60_000;
    server.headersTimeout = 30_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    const url = `http://${host}:${addr.port}`;
    core.log.info({ url, opencode: core.upstream.mode, auth: core.auth ? "bearer" : "none", state_dir: this.options.stateDir }, "listening");
    if (recovered) void resumeRecovered(core, recovered);
    // Leases renewed and turns whose owner died claimed, from now on.
    core.shared?.start();
    return { url, host: addr.address, port: addr.port };
  }

  /**
   * Graceful shutdown: new turns get 503; running turns get `shutdownGraceMs` to
   * finish, then are aborted; adapters and outputs are flushed and closed, the
   * listener is closed and an owned OpenCode is stopped. Idempotent.
   */
  shutdown(reason = "shutdown"): Promise<void> {
    this.stopping ??= this.doShutdown(reason).finally(() => this.resolveStopped());
    return this.stopping;
  }

  /**
   * For a second signal: the process is about to exit. Logs what is given up;
   * the journal (synced here) keeps it for the next start. An owned OpenCode is killed.
   */
  exitNow(reason: string): void {
    exitAtOnce(this.core, reason);
  }

  /** Aborts every running turn now. */
  abortAll(reason: string): void {
    abortRunningTurns(this.core, reason);
  }

  private async doShutdown(reason: string): Promise<void> {
    const report = await shutdownDaemon(this.core, this.server, reason);
    this.shutdownReport = report;
    const outputs = this.core.sinkMetrics();
    if (report.stepsCutShort.length > 0) {
      // Gave up on what did not finish in time; the journal keeps unfinished turns and unacknowledged replies.
      this.core.log.warn({ turns_unsettled: report.turnsUnsettled, cut_short: report.stepsCutShort, outputs }, "stopped");
    } else {
      this.core.log.info({ outputs }, "stopped");
    }
  }
}
