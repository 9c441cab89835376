/**
 * The live path over loopback: floor vs the official SDK vs opencode-bridge,
 * on the same bytes, in one process, against a node:http `/event` server on
 * 127.0.0.1:0 in the same process.
 *
 *   npm run bench:stream        (writes bench/results/stream.json)
 *
 * The stream: the real 1.18.33 long turn (1,200 deltas) repeated with fresh
 * session/message/part/event ids, each repetition interleaved with a real tool
 * turn and a real reasoning turn of two other sessions (spread evenly over it),
 * after one server.connected and the server-wide frames of the capture. The
 * bridge drives every one of those turns and each turn's replies are checked
 * against the capture's golden replies.
 *
 * Throughput: the server writes the whole stream as fast as the socket takes it.
 * Rounds alternate the contenders (each round starts with the next one) after
 * warm-up rounds; medians of the rounds count, and the ratios are medians of
 * the per-round ratios (each pair measured back to back).
 *
 * Latency: one repetition, paced at one frame per millisecond, each frame its
 * own write. The server records the time before each write by frame index; the
 * consumer records the time it finished handling each frame by index (same
 * process, same clock: nothing is added to the frames). Latency of a frame =
 * handled − written; percentiles over all frames of all latency rounds (the
 * first 20 frames of each run, which include connection set-up, are left out).
 */
import {
  expectedOf,
  IdMint,
  loadTemplate,
  sessionOfInstance,
  spread,
  toBytes,
  type Frame,
  type Template,
} from "./lib/frames.js";
import { SseServer } from "./lib/sse-server.js";
import { bridge, failures, floor, sdk, type BridgeWork, type TurnSpec } from "./lib/consumers.js";
import { int, median, pad, padEnd, percentile, rotate, round, writeResult } from "./lib/stats.js";

const VERSION = "1.18.33";
const REPS = Number(process.env.BENCH_STREAM_REPS ?? 100);
const WARMUP = Number(process.env.BENCH_STREAM_WARMUP ?? 2);
const ROUNDS = Number(process.env.BENCH_STREAM_ROUNDS ?? 7);
const LAT_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 3);
const LAT_SKIP = 20;

/** Targets (issue 6). */
export const TARGETS = { bridgeOverFloor: 0.8, bridgeOverSdk: 1.5, adapterOverFloor: 0.75, addedP99Ms: 0.3 };

const CONTENDERS = ["floor", "sdk", "bridge", "adapter"] as const;
type Contender = (typeof CONTENDERS)[number];

const long = loadTemplate(VERSION, "long");
const others: Template[] = [loadTemplate(VERSION, "tool"), loadTemplate(VERSION, "reasoning")];
const mint = new IdMint();

/** `reps` repetitions: lane 0 the long turns, lanes 1.. the other sessions' turns. */
function build(reps: number): { frames: Frame[]; work: BridgeWork; sessionFrames: number } {
  const frames: Frame[] = [long.connected, ...long.globals];
  const lanes: TurnSpec[][] = [[], ...others.map(() => [])];
  let sessionFrames = 0;
  for (let r = 0; r < reps; r++) {
    const seqs: Frame[][] = [];
    [long, ...others].forEach((t, lane) => {
      const inst = mint.instance(t.turn);
      seqs.push(inst.frames);
      lanes[lane]?.push({ sessionId: sessionOfInstance(t, inst.ids), expected: expectedOf(t) });
      sessionFrames += inst.frames.length;
    });
    frames.push(...spread(seqs));
  }
  return { frames, work: { lanes }, sessionFrames };
}

const server = await SseServer.start();
const url = server.url;

/** One run; returns its duration in ms. Checks (outside the timed part) that it consumed every frame and got every turn right. */
async function runOnce(c: Contender, bytes: Buffer, work: BridgeWork, expectFrames: number, recv?: Float64Array): Promise<number> {
  const t0 = performance.now();
  let n: number;
  let check = (): string[] => [];
  if (c === "floor") n = await floor(url, recv);
  else if (c === "sdk") n = await sdk(url, recv);
  else {
    const o = await bridge(url, work, { kind: c === "bridge" ? "codec" : "adapter", recv });
    n = o.events;
    check = () => failures(work, o);
  }
  const ms = performance.now() - t0;
  if (n !== expectFrames) throw new Error(`${c}: consumed ${n} frames of ${expectFrames} (${bytes.length} bytes)`);
  const wrong = check();
  if (wrong.length > 0) throw new Error(`${c}: ${wrong.length} turns wrong, first: ${wrong[0]}`);
  return ms;
}

// ---- throughput --------------------------------------------------------------
const tp = build(REPS);
const tpBytes = toBytes(tp.frames);
const tpFrames = tp.frames.length;

/**
 * `BENCH_STREAM_PROFILE=bridge` (or floor, sdk, adapter): run only that contender,
 * WARMUP + ROUNDS times, and exit — for `node --cpu-prof` (docs/performance.md, "Where the time goes").
 */
const only = process.env.BENCH_STREAM_PROFILE as Contender | undefined;
if (only !== undefined) {
  if (!CONTENDERS.includes(only)) throw new Error(`BENCH_STREAM_PROFILE must be one of ${CONTENDERS.join(", ")}`);
  const ms: number[] = [];
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    server.next({ kind: "bulk", bytes: tpBytes });
    ms.push(await runOnce(only, tpBytes, tp.work, tpFrames));
  }
  console.log(`${only}: ${WARMUP + ROUNDS} runs of ${tpFrames} frames, median ${median(ms.slice(WARMUP)).toFixed(1)} ms`);
  await server.close();
  process.exit(0);
}
const times: Record<Contender, number[]> = { floor: [], sdk: [], bridge: [], adapter: [] };
const pairs = { bridgeOverFloor: [] as number[], bridgeOverSdk: [] as number[], adapterOverFloor: [] as number[] };

for (let r = 0; r < WARMUP + ROUNDS; r++) {
  const ms: Partial<Record<Contender, number>> = {};
  for (const c of rotate(CONTENDERS, r)) {
    server.next({ kind: "bulk", bytes: tpBytes });
    ms[c] = await runOnce(c, tpBytes, tp.work, tpFrames);
  }
  if (r < WARMUP) continue;
  for (const c of CONTENDERS) times[c].push(ms[c] as number);
  pairs.bridgeOverFloor.push((ms.floor as number) / (ms.bridge as number));
  pairs.bridgeOverSdk.push((ms.sdk as number) / (ms.bridge as number));
  pairs.adapterOverFloor.push((ms.floor as number) / (ms.adapter as number));
}

const throughput = Object.fromEntries(
  CONTENDERS.map((c) => {
    const m = median(times[c]);
    return [
      c,
      {
        median_ms: round(m, 1),
        events_per_s: Math.round((tpFrames * 1e3) / m),
        mb_per_s: round(tpBytes.length / 1e3 / m, 1),
        runs_ms: times[c].map((x) => round(x, 1)),
      },
    ];
  }),
) as Record<Contender, { median_ms: number; events_per_s: number; mb_per_s: number; runs_ms: number[] }>;

// ---- latency -------------------------------------------------------------------
const lat = build(1);
const latFrames = lat.frames.map((f) => Buffer.from(`${f}\n\n`, "utf8"));
const latBytes = toBytes(lat.frames);
const samples: Record<Contender, number[]> = { floor: [], sdk: [], bridge: [], adapter: [] };
const perRound: Record<Contender, { p50: number; p99: number }[]> = { floor: [], sdk: [], bridge: [], adapter: [] };
for (let r = 0; r < LAT_ROUNDS; r++) {
  for (const c of rotate(CONTENDERS, r)) {
    const frames = latFrames;
    const sent = new Float64Array(frames.length).fill(NaN);
    const recv = new Float64Array(frames.length).fill(NaN);
    server.next({ kind: "paced", frames, intervalMs: 1, sent });
    await runOnce(c, latBytes, { ...lat.work, keepSubscribed: true }, frames.length, recv);
    const xs: number[] = [];
    for (let i = LAT_SKIP; i < frames.length; i++) {
      const d = (recv[i] as number) - (sent[i] as number);
      if (!Number.isFinite(d)) throw new Error(`${c}: no send or receive time for frame ${i}`);
      xs.push(d);
    }
    samples[c].push(...xs);
    perRound[c].push({ p50: round(percentile(xs, 50), 4), p99: round(percentile(xs, 99), 4) });
  }
}
await server.close();

const latency = Object.fromEntries(
  CONTENDERS.map((c) => [
    c,
    {
      samples: samples[c].length,
      p50_ms: round(percentile(samples[c], 50), 4),
      p99_ms: round(percentile(samples[c], 99), 4),
      max_ms: round(Math.max(...samples[c]), 3),
      rounds: perRound[c],
    },
  ]),
) as Record<Contender, { samples: number; p50_ms: number; p99_ms: number; max_ms: number; rounds: { p50: number; p99: number }[] }>;

// ---- report --------------------------------------------------------------------
const ratio = {
  bridge_over_floor: round(median(pairs.bridgeOverFloor)),
  bridge_over_sdk: round(median(pairs.bridgeOverSdk)),
  adapter_over_floor: round(median(pairs.adapterOverFloor)),
};
const added = {
  p50_ms: round(latency.bridge.p50_ms - latency.floor.p50_ms, 4),
  p99_ms: round(latency.bridge.p99_ms - latency.floor.p99_ms, 4),
  adapter_p99_ms: round(latency.adapter.p99_ms - latency.floor.p99_ms, 4),
};
const targets = [
  { target: `bridge >= ${TARGETS.bridgeOverFloor} x floor`, value: ratio.bridge_over_floor, pass: ratio.bridge_over_floor >= TARGETS.bridgeOverFloor },
  { target: `bridge >= ${TARGETS.bridgeOverSdk} x SDK`, value: ratio.bridge_over_sdk, pass: ratio.bridge_over_sdk >= TARGETS.bridgeOverSdk },
  {
    target: `adapter Turn >= ${TARGETS.adapterOverFloor} x floor`,
    value: ratio.adapter_over_floor,
    pass: ratio.adapter_over_floor >= TARGETS.adapterOverFloor,
  },
  { target: `added p99 latency <= ${TARGETS.addedP99Ms} ms`, value: added.p99_ms, pass: added.p99_ms <= TARGETS.addedP99Ms },
];

const label: Record<Contender, string> = {
  floor: "floor (undici+parser+JSON.parse)",
  sdk: "@opencode-ai/sdk v2 event.subscribe",
  bridge: "opencode-bridge (EventHub+codec)",
  adapter: "  adapter Turn listener (info)",
};
console.log(
  `\nloopback /event, node ${process.version}: ${int(tpFrames)} frames, ${(tpBytes.length / 1e6).toFixed(1)} MB ` +
    `(${REPS} x ${VERSION} long turn + tool + reasoning turns of 2 other sessions), median of ${ROUNDS} alternating rounds after ${WARMUP} warm-up`,
);
console.log(`${padEnd("contender", 38)}${pad("events/s", 12)}${pad("MB/s", 8)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}`);
for (const c of CONTENDERS) {
  console.log(
    `${padEnd(label[c], 38)}${pad(int(throughput[c].events_per_s), 12)}${pad(throughput[c].mb_per_s.toFixed(1), 8)}` +
      `${pad(latency[c].p50_ms.toFixed(3), 9)}${pad(latency[c].p99_ms.toFixed(3), 9)}`,
  );
}
console.log(
  `latency: ${latFrames.length} frames paced at 1/ms, ${LAT_ROUNDS} alternating rounds, ${latency.floor.samples} samples per contender`,
);
console.log(
  `bridge/floor ${ratio.bridge_over_floor.toFixed(2)}   bridge/SDK ${ratio.bridge_over_sdk.toFixed(2)}   ` +
    `added latency over floor: p50 ${added.p50_ms.toFixed(3)} ms, p99 ${added.p99_ms.toFixed(3)} ms   (adapter/floor ${ratio.adapter_over_floor.toFixed(2)})`,
);
for (const t of targets) console.log(`${t.pass ? "PASS" : "MISS"}  ${t.target}: ${t.value}`);

writeResult("stream.json", {
  node: process.version,
  date: new Date().toISOString(),
  stream: {
    version: VERSION,
    repetitions: REPS,
    frames: tpFrames,
    bytes: tpBytes.length,
    turns: tp.work.lanes.reduce((a, l) => a + l.length, 0),
    latency_frames: latFrames.length,
  },
  rounds: ROUNDS,
  warmup: WARMUP,
  throughput,
  latency,
  ratio,
  added_latency: added,
  targets,
});
