/**
 * The live path on OpenCode 2.x frames: floor vs opencode-bridge over loopback,
 * on the same bytes, in one process (as bench/stream.ts does for 1.x).
 *
 *   npm run bench:stream-v2        (writes bench/results/stream-v2.json)
 *
 * The stream: the real 2.1.2 long turn (1,200 model chunks, which 2.x coalesces
 * into 20 `session.text.delta` frames) repeated with fresh ids, each repetition
 * interleaved with a real 2.1.2 tool turn and reasoning turn of two other
 * sessions, after one server.connected and the capture's server-wide frames,
 * served as `GET /api/event`. The bridge reads it through the 2.x dialect (the
 * translator of src/codec/v2, then the codec) and every turn's replies are
 * checked against the capture's golden replies. The official SDK is not a
 * contender: `@opencode-ai/sdk`'s client reads 1.x's `/event`, and its "v2"
 * namespace's event route answers 404 on a real 2.1.2 server.
 *
 * Throughput: rounds alternate the contenders after warm-up rounds; medians
 * count, the ratio is the median of per-round ratios. Latency: one repetition
 * paced at one frame per millisecond, handled − written per frame (same clock);
 * for the bridge, over the frames that reach a listener (2.x sends frames the
 * translator turns into no event: their handling time is not observable there).
 */
import { expectedOf, IdMint, spread, toBytes, type Frame, type Template } from "./lib/frames.js";
import { loadTemplateV2, sessionOfInstanceV2 } from "./lib/frames-v2.js";
import { SseServer } from "./lib/sse-server.js";
import { bridge, failures, floor, type BridgeWork, type TurnSpec } from "./lib/consumers.js";
import { int, median, pad, padEnd, percentile, rotate, round, writeResult } from "./lib/stats.js";

const VERSION = "2.1.2";
const REPS = Number(process.env.BENCH_STREAM_REPS ?? 500);
const WARMUP = Number(process.env.BENCH_STREAM_WARMUP ?? 2);
const ROUNDS = Number(process.env.BENCH_STREAM_ROUNDS ?? 7);
const LAT_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 3);
const LAT_SKIP = 20;

const CONTENDERS = ["floor", "bridge", "adapter"] as const;
type Contender = (typeof CONTENDERS)[number];

const long = loadTemplateV2(VERSION, "long");
const others: Template[] = [loadTemplateV2(VERSION, "tool"), loadTemplateV2(VERSION, "reasoning")];
const mint = new IdMint();

function build(reps: number): { frames: Frame[]; work: BridgeWork } {
  const frames: Frame[] = [long.connected, ...long.globals];
  const lanes: TurnSpec[][] = [[], ...others.map(() => [])];
  for (let r = 0; r < reps; r++) {
    const seqs: Frame[][] = [];
    [long, ...others].forEach((t, lane) => {
      const inst = mint.instance(t.turn);
      seqs.push(inst.frames);
      lanes[lane]?.push({ sessionId: sessionOfInstanceV2(t, inst.ids), expected: expectedOf(t) });
    });
    frames.push(...spread(seqs));
  }
  return { frames, work: { lanes, line: 2 } };
}

const server = await SseServer.start();

async function runOnce(c: Contender, work: BridgeWork, expectFrames: number, recv?: Float64Array): Promise<number> {
  const t0 = performance.now();
  let n: number;
  let wrong: () => string[] = () => [];
  if (c === "floor") n = await floor(server.url, recv);
  else {
    const o = await bridge(server.url, work, { kind: c === "bridge" ? "codec" : "adapter", recv });
    n = o.events;
    wrong = () => failures(work, o);
  }
  const ms = performance.now() - t0;
  if (n !== expectFrames) throw new Error(`${c}: consumed ${n} frames of ${expectFrames}`);
  const bad = wrong();
  if (bad.length > 0) throw new Error(`${c}: ${bad.length} turns wrong, first: ${bad[0]}`);
  return ms;
}

const tp = build(REPS);
const tpBytes = toBytes(tp.frames);
const times: Record<Contender, number[]> = { floor: [], bridge: [], adapter: [] };
const pairs = { bridge: [] as number[], adapter: [] as number[] };
for (let r = 0; r < WARMUP + ROUNDS; r++) {
  const ms: Partial<Record<Contender, number>> = {};
  for (const c of rotate(CONTENDERS, r)) {
    server.next({ kind: "bulk", bytes: tpBytes });
    ms[c] = await runOnce(c, tp.work, tp.frames.length);
  }
  if (r < WARMUP) continue;
  for (const c of CONTENDERS) times[c].push(ms[c] as number);
  pairs.bridge.push((ms.floor as number) / (ms.bridge as number));
  pairs.adapter.push((ms.floor as number) / (ms.adapter as number));
}

const lat = build(1);
const latFrames = lat.frames.map((f) => Buffer.from(`${f}\n\n`, "utf8"));
const samples: Record<Contender, number[]> = { floor: [], bridge: [], adapter: [] };
const silent: Record<Contender, number> = { floor: 0, bridge: 0, adapter: 0 };
for (let r = 0; r < LAT_ROUNDS; r++) {
  for (const c of rotate(CONTENDERS, r)) {
    const sent = new Float64Array(latFrames.length).fill(NaN);
    const recv = new Float64Array(latFrames.length).fill(NaN);
    server.next({ kind: "paced", frames: latFrames, intervalMs: 1, sent });
    await runOnce(c, { ...lat.work, keepSubscribed: true }, latFrames.length, recv);
    for (let i = LAT_SKIP; i < latFrames.length; i++) {
      if (!Number.isFinite(sent[i] as number)) throw new Error(`${c}: no send time for frame ${i}`);
      // A 2.x frame the translator turns into no event (step.streamed, usage, inbox…) reaches no listener: no time.
      if (c !== "floor" && !Number.isFinite(recv[i] as number)) {
        silent[c]++;
        continue;
      }
      const d = (recv[i] as number) - (sent[i] as number);
      if (!Number.isFinite(d)) throw new Error(`${c}: no receive time for frame ${i}`);
      samples[c].push(d);
    }
  }
}
await server.close();

const result = Object.fromEntries(
  CONTENDERS.map((c) => {
    const m = median(times[c]);
    return [c, {
      median_ms: round(m, 1),
      events_per_s: Math.round((tp.frames.length * 1e3) / m),
      mb_per_s: round(tpBytes.length / 1e3 / m, 1),
      p50_ms: round(percentile(samples[c], 50), 4),
      p99_ms: round(percentile(samples[c], 99), 4),
      latency_samples: samples[c].length,
      frames_without_event: silent[c],
    }];
  }),
) as Record<Contender, { median_ms: number; events_per_s: number; mb_per_s: number; p50_ms: number; p99_ms: number; latency_samples: number; frames_without_event: number }>;
const ratio = { bridge_over_floor: round(median(pairs.bridge)), adapter_over_floor: round(median(pairs.adapter)) };

console.log(
  `\nloopback /api/event (OpenCode ${VERSION} frames), node ${process.version}: ${int(tp.frames.length)} frames, ${(tpBytes.length / 1e6).toFixed(1)} MB ` +
    `(${REPS} x long + tool + reasoning turns), median of ${ROUNDS} alternating rounds after ${WARMUP} warm-up`,
);
console.log(`${padEnd("contender", 38)}${pad("events/s", 12)}${pad("MB/s", 8)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}`);
const label: Record<Contender, string> = {
  floor: "floor (undici+parser+JSON.parse)",
  bridge: "opencode-bridge (EventHub+v2+codec)",
  adapter: "  adapter Turn listener (info)",
};
for (const c of CONTENDERS) {
  const x = result[c];
  console.log(`${padEnd(label[c], 38)}${pad(int(x.events_per_s), 12)}${pad(x.mb_per_s.toFixed(1), 8)}${pad(x.p50_ms.toFixed(3), 9)}${pad(x.p99_ms.toFixed(3), 9)}`);
}
console.log(
  `latency: ${latFrames.length} frames paced at 1/ms, ${LAT_ROUNDS} rounds; the bridge's over the ${result.bridge.latency_samples} frames that reach a ` +
    `listener (${result.bridge.frames_without_event} translate to no event), the floor's over all ${result.floor.latency_samples}`,
);
console.log(
  `bridge/floor ${ratio.bridge_over_floor.toFixed(2)}   adapter/floor ${ratio.adapter_over_floor.toFixed(2)}   ` +
    `added p99 latency over floor ${(result.bridge.p99_ms - result.floor.p99_ms).toFixed(3)} ms   (SDK: cannot read 2.x's /api/event)`,
);

writeResult("stream-v2.json", {
  node: process.version,
  date: new Date().toISOString(),
  stream: { version: VERSION, repetitions: REPS, frames: tp.frames.length, bytes: tpBytes.length, latency_frames: latFrames.length },
  rounds: ROUNDS,
  warmup: WARMUP,
  contenders: result,
  ratio,
  added_p99_ms: round(result.bridge.p99_ms - result.floor.p99_ms, 4),
});
