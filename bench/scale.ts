/**
 * Scale: one `/event` stream carrying many sessions' turns at once.
 *
 *   npm run bench:scale      (node --expose-gc; writes bench/results/scale.json)
 *
 * Per-event cost at 1, 10, 100 and 1,000 concurrent sessions, on streams of the
 * same turns: TURNS real turns (text, tool and reasoning captures, with fresh
 * ids) run in N lanes — a lane's turns one after another, the lanes interleaved
 * frame by frame — so at N = 1,000 a thousand sessions are mid-turn at once.
 * The bridge (EventHub + one codec listener per turn, subscribed and
 * unsubscribed per turn as the adapter does) and the floor consume each stream
 * over loopback; each round runs a version's stream sizes back to back (order
 * rotated); per-size figures are medians, the growth is the median of the rounds'
 * own ratios. Each
 * capture's server-wide frames (plugin.added …, sent once per server) are left
 * out: they reach every subscriber, which is another question (see below).
 *
 * Memory per idle session: the heap (after GC) held by N sessions waiting for
 * their turn's first event — the turn state, the listener, the hub subscription
 * — divided by N, for the codec listener and for the adapter's own `Turn`.
 */
import {
  expectedOf,
  IdMint,
  loadTemplate,
  roundRobin,
  sessionOfInstance,
  toBytes,
  type Frame,
  type Template,
} from "./lib/frames.js";
import { SseServer } from "./lib/sse-server.js";
import { BridgeRun, failures, floor, type BridgeWork, type ListenerKind, type TurnSpec } from "./lib/consumers.js";
import { gcNow, int, median, pad, padEnd, rotate, round, writeResult } from "./lib/stats.js";

const VERSIONS = (process.env.BENCH_SCALE_VERSIONS ?? "1.18.33,1.15.13,1.2.27").split(",");
const SESSIONS = (process.env.BENCH_SCALE_SESSIONS ?? "1,10,100,1000").split(",").map(Number);
const TURNS = Number(process.env.BENCH_SCALE_TURNS ?? 3000);
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 5);
const WARMUP = Number(process.env.BENCH_SCALE_WARMUP ?? 1);
const IDLE = (process.env.BENCH_IDLE_SESSIONS ?? "1000,10000").split(",").map(Number);
const SCENARIOS = ["text", "tool", "reasoning"];

const mint = new IdMint();

interface Case {
  readonly version: string;
  readonly sessions: number;
  readonly bytes: Buffer;
  readonly frames: number;
  readonly work: BridgeWork;
  /** Frames that name no session by the fields the hub reads (each reaches every subscriber). */
  readonly unattributed: number;
}

function build(version: string, sessions: number, templates: Template[]): Case {
  const lanes: TurnSpec[][] = [];
  const laneFrames: Frame[][] = [];
  const perLane = Math.ceil(TURNS / sessions);
  for (let l = 0; l < sessions; l++) {
    const specs: TurnSpec[] = [];
    const frames: Frame[] = [];
    for (let j = 0; j < perLane; j++) {
      const t = templates[(l + j) % templates.length] as Template;
      const inst = mint.instance(t.turn);
      specs.push({ sessionId: sessionOfInstance(t, inst.ids), expected: expectedOf(t) });
      frames.push(...inst.frames);
    }
    lanes.push(specs);
    laneFrames.push(frames);
  }
  const first = templates[0] as Template;
  const frames = [first.connected, ...roundRobin(laneFrames)];
  const unattributed = frames.filter((f) => !hubAttributes(f)).length;
  return { version, sessions, bytes: toBytes(frames), frames: frames.length, work: { lanes }, unattributed };
}

/** Whether the hub can route a frame to one session (sessionID at the top, in the part, or in the message). */
function hubAttributes(frame: Frame): boolean {
  return /"sessionID":"ses_/.test(frame.slice(0, 400)) || /"(part|info)":\{[^}]*"sessionID":"ses_/.test(frame);
}

const server = await SseServer.start();
const cases: Case[] = [];
for (const v of VERSIONS) {
  const templates = SCENARIOS.map((s) => loadTemplate(v, s));
  for (const n of SESSIONS) cases.push(build(v, n, templates));
}

async function runBridge(c: Case): Promise<number> {
  server.next({ kind: "bulk", bytes: c.bytes });
  const t0 = performance.now();
  const run = new BridgeRun(server.url, c.work);
  const o = await run.consume();
  const ms = performance.now() - t0;
  if (o.events !== c.frames) throw new Error(`${c.version} x${c.sessions}: bridge consumed ${o.events} of ${c.frames} frames`);
  const wrong = failures(c.work, o);
  if (wrong.length > 0) throw new Error(`${c.version} x${c.sessions}: ${wrong.length} turns wrong, first: ${wrong[0]}`);
  return ms;
}

async function runFloor(c: Case): Promise<number> {
  server.next({ kind: "bulk", bytes: c.bytes });
  const t0 = performance.now();
  const n = await floor(server.url);
  const ms = performance.now() - t0;
  if (n !== c.frames) throw new Error(`${c.version} x${c.sessions}: floor consumed ${n} of ${c.frames} frames`);
  return ms;
}

const bridgeMs = cases.map(() => [] as number[]);
const floorMs = cases.map(() => [] as number[]);
// A round measures each version's stream sizes back to back (their order rotated
// per round), so the growth below is taken from runs seconds apart, not from the
// medians of runs minutes apart.
const byVersion = VERSIONS.map((v) => cases.flatMap((c, i) => (c.version === v ? [i] : [])));
for (let r = 0; r < WARMUP + ROUNDS; r++) {
  for (const group of rotate(byVersion, r)) {
    for (const i of rotate(group, r)) {
      const c = cases[i] as Case;
      const b = await runBridge(c);
      const f = await runFloor(c);
      if (r >= WARMUP) {
        bridgeMs[i]?.push(b);
        floorMs[i]?.push(f);
      }
    }
  }
}
await server.close();

const rows = cases.map((c, i) => {
  const b = median(bridgeMs[i] as number[]);
  const f = median(floorMs[i] as number[]);
  return {
    version: c.version,
    sessions: c.sessions,
    turns: c.work.lanes.reduce((a, l) => a + l.length, 0),
    frames: c.frames,
    bytes: c.bytes.length,
    unattributed_frames: c.unattributed,
    bridge_ns_per_event: Math.round((b * 1e6) / c.frames),
    floor_ns_per_event: Math.round((f * 1e6) / c.frames),
    bridge_over_floor: round(f / b),
    bridge_runs_ms: (bridgeMs[i] as number[]).map((x) => round(x, 1)),
    floor_runs_ms: (floorMs[i] as number[]).map((x) => round(x, 1)),
  };
});
// Growth: the median over rounds of that round's ratio (ns/event at the most sessions
// over ns/event at the fewest, measured back to back), so a disturbed moment moves
// one round's ratio, not one side of a ratio of medians.
const growth = VERSIONS.map((v, k) => {
  const group = byVersion[k] as number[];
  const first = group[0] as number;
  const last = group[group.length - 1] as number;
  const nsPerEvent = (i: number, r: number) => ((bridgeMs[i] as number[])[r] as number) / (cases[i] as Case).frames;
  const ratios = (bridgeMs[first] as number[]).map((_, r) => nsPerEvent(last, r) / nsPerEvent(first, r));
  return {
    version: v,
    from: cases[first]?.sessions,
    to: cases[last]?.sessions,
    bridge_cost_growth: round(median(ratios), 2),
    bridge_cost_growth_rounds: ratios.map((x) => round(x, 3)),
  };
});

// ---- memory per idle session -----------------------------------------------------
function idleBytes(kind: ListenerKind, n: number): number {
  const specs: TurnSpec[][] = [];
  const dummy = expectedOf(loadTemplate(VERSIONS[0] as string, "text"));
  for (let i = 0; i < n; i++) specs.push([{ sessionId: `ses_${String(i).padStart(26, "0")}`, expected: dummy }]);
  const work: BridgeWork = { lanes: specs };
  // The hub itself is not per session: made before the first measurement.
  gcNow();
  const before = process.memoryUsage().heapUsed;
  const run = new BridgeRun("http://127.0.0.1:9", work, { kind });
  gcNow();
  const after = process.memoryUsage().heapUsed;
  run.close();
  return (after - before) / n;
}
const idle: { listener: ListenerKind; sessions: number; bytes_per_session: number }[] = [];
for (const kind of ["codec", "adapter"] as const) {
  for (const n of IDLE) {
    const xs = [idleBytes(kind, n), idleBytes(kind, n), idleBytes(kind, n)];
    idle.push({ listener: kind, sessions: n, bytes_per_session: Math.round(median(xs)) });
  }
}

// ---- report ----------------------------------------------------------------------
console.log(`\nscale: ${TURNS} turns per stream in N concurrent sessions, one /event stream over loopback, median of ${ROUNDS} rounds`);
console.log(
  `${padEnd("version", 9)}${pad("sessions", 9)}${pad("frames", 9)}${pad("unattr.", 9)}${pad("bridge ns/ev", 14)}${pad("floor ns/ev", 13)}${pad("bridge/floor", 14)}`,
);
for (const r of rows) {
  console.log(
    `${padEnd(r.version, 9)}${pad(int(r.sessions), 9)}${pad(int(r.frames), 9)}${pad(int(r.unattributed_frames), 9)}${pad(int(r.bridge_ns_per_event), 14)}${pad(
      int(r.floor_ns_per_event),
      13,
    )}${pad(r.bridge_over_floor.toFixed(2), 14)}`,
  );
}
for (const g of growth) {
  const rounds = g.bridge_cost_growth_rounds.map((x) => x.toFixed(2)).join(" ");
  console.log(`${g.version}: bridge cost per event at ${g.to} sessions / at ${g.from}: ${g.bridge_cost_growth.toFixed(2)} (median of rounds: ${rounds})`);
}
console.log("memory per idle session (heap after GC / sessions, median of 3):");
for (const m of idle) console.log(`  ${padEnd(m.listener === "codec" ? "codec listener" : "adapter Turn", 16)}${pad(int(m.sessions), 7)} sessions: ${int(m.bytes_per_session)} B`);

writeResult("scale.json", {
  node: process.version,
  date: new Date().toISOString(),
  turns_per_stream: TURNS,
  rounds: ROUNDS,
  rows,
  growth,
  idle_memory: idle,
});
