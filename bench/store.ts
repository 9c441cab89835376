/**
 * The PostgreSQL store (`serve --store`) against the file journal (`serve
 * --state-dir`, the default), in the same run on the same machine: N = 1, 10, 100
 * concurrent turns through the daemon to an SSE subscriber each (bench/daemon.ts,
 * once with the journal, once with `--store`: a local PostgreSQL, fsync and
 * synchronous commit on), replies/s and the latency each adds over the adapter
 * in-process; then the journal's cost per turn end with 200 MiB of retained turns
 * (bench/store-journal.ts).
 *
 *   npx tsx bench/store.ts [--sessions 1,10,100] [--rounds 2]   (part of `npm run bench`; writes bench/results/store.json)
 *
 * Webhooks are left out (`--no-webhook`): the store changes what happens before a
 * reply is published (its row committed), which SSE subscribers show; the webhook
 * takes the same published replies after that.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RESULTS, int, round, writeResult } from "./lib/stats.js";

const { values } = parseArgs({ options: { sessions: { type: "string" }, rounds: { type: "string" } } });
const SESSIONS = values.sessions ?? "1,10,100";
const ROUNDS = values.rounds ?? "2";
/** Our target: the store keeps at least this share of the journal's SSE replies/s at N <= 10. */
const TARGET_RATIO = 0.5;

function run(script: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, script), ...args], { stdio: "inherit" });
    child.once("error", () => resolve(-1));
    child.once("exit", (code) => resolve(code));
  });
}

interface Row {
  sessions: number;
  daemon_sse_replies_per_s: number;
  adapter_replies_per_s: number;
  ratio_daemon_over_adapter: number;
  added_sse_ms: { p50: number; p99: number };
}
const read = (f: string): { rows: Row[] } | undefined => (existsSync(join(RESULTS, f)) ? JSON.parse(readFileSync(join(RESULTS, f), "utf8")) : undefined);

const common = ["--no-webhook", "--sessions", SESSIONS, "--rounds", ROUNDS];
const codes = [await run("daemon.ts", common), await run("daemon.ts", [...common, "--store"])];
const journal = codes[0] === 0 ? read("daemon-no-webhook.json") : undefined;
const store = codes[1] === 0 ? read("daemon-no-webhook-store.json") : undefined;

const rows = (journal?.rows ?? []).flatMap((j) => {
  const s = store?.rows.find((r) => r.sessions === j.sessions);
  if (!s) return [];
  return [{
    sessions: j.sessions,
    journal_replies_per_s: j.daemon_sse_replies_per_s,
    store_replies_per_s: s.daemon_sse_replies_per_s,
    ratio_store_over_journal: round(s.daemon_sse_replies_per_s / j.daemon_sse_replies_per_s, 2),
    // Each against the adapter in-process of its own run (the floor): on a loaded machine the two runs'
    // absolute rates differ by more than the store does.
    ratio_store_over_journal_vs_floor: round(s.ratio_daemon_over_adapter / j.ratio_daemon_over_adapter, 2),
    journal_added_ms: j.added_sse_ms,
    store_added_ms: s.added_sse_ms,
  }];
});
console.log(`\nstore vs journal (SSE, no webhook), ${ROUNDS} rounds, node ${process.version}`);
for (const r of rows) {
  console.log(
    `N = ${String(r.sessions).padStart(3)}  replies/s journal ${int(r.journal_replies_per_s)}, store ${int(r.store_replies_per_s)} (x${r.ratio_store_over_journal}; x${r.ratio_store_over_journal_vs_floor} each against its run's adapter in-process); added p50/p99 ms journal ${r.journal_added_ms.p50}/${r.journal_added_ms.p99}, store ${r.store_added_ms.p50}/${r.store_added_ms.p99}`,
  );
}
const targets = rows
  .filter((r) => r.sessions <= 10)
  .map((r) => ({
    target: `store: SSE replies/s at N = ${r.sessions} >= ${TARGET_RATIO} x journal (each against its run's adapter in-process)`,
    value: r.ratio_store_over_journal_vs_floor,
    pass: r.ratio_store_over_journal_vs_floor >= TARGET_RATIO,
  }));
for (const x of targets) console.log(`${x.pass ? "PASS" : "MISS"}  ${x.target}: ${x.value}`);
if (codes.some((c) => c !== 0)) console.error(`bench/store: the daemon benchmark failed (journal exit ${codes[0]}, store exit ${codes[1]})`);

const stall = await run("store-journal.ts", []);
writeResult("store.json", { node: process.version, date: new Date().toISOString(), rounds: Number(ROUNDS), rows, targets });
process.exitCode = codes.every((c) => c === 0) && stall === 0 ? 0 : 1;
