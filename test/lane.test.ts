/**
 * The one per-turn queue (src/util/lane.ts) and the daemon's outputs on it (the
 * fan-out's lane per output per turn, src/sink/fanout.ts): order, the synchronous
 * fast path, each bound policy, the timeout counted once, give-up, batches.
 */
import pino from "pino";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import { Delivery } from "../src/adapter/delivery.js";
import { FanoutSink } from "../src/sink/fanout.js";
import { Lane } from "../src/util/lane.js";
import { realClock } from "../src/util/clock.js";

const reply = (trace: string, seq: number): Reply =>
  ({ kind: "delta", trace_id: trace, session_id: "ses_x", seq, content: `c${seq}`, part_id: "prt_x" }) as Reply;

/** An output that takes a reply only when the test says so. */
function gatedOutput() {
  const taken: string[] = [];
  const gates: (() => void)[] = [];
  const deliver = (r: Reply) =>
    new Promise<void>((resolve) => {
      gates.push(() => {
        taken.push(`${r.trace_id}:${r.seq}`);
        resolve();
      });
    });
  const open = async (n: number) => {
    for (let i = 0; i < n; i++) {
      while (gates.length === 0) await new Promise((r) => setImmediate(r));
      gates.shift()?.();
      await Promise.resolve();
    }
  };
  return { taken, deliver, open, pending: () => gates.length };
}

describe("the daemon's outputs, each in its own lane per turn (FanoutSink)", () => {
  it("does not make the producer wait below the bound, and keeps each turn's order", async () => {
    const out = gatedOutput();
    const fan = new FanoutSink([{ name: "slow", sink: out.deliver }], { maxLag: 10 });
    for (let i = 0; i < 5; i++) {
      expect(fan.deliver(reply("a", i))).toBeUndefined();
      expect(fan.deliver(reply("b", i))).toBeUndefined();
    }
    expect(fan.holds("a")).toBe(true);
    // One reply of each turn in flight at a time.
    expect(out.pending()).toBe(2);
    const idle = fan.idle();
    await out.open(10);
    await idle;
    expect(out.taken.filter((k) => k.startsWith("a:"))).toEqual(["a:0", "a:1", "a:2", "a:3", "a:4"]);
    expect(out.taken.filter((k) => k.startsWith("b:"))).toEqual(["b:0", "b:1", "b:2", "b:3", "b:4"]);
    expect(fan.holds("a")).toBe(false);
    expect(fan.entries()[0]?.counters).toEqual({ accepted: 10, failures: 0 });
  });

  it("makes the producer wait at the bound until the output takes a reply", async () => {
    const out = gatedOutput();
    const fan = new FanoutSink([{ name: "slow", sink: out.deliver }], { maxLag: 3 });
    expect(fan.deliver(reply("a", 0))).toBeUndefined();
    expect(fan.deliver(reply("a", 1))).toBeUndefined();
    expect(fan.deliver(reply("a", 2))).toBeUndefined();
    // Three held (one in flight, two waiting): the fourth waits for room.
    const full = fan.deliver(reply("a", 3));
    expect(full).toBeInstanceOf(Promise);
    let released = false;
    void (full as Promise<void>).then(() => (released = true));
    await new Promise((r) => setImmediate(r));
    expect(released).toBe(false);
    await out.open(1);
    await full;
    expect(released).toBe(true);
    await out.open(3);
    await fan.idle();
    expect(out.taken).toEqual(["a:0", "a:1", "a:2", "a:3"]);
  });

  it("hands a reply on at once when the output takes it synchronously, and keeps order when some of them make it wait", async () => {
    const taken: string[] = [];
    const gates: (() => void)[] = [];
    // Every third reply of a turn makes the lane wait; the others are taken at once.
    const deliver = (r: Reply): void | Promise<void> => {
      if (r.seq % 3 !== 2) {
        taken.push(`${r.trace_id}:${r.seq}`);
        return undefined;
      }
      return new Promise<void>((resolve) =>
        gates.push(() => {
          taken.push(`${r.trace_id}:${r.seq}`);
          resolve();
        }),
      );
    };
    const fan = new FanoutSink([{ name: "mixed", sink: { deliver } }], { maxLag: 100 });
    expect(fan.deliver(reply("a", 0))).toBeUndefined();
    expect(fan.deliver(reply("a", 1))).toBeUndefined();
    // Taken synchronously: nothing waits, no lane is kept.
    expect(taken).toEqual(["a:0", "a:1"]);
    expect(fan.holds("a")).toBe(false);
    for (let seq = 2; seq < 9; seq++) expect(fan.deliver(reply("a", seq))).toBeUndefined();
    // a:2 waits, so everything after it waits behind it, in order.
    expect(taken).toEqual(["a:0", "a:1"]);
    expect(fan.holds("a")).toBe(true);
    const idle = fan.idle();
    while (gates.length > 0 || fan.holds("a")) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await idle;
    expect(taken).toEqual(Array.from({ length: 9 }, (_, i) => `a:${i}`));
    expect(fan.holds("a")).toBe(false);
  });

  it("a stalled output makes no other output wait: JSON Lines keeps pace while the other one holds every reply", async () => {
    const out = gatedOutput();
    const lines: string[] = [];
    const jsonl = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
    const { JsonlSink } = await import("../src/sink/jsonl.js");
    const fan = new FanoutSink([{ name: "stalled", sink: out.deliver }, { name: "jsonl", sink: new JsonlSink(jsonl) }], { maxLag: 1_000 });
    for (let i = 0; i < 50; i++) expect(fan.deliver(reply("t", i))).toBeUndefined();
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(50);
    expect(out.taken).toEqual([]);
    await out.open(50);
    await fan.idle();
    expect(out.taken).toHaveLength(50);
  });
});

describe("Lane", () => {
  it("merge at the bound: text joins the waiting tail, anything else queues past it", async () => {
    const out = gatedOutput();
    const lane = new Lane<Reply>(
      { take: (r) => out.deliver(r) },
      { max: 2, atBound: (tail, r) => (tail.kind === "delta" && r.kind === "delta" ? ((tail.content += r.content), true) : false) },
    );
    for (let i = 0; i < 6; i++) expect(lane.push(reply("m", i))).toBeUndefined();
    // One in flight, one waiting that took in the four after it.
    expect(lane.held).toBe(2);
    await out.open(2);
    await lane.drain();
    expect(out.taken).toEqual(["m:0", "m:1"]);
  });

  it("a take left behind at the timeout is counted once: as arrived when it resolves, as failed when it rejects, as unsettled meanwhile", async () => {
    const settle: ((ok: boolean) => void)[] = [];
    const seen: string[] = [];
    const lane = new Lane<number>(
      {
        take: (n) => new Promise<void>((resolve, reject) => settle.push((ok) => (ok ? resolve() : reject(new Error(`no ${n}`))))),
        late: (n) => seen.push(`late ${n}`),
        arrived: (n) => seen.push(`arrived ${n}`),
        failed: (n) => seen.push(`failed ${n}`),
      },
      { max: 100, atBound: "wait", timeoutMs: 5, clock: realClock },
    );
    void lane.push(1);
    void lane.push(2);
    // Bound by events, not by a sleep: both takes started, both left behind.
    while (settle.length < 2 || lane.lateUnsettled < 2) await new Promise((r) => setTimeout(r, 2));
    // 1 was left behind, then 2 after it.
    expect(settle).toHaveLength(2);
    expect(lane.lateUnsettled).toBe(2);
    settle[0]?.(true);
    settle[1]?.(false);
    await lane.drain();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(["late 1", "late 2", "arrived 1", "failed 2"]);
    expect(lane.lateUnsettled).toBe(0);
  });

  it("giveUp drops what waits and every later push; producers waiting for room go on", async () => {
    const out = gatedOutput();
    const dropped: number[] = [];
    const lane = new Lane<Reply>({ take: (r) => out.deliver(r), dropped: (r) => dropped.push(r.seq) }, { max: 2, atBound: "wait" });
    void lane.push(reply("g", 0));
    void lane.push(reply("g", 1));
    const waiting = lane.push(reply("g", 2));
    expect(waiting).toBeInstanceOf(Promise);
    expect(lane.giveUp().map((r) => r.seq)).toEqual([1]);
    await waiting;
    void lane.push(reply("g", 3));
    expect(dropped).toEqual([2, 3]);
    await out.open(1);
    await lane.drain();
    expect(out.taken).toEqual(["g:0"]);
  });

  it("batch: what waits goes in one take, bounded by count and bytes, in order", async () => {
    const batches: number[][] = [];
    const gates: (() => void)[] = [];
    const lane = new Lane<number>(
      {
        take: (n) => new Promise<void>((r) => gates.push(() => (batches.push([n]), r()))),
        takeBatch: (ns) => {
          const copy = [...ns];
          return new Promise<void>((r) => gates.push(() => (batches.push(copy), r())));
        },
      },
      { max: 1_000, atBound: "wait", batch: { count: 4, bytes: 30, size: (n) => n } },
    );
    for (let i = 1; i <= 12; i++) void lane.push(i);
    while (gates.length > 0) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await lane.drain();
    // 1 went alone (the lane was idle); then at most 4 items and 30 "bytes" a take (one item always goes).
    expect(batches).toEqual([[1], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11], [12]]);
  });
});

describe("a slow output behind delivery", () => {
  it("no false sink failures: 8 replies through a stalled output that recovers are all delivered, none counted or logged as failed", async () => {
    const out = gatedOutput();
    const logged: string[] = [];
    const log = pino({ level: "warn" }, new Writable({ write: (c: Buffer, _e, cb) => (logged.push(c.toString()), cb()) }));
    const fan = new FanoutSink([{ name: "stalled", sink: out.deliver }], { maxLag: 2 });
    const d = new Delivery("t", "ses", fan, { sinkTimeoutMs: 5, maxQueuedReplies: 1_000, clock: realClock }, log);
    const bodies = Array.from({ length: 8 }, (_, i) => reply("t", i));
    for (const b of bodies) d.push([b]);
    // The output stalls long past the sink timeout, several times over.
    await new Promise((r) => setTimeout(r, 60));
    expect(out.taken).toEqual([]);
    await out.open(8);
    await d.drain();
    await fan.idle();
    await new Promise((r) => setTimeout(r, 20));
    expect(out.taken).toEqual(Array.from({ length: 8 }, (_, i) => `t:${i}`));
    expect(d.result().sinkFailures).toBe(0);
    expect(logged.filter((l) => l.includes('"level":50'))).toEqual([]);
  });
});
