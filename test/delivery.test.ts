/**
 * Delivery's pump (src/adapter/delivery.ts): in order, each reply stamped once,
 * gapless `seq`, whatever the sink does — synchronous (called in a plain loop, no
 * promise per reply), asynchronous, throwing, or pushing more from inside `deliver`.
 */
import { describe, expect, it } from "vitest";
import pino from "pino";
import { Delivery } from "../src/adapter/delivery.js";
import { parseEvent } from "../src/codec/events.js";
import { reduce } from "../src/codec/reducer.js";
import { createTurnState } from "../src/codec/state.js";
import type { ReplyBody } from "../src/codec/envelope.js";
import type { Reply } from "../src/codec/reply.js";
import type { SinkObject } from "../src/sink/types.js";
import { realClock } from "../src/util/clock.js";
import { fixtureNamed, framesOf } from "./support/replay-server.js";

const log = pino({ enabled: false });
const opts = { sinkTimeoutMs: 1_000, maxQueuedReplies: 10_000, clock: realClock };

/** The reply bodies of a captured turn, as the codec gives them to delivery (one array per event). */
function bodiesPerEvent(name: string): ReplyBody[][] {
  const f = fixtureNamed(name);
  const state = createTurnState({ traceId: "t", sessionId: f.golden[0]?.session_id });
  return framesOf(f.sse).map((d) => {
    const out: ReplyBody[] = [];
    reduce(parseEvent(JSON.parse(d)), state, out);
    return out;
  });
}

const shape = (r: Reply) => `${r.seq} ${r.kind}`;

describe("delivery", () => {
  // Fresh bodies per test: delivery empties the arrays and stamps the bodies in place.
  const total = bodiesPerEvent("1.18.33/tool").reduce((a, b) => a + b.length, 0);

  it("a synchronous sink gets every reply during push, in order, with gapless seq", () => {
    const events = bodiesPerEvent("1.18.33/tool");
    const got: Reply[] = [];
    const d = new Delivery("t", "ses", { deliver: (r) => void got.push(r) }, opts, log);
    for (const bodies of events) {
      const before = got.length;
      const n = bodies.length;
      d.push(bodies);
      expect(bodies).toHaveLength(0); // the codec's array is emptied for reuse
      expect(got.length).toBe(before + n); // delivered before push returned
    }
    expect(got.map((r) => r.seq)).toEqual([...Array(total).keys()]);
    expect(d.terminal?.kind).toBe("final");
    expect(d.result().replies).toBe(total);
  });

  it("a sink that throws, resolves late or pushes more from inside deliver: order and seq hold, failures counted", async () => {
    const events = bodiesPerEvent("1.18.33/tool");
    const got: string[] = [];
    let calls = 0;
    const self: { d?: Delivery } = {};
    const extra = bodiesPerEvent("1.18.33/tool").flat().slice(0, 3);
    const sink: SinkObject = {
      deliver: (r) => {
        calls++;
        got.push(shape(r));
        if (calls === 2) throw new Error("sink broke");
        if (calls === 3) self.d?.push([...extra]); // re-entrant: queued behind what waits
        if (calls % 5 === 0) return new Promise<void>((resolve) => setTimeout(resolve, 1));
        if (calls === 7) return Promise.reject(new Error("rejected"));
      },
    };
    const d = new Delivery("t", "ses", sink, opts, log);
    self.d = d;
    for (const bodies of events) d.push(bodies);
    await d.drain();
    expect(got.map((s) => Number(s.split(" ")[0]))).toEqual([...Array(total + extra.length).keys()]);
    expect(d.result().sinkFailures).toBe(2);
  });

  it("drain waits for an asynchronous sink; a sink that never answers is timed out and delivery moves on", async () => {
    const events = bodiesPerEvent("1.18.33/tool");
    const got: number[] = [];
    const sink: SinkObject = {
      deliver: (r) => {
        got.push(r.seq);
        return r.seq === 1 ? new Promise<void>(() => {}) : Promise.resolve();
      },
    };
    const d = new Delivery("t", "ses", sink, { ...opts, sinkTimeoutMs: 20 }, log);
    for (const bodies of events) d.push(bodies);
    expect(got).toEqual([0]); // the rest wait for the first promise
    await d.drain();
    expect(got).toEqual([...Array(total).keys()]);
    expect(d.result().sinkFailures).toBe(1);
  });
});
