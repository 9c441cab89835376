/**
 * `npm run bench`: every benchmark, one after another, each in its own node
 * process (so one's heap and JIT state do not colour the next), then a summary
 * of the targets. Misses are reported, not failures: the run exits 0 unless a
 * benchmark failed (crashed, or the bridge produced wrong replies).
 *
 *   replay      in-process replay of the fixtures vs the parse floor (bench/replay.ts)
 *   stream      loopback /event: floor vs @opencode-ai/sdk vs bridge, throughput and latency
 *   scale       1 … 1,000 concurrent sessions on one stream; memory per idle session
 *   long-turn   a 1,000,000-delta turn: memory (three variants)
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { RESULTS, int, round, writeResult } from "./lib/stats.js";

const started = performance.now();
const BENCH = import.meta.dirname;
const load0 = loadavg();

interface Step {
  readonly name: string;
  readonly script: string;
  readonly args?: string[];
  readonly gc?: boolean;
}
const CAP16 = String(16 * 1024 * 1024);
const steps: Step[] = [
  { name: "replay", script: "replay.ts" },
  { name: "stream", script: "stream.ts" },
  { name: "scale", script: "scale.ts", gc: true },
  { name: "long-turn codec", script: "long-turn.ts", args: ["--listener", "codec"], gc: true },
  { name: "long-turn codec, 16 MiB frame cap", script: "long-turn.ts", args: ["--listener", "codec", "--max-frame-bytes", CAP16], gc: true },
  // The adapter recovers an oversized final frame from the server's record (test/adapter.test.ts);
  // this benchmark's stand-in server keeps no record, so the adapter runs with the larger cap.
  { name: "long-turn adapter, 16 MiB frame cap", script: "long-turn.ts", args: ["--listener", "adapter", "--max-frame-bytes", CAP16], gc: true },
];

function runStep(s: Step): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  const argv = [...(s.gc ? ["--expose-gc"] : []), "--import", "tsx", join(BENCH, s.script), ...(s.args ?? [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { stdio: "inherit" });
    child.once("error", () => resolve({ code: -1, ms: performance.now() - t0 }));
    child.once("exit", (code) => resolve({ code, ms: performance.now() - t0 }));
  });
}

// Results of an earlier run must not pass for this run's (only this script's own files:
// other tools write into bench/results too).
const OURS = /^(replay|stream|scale|summary|long-turn-.+)\.json$/;
if (existsSync(RESULTS)) for (const f of readdirSync(RESULTS)) if (OURS.test(f)) rmSync(join(RESULTS, f));

const ran: { name: string; exit: number | null; seconds: number }[] = [];
for (const s of steps) {
  console.log(`\n=== ${s.name} ===`);
  const r = await runStep(s);
  ran.push({ name: s.name, exit: r.code, seconds: round(r.ms / 1000, 1) });
  if (r.code !== 0) console.error(`bench: ${s.name} failed (exit ${r.code})`);
}

// ---- summary -------------------------------------------------------------------
const read = (f: string): any => (existsSync(join(RESULTS, f)) ? JSON.parse(readFileSync(join(RESULTS, f), "utf8")) : undefined);
const stream = read("stream.json");
const replay = read("replay.json");
const scale = read("scale.json");
const longs = ["codec-cap1024k", "codec-cap16384k", "adapter-cap16384k"].map((v) => ({ v, r: read(`long-turn-${v}.json`) }));
const failed = ran.filter((r) => r.exit !== 0);
const total = (performance.now() - started) / 1000;

console.log(`\n=== summary: node ${process.version}, ${cpus().length} cores, load average ${load0[0]?.toFixed(2)} at start, ${loadavg()[0]?.toFixed(2)} at end ===`);
if (replay && !failed.some((f) => f.name === "replay")) {
  for (const r of replay.results) console.log(`replay (in-process)  ${r.corpus}: bridge/floor ${r.ratio_bridge_over_floor.toFixed(2)}`);
}
if (stream && !failed.some((f) => f.name === "stream")) {
  const t = stream.throughput;
  console.log(
    `loopback events/s   floor ${int(t.floor.events_per_s)}, SDK ${int(t.sdk.events_per_s)}, bridge ${int(t.bridge.events_per_s)}, adapter Turn ${int(t.adapter.events_per_s)}`,
  );
  console.log(
    `latency p50/p99 ms  floor ${stream.latency.floor.p50_ms.toFixed(3)}/${stream.latency.floor.p99_ms.toFixed(3)}, SDK ${stream.latency.sdk.p50_ms.toFixed(3)}/${stream.latency.sdk.p99_ms.toFixed(3)}, bridge ${stream.latency.bridge.p50_ms.toFixed(3)}/${stream.latency.bridge.p99_ms.toFixed(3)}`,
  );
  for (const x of stream.targets) console.log(`${x.pass ? "PASS" : "MISS"}  ${x.target}: ${x.value}`);
}
if (scale && !failed.some((f) => f.name === "scale")) {
  for (const g of scale.growth) {
    const rows = scale.rows.filter((r: any) => r.version === g.version);
    console.log(
      `scale ${g.version}      ns/event at ${rows.map((r: any) => `${int(r.sessions)}: ${int(r.bridge_ns_per_event)}`).join(", ")} sessions (x${g.bridge_cost_growth.toFixed(2)} from ${g.from} to ${g.to})`,
    );
  }
  for (const m of scale.idle_memory) console.log(`idle session         ${m.listener === "codec" ? "codec listener" : "adapter Turn"}, ${int(m.sessions)} sessions: ${int(m.bytes_per_session)} B each`);
}
for (const { v, r } of longs) {
  if (!r) continue;
  const term = r.terminal.kind === "error" ? `error ${r.terminal.code}` : r.terminal.kind;
  console.log(
    `long turn ${v.padEnd(17)} ${int(r.deltas)} deltas: heap ${r.before.heap_mb} → ${r.after.heap_mb} MB (${r.heap_growth_bytes_per_answer_char} B/answer char), RSS ${r.before.rss_mb} → ${r.after.rss_mb} MB, answer ${int(r.answer_chars)} chars, ends ${term}`,
  );
}
for (const f of failed) console.log(`ERROR  ${f.name} failed (exit ${f.exit})`);
console.log(`total time ${total.toFixed(1)} s (${ran.map((r) => `${r.name} ${r.seconds} s`).join(", ")})`);

writeResult("summary.json", {
  node: process.version,
  date: new Date().toISOString(),
  cores: cpus().length,
  load_average: { start: load0, end: loadavg() },
  steps: ran,
  total_seconds: round(total, 1),
  targets: stream?.targets,
});
process.exitCode = failed.length > 0 ? 1 : 0;
