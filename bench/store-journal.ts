/**
 * The journal's cost per turn end with 200 MiB of retained turns (issue 21: "200 MiB
 * of retained turns cost no per-turn stall above 50 ms"), against the same turns
 * with almost nothing retained (the floor, same run, same machine).
 *
 *   npx tsx bench/store-journal.ts      (writes bench/results/store-journal.json)
 *
 * 130 turns of 2 MiB (128 reply records of 16 KiB each), 100 retained (200 MiB on
 * disk) vs 1 retained; per turn end: wall time (what the event loop stalls) and the
 * process's own CPU time; per reply record: wall time. The periodic sync gets its
 * turn between turns, as in a daemon.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Reply } from "../src/codec/reply.js";
import { Journal } from "../src/daemon/journal.js";
import { percentile, round, writeResult } from "./lib/stats.js";

const TURNS = 130;
const CHUNK = "z".repeat(16 * 1024);
const PER_TURN = 2 * 1024 * 1024;
const STALL_TARGET_MS = 50;

const delta = (trace: string, seq: number): Reply => ({ kind: "delta", trace_id: trace, session_id: "ses_1", seq, content: CHUNK, part_id: "prt_1" });

interface Run {
  readonly retained: number;
  readonly end_p50_ms: number;
  readonly end_p99_ms: number;
  readonly end_max_ms: number;
  readonly end_cpu_max_ms: number;
  readonly reply_p99_ms: number;
}

async function run(keepFinished: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "bench-journal-"));
  try {
    const j = new Journal(dir, { keepFinished, maxBytes: 64 << 20, syncIntervalMs: 200, onError: (e) => { throw e; } });
    j.open();
    const ends: number[] = [];
    const cpu: number[] = [];
    const replies: number[] = [];
    for (let n = 0; n < TURNS; n++) {
      const id = `id-${n}`;
      j.turn(id, `t${n}`, "ses_1", "/p", n);
      for (let seq = 0; seq * CHUNK.length < PER_TURN; seq++) {
        const t0 = performance.now();
        j.reply(id, delta(`t${n}`, seq));
        replies.push(performance.now() - t0);
      }
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      j.end(id, "final");
      ends.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      await new Promise((r) => setImmediate(r));
    }
    j.close();
    return {
      retained: keepFinished,
      end_p50_ms: round(percentile(ends, 50), 2),
      end_p99_ms: round(percentile(ends, 99), 2),
      end_max_ms: round(Math.max(...ends), 2),
      end_cpu_max_ms: round(Math.max(...cpu), 2),
      reply_p99_ms: round(percentile(replies, 99), 3),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const floor = await run(1);
const retained = await run(100);
const targets = [
  { target: `journal: turn end p99 with 200 MiB retained <= ${STALL_TARGET_MS} ms`, value: retained.end_p99_ms, pass: retained.end_p99_ms <= STALL_TARGET_MS },
];
for (const r of [floor, retained]) {
  console.log(
    `journal ${String(r.retained).padStart(3)} turns of 2 MiB retained: turn end p50/p99/max ${r.end_p50_ms}/${r.end_p99_ms}/${r.end_max_ms} ms (own CPU max ${r.end_cpu_max_ms} ms); reply record p99 ${r.reply_p99_ms} ms`,
  );
}
console.log(`journal: turn end p99 200 MiB retained / 2 MiB retained x${round(retained.end_p99_ms / Math.max(floor.end_p99_ms, 0.01), 2)}`);
for (const x of targets) console.log(`${x.pass ? "PASS" : "MISS"}  ${x.target}: ${x.value}`);
writeResult("store-journal.json", { node: process.version, date: new Date().toISOString(), floor, retained, targets });
