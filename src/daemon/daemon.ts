/**
 * The bridge as an HTTP daemon (node:http, no framework). See docs/daemon.md;
 * its routes and their handlers are the one table `ROUTES` in ./routes.ts.
 *
 * Every turn's replies go to the event subscribers and to the configured
 * outputs (webhook, JSON Lines …) through ./reply-path.ts. Turns run in the
 * background (./run.ts), one adapter per OpenCode session: turns of one session
 * are serialized, sessions run in parallel. This file holds the lifecycle:
 * start (after recovering the journal, ./recovery.ts) and the bounded shutdown.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DaemonCore } from "./core.js";
import type { DaemonOptions, DaemonOptionsInput } from "./options.js";
import { recoverJournal, resumeRecovered } from "./recovery.js";
import { handleRequest } from "./routes.js";

/** What a bounded shutdown did not finish, for the log and /metrics. */
export interface ShutdownReport {
  /** Turns that had not settled when the deadline came (the journal keeps them for the next start). */
  turnsUnsettled: number;
  /** Steps cut short: "turns", "adapters", "outputs", "listener", "opencode". */
  stepsCutShort: string[];
}

/** Waits for `p` at most until `deadline` (performance.now() ms); resolves whether it settled in time. */
const within = (p: Promise<unknown>, deadline: number): Promise<boolean> =>
  new Promise<boolean>((resolve) => {
    // Unref'd: a deadline alone does not keep the process alive.
    setTimeout(() => resolve(false), Math.max(0, deadline - performance.now())).unref();
    p.then(() => resolve(true), () => resolve(true));
  });

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
    const core = this.core;
    const running = core.store.running();
    core.log.warn(
      { reason, turns_running: running.length, trace_ids: running.slice(0, 20).map((t) => t.traceId), outputs: core.sinkMetrics() },
      "exiting now: running turns and unacknowledged replies are left to the journal",
    );
    try {
      core.journal?.close();
    } catch {
      // Exiting anyway; what was written is in the file.
    }
    core.upstream.kill?.();
    core.pool.kill();
  }

  /** Aborts every running turn now. */
  abortAll(reason: string): void {
    for (const t of this.core.store.running()) {
      this.core.log.warn({ trace_id: t.traceId, reason }, "aborting the turn");
      t.controller.abort();
    }
  }

  /**
   * Bounded: running turns get `shutdownGraceMs`; then everything else —
   * aborting what still runs, closing adapters and outputs (the webhook's own
   * close timeout), the listener, an owned OpenCode — shares `closeTimeoutMs`,
   * step by step, whatever peers do. What did not finish is counted and logged.
   */
  private async doShutdown(reason: string): Promise<void> {
    const core = this.core;
    const server = this.server;
    core.draining = true;
    const running = core.store.running();
    core.log.info({ reason, running: running.length, grace_ms: core.options.shutdownGraceMs, close_timeout_ms: core.options.closeTimeoutMs }, "shutting down");
    const report: ShutdownReport = { turnsUnsettled: 0, stepsCutShort: [] };
    const allDone = () => Promise.all(core.store.running().map((t) => t.done)).then(() => undefined);
    if (running.length > 0) await within(allDone(), performance.now() + core.options.shutdownGraceMs);
    const end = performance.now() + core.options.closeTimeoutMs;
    const step = async (name: string, p: Promise<unknown>, until = end) => {
      if (!(await within(p, until))) report.stepsCutShort.push(name);
    };
    if (core.shared && core.store.running().length > 0) {
      // Several daemons share the turns: those still running are handed over (leases released
      // for another daemon to claim at once), not aborted — OpenCode goes on with them.
      report.turnsUnsettled = await core.shared.handOver();
    } else if (core.store.running().length > 0) {
      this.abortAll(`still running after the ${core.options.shutdownGraceMs} ms shutdown grace`);
      await step("turns", allDone());
      report.turnsUnsettled = core.store.running().length;
    }
    await step("adapters", core.pool.closeAll());
    // ACP agents still stopping are killed (their process groups): none outlives the daemon.
    if (report.stepsCutShort.includes("adapters")) core.pool.kill();
    await step(
      "outputs",
      (async () => {
        try {
          // Replies still in the lanes go to the outputs first, for at most half of what is
          // left of the close timeout (a hung receiver must not use it all); then the outputs
          // close, and what a lane still holds reaches a closed output and counts as its failure.
          await within(core.outputs.idle(), performance.now() + (end - performance.now()) / 2);
          await core.outputs.close();
        } catch (err) {
          core.log.error({ err }, "an output failed to flush or close");
        }
      })(),
    );
    if (server) {
      for (const w of [...core.store.watchers]) w(null); // turn-list streams end: they have no turn to wait for
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await within(closed, Math.min(end, performance.now() + 2_000));
      server.closeAllConnections();
      core.guests?.stop();
      await step("listener", closed, performance.now() + 1_000);
    }
    // An owned OpenCode is stopped with TERM then KILL; it gets what is left of the budget, and at least a second.
    await step(
      "opencode",
      core.upstream.stop().catch((err: unknown) => core.log.error({ err }, "could not stop OpenCode")),
      Math.max(end, performance.now() + 1_000),
    );
    if (report.stepsCutShort.includes("opencode")) core.upstream.kill?.();
    try {
      core.journal?.close();
    } catch (err) {
      core.log.error({ err }, "could not close the journal");
    }
    await step("store", core.shared?.close() ?? Promise.resolve(), Math.max(end, performance.now() + 1_000));
    this.shutdownReport = report;
    const outputs = core.sinkMetrics();
    if (report.stepsCutShort.length > 0) {
      // Gave up on what did not finish in time; the journal keeps unfinished turns and unacknowledged replies.
      core.log.warn({ turns_unsettled: report.turnsUnsettled, cut_short: report.stepsCutShort, outputs }, "stopped");
    } else {
      core.log.info({ outputs }, "stopped");
    }
  }
}
