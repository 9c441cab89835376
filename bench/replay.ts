/**
 * Replay throughput against the parse floor, on the same bytes in the same run.
 *
 *   npm run bench:replay     (writes bench/results/replay.json; part of `npm run bench`)
 *
 * floor:  eventsource-parser + JSON.parse of every frame, nothing else;
 * bridge: the whole replay pipeline — UTF-8 decoding, SSE framing with the frame
 *         cap, JSON.parse, zod validation of the events the codec reads, the
 *         codec, reply objects collected.
 * Both consume the captured fixtures in 16 KiB chunks. Rounds alternate between
 * the two so that machine noise hits both; the median round counts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createParser } from "eventsource-parser";
import { replaySync } from "../src/codec/replay.js";
import { loadFixtures } from "../test/support/fixtures.js";

const CHUNK = 16 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const TARGET_MS = Number(process.env.BENCH_ROUND_MS ?? 250);

interface Corpus {
  name: string;
  files: Uint8Array[][];
  bytes: number;
  events: number;
}

function chunked(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < buf.length; i += CHUNK) out.push(buf.subarray(i, i + CHUNK));
  return out;
}

function floorOnce(files: Uint8Array[][]): number {
  let n = 0;
  for (const chunks of files) {
    const decoder = new TextDecoder();
    const parser = createParser({
      onEvent: (e) => {
        JSON.parse(e.data);
        n++;
      },
    });
    for (const c of chunks) parser.feed(decoder.decode(c, { stream: true }));
  }
  return n;
}

function bridgeOnce(files: Uint8Array[][]): number {
  let n = 0;
  for (const chunks of files) n += replaySync(chunks, { traceId: "bench" }).replies.length;
  return n;
}

function timeRound(fn: () => number, iterations: number): number {
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < iterations; i++) sink += fn();
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink < 0) console.log(sink);
  return ns / iterations;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const fixtures = loadFixtures();
const corpora: Corpus[] = [
  { name: "long turn (1,200 deltas, 1.18.33)", picked: fixtures.filter((f) => f.name === "1.18.33/long") },
  { name: "all fixtures, all versions", picked: fixtures },
].map(({ name, picked }) => {
  const files = picked.map((f) => chunked(f.sse));
  return {
    name,
    files,
    bytes: picked.reduce((a, f) => a + f.sse.length, 0),
    events: floorOnce(files),
  };
});

const results = corpora.map((c) => {
  // Calibrate iterations so one round takes about TARGET_MS on the floor.
  const one = timeRound(() => floorOnce(c.files), 3);
  const iterations = Math.max(1, Math.round((TARGET_MS * 1e6) / one));
  for (let i = 0; i < 3; i++) {
    floorOnce(c.files);
    bridgeOnce(c.files);
  }
  const floor: number[] = [];
  const bridge: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    floor.push(timeRound(() => floorOnce(c.files), iterations));
    bridge.push(timeRound(() => bridgeOnce(c.files), iterations));
  }
  const f = median(floor);
  const b = median(bridge);
  return {
    corpus: c.name,
    bytes: c.bytes,
    events: c.events,
    floor_events_per_s: Math.round((c.events * 1e9) / f),
    bridge_events_per_s: Math.round((c.events * 1e9) / b),
    floor_mb_per_s: +((c.bytes * 1e3) / f).toFixed(1),
    bridge_mb_per_s: +((c.bytes * 1e3) / b).toFixed(1),
    ratio_bridge_over_floor: +(f / b).toFixed(3),
  };
});

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`replay throughput, median of ${ROUNDS} rounds, node ${process.version}, 16 KiB chunks`);
console.log(`${"corpus".padEnd(38)}${pad("events", 8)}${pad("floor ev/s", 13)}${pad("bridge ev/s", 13)}${pad("bridge/floor", 14)}`);
for (const r of results) {
  console.log(
    `${r.corpus.padEnd(38)}${pad(r.events, 8)}${pad(r.floor_events_per_s.toLocaleString("en"), 13)}${pad(
      r.bridge_events_per_s.toLocaleString("en"),
      13,
    )}${pad(r.ratio_bridge_over_floor.toFixed(2), 14)}`,
  );
}
const out = join(import.meta.dirname, "results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "replay.json"), `${JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2)}\n`);
