/**
 * The daemon's reply path with a log (the journal, or the shared store): a reply
 * reaches subscribers and outputs only through the log. What an adapter still
 * delivers for a turn this daemon no longer drives — another daemon of the shared
 * store claimed it (its record is a mirror), or it has ended here — goes nowhere:
 * not to the record, not to an output (a webhook would otherwise get replies that
 * no store holds, under the keys of the turn's real replies).
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import { Metrics } from "../src/daemon/metrics.js";
import { ReplyPath } from "../src/daemon/reply-path.js";
import type { TurnLog } from "../src/daemon/store/types.js";
import { TurnStore } from "../src/daemon/turns.js";
import { FanoutSink } from "../src/sink/fanout.js";
import { MemorySink } from "../src/sink/memory.js";

const delta = (seq: number): Reply => ({ kind: "delta", trace_id: "t1", session_id: "ses_1", seq, content: `w${seq} `, part_id: "prt_1" });

function setup() {
  const store = new TurnStore({ maxTurns: 10, maxReplyBytesPerTurn: 1 << 20 });
  const written: number[] = [];
  const log: TurnLog = { reply: (_id, r) => void written.push(r.seq), request: () => {}, prompt: () => {}, ack: () => {} };
  const out = new MemorySink();
  const path = new ReplyPath(store, log, new Metrics(), new FanoutSink([{ name: "out", sink: out }]), pino({ enabled: false }));
  const record = store.create("t1", "ses_1", "/p", performance.now());
  return { store, written, out, path, record };
}

describe("replies of a turn this daemon does not drive", () => {
  it("a running turn's reply is logged, then recorded and sent out", () => {
    const { written, out, path, record } = setup();
    void path.sink.deliver(delta(0));
    expect(written).toEqual([0]);
    expect(record.total).toBe(1);
    expect(out.turn("t1").map((r) => r.seq)).toEqual([0]);
  });

  it("a turn claimed by another daemon (a mirror): nothing is logged, recorded or sent out", () => {
    const { written, out, path, record } = setup();
    void path.sink.deliver(delta(0));
    record.mirrored = true;
    void path.sink.deliver(delta(1));
    expect(written).toEqual([0]);
    expect(record.total).toBe(1);
    expect(out.turn("t1").map((r) => r.seq)).toEqual([0]);
  });

  it("a turn that has ended here: a late reply of its adapter is not sent out", () => {
    const { store, written, out, path, record } = setup();
    void path.sink.deliver(delta(0));
    store.finish(record, "final");
    void path.sink.deliver(delta(1));
    expect(written).toEqual([0]);
    expect(out.turn("t1").map((r) => r.seq)).toEqual([0]);
  });
});
