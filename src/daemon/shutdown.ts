/** The daemon's bounded shutdown, and what it did not finish. */
import type { Server } from "node:http";
import type { DaemonCore } from "./core.js";

/** What a bounded shutdown did not finish, for the log and /metrics. */
export interface ShutdownReport {
  /** Turns that had not settled when the deadline came (the journal keeps them for the next start). */
  turnsUnsettled: number;
  /** Steps cut short: "turns", "adapters", "outputs", "listener", "opencode". */
  stepsCutShort: string[];
}

const delay = (ms: number) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, Math.max(0, ms));
    t.unref();
  });

/** Waits for `p` at most until `deadline` (performance.now() ms); resolves whether it settled in time. */
const within = (p: Promise<unknown>, deadline: number): Promise<boolean> =>
  Promise.race([p.then(
    () => true,
    () => true,
  ), delay(deadline - performance.now()).then(() => false)]);

/** Aborts every running turn now. */
export function abortRunningTurns(core: DaemonCore, reason: string): void {
  for (const t of core.store.running()) {
    core.log.warn({ trace_id: t.traceId, reason }, "aborting the turn");
    t.controller.abort();
  }
}

/**
 * Bounded: running turns get `shutdownGraceMs`; then everything else —
 * aborting what still runs, closing adapters and outputs (the webhook's own
 * close timeout), the listener, an owned OpenCode — shares `closeTimeoutMs`,
 * step by step, whatever peers do. What did not finish is counted and logged.
 */
export async function shutdownDaemon(core: DaemonCore, server: Server | undefined, reason: string): Promise<ShutdownReport> {
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
    abortRunningTurns(core, `still running after the ${core.options.shutdownGraceMs} ms shutdown grace`);
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
  return report;
}

/**
 * For a second signal: the process is about to exit. Logs what is given up;
 * the journal (synced here) keeps it for the next start. An owned OpenCode is killed.
 */
export function exitAtOnce(core: DaemonCore, reason: string): void {
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
