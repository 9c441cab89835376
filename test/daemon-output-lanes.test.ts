import { describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import { OutputLanes } from "../src/daemon/output-lanes.js";

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
      while (gates.length === 0) await Promise.resolve();
      gates.shift()?.();
      await Promise.resolve();
    }
  };
  return { taken, deliver, open, pending: () => gates.length };
}

describe("OutputLanes", () => {
  it("does not make the producer wait below the bound, and keeps each turn's order", async () => {
    const out = gatedOutput();
    const lanes = new OutputLanes(out.deliver, 10);
    for (let i = 0; i < 5; i++) {
      expect(lanes.push(reply("a", i), "turn-a")).toBeUndefined();
      expect(lanes.push(reply("b", i), "turn-b")).toBeUndefined();
    }
    expect(lanes.waiting).toBe(10);
    expect(lanes.turnIdOf("a")).toBe("turn-a");
    // One reply of each turn in flight at a time.
    expect(out.pending()).toBe(2);
    const idle = lanes.idle();
    await out.open(10);
    await idle;
    expect(out.taken.filter((k) => k.startsWith("a:"))).toEqual(["a:0", "a:1", "a:2", "a:3", "a:4"]);
    expect(out.taken.filter((k) => k.startsWith("b:"))).toEqual(["b:0", "b:1", "b:2", "b:3", "b:4"]);
    expect(lanes.waiting).toBe(0);
    expect(lanes.turnIdOf("a")).toBeUndefined();
  });

  it("makes the producer wait at the bound until the output takes a reply", async () => {
    const out = gatedOutput();
    const lanes = new OutputLanes(out.deliver, 3);
    expect(lanes.push(reply("a", 0), "t")).toBeUndefined();
    expect(lanes.push(reply("a", 1), "t")).toBeUndefined();
    const full = lanes.push(reply("a", 2), "t");
    expect(full).toBeInstanceOf(Promise);
    let released = false;
    void (full as Promise<void>).then(() => (released = true));
    await Promise.resolve();
    expect(released).toBe(false);
    await out.open(1);
    await full;
    expect(released).toBe(true);
    await out.open(2);
    await lanes.idle();
    expect(out.taken).toEqual(["a:0", "a:1", "a:2"]);
  });

  it("hands a reply on at once when the outputs take it synchronously, and keeps order when some of them make it wait", async () => {
    const taken: string[] = [];
    const gates: (() => void)[] = [];
    // Every third reply of a turn makes the lane wait (as the webhook does at its bound); the others are taken at once.
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
    const lanes = new OutputLanes(deliver, 100);
    expect(lanes.push(reply("a", 0), "t")).toBeUndefined();
    expect(lanes.push(reply("a", 1), "t")).toBeUndefined();
    // Taken synchronously: nothing waits, no lane is kept.
    expect(taken).toEqual(["a:0", "a:1"]);
    expect(lanes.waiting).toBe(0);
    expect(lanes.turnIdOf("a")).toBeUndefined();
    for (let seq = 2; seq < 9; seq++) expect(lanes.push(reply("a", seq), "t")).toBeUndefined();
    // a:2 waits, so everything after it waits behind it, in order, with its turn id pinned.
    expect(taken).toEqual(["a:0", "a:1"]);
    expect(lanes.waiting).toBe(7);
    expect(lanes.turnIdOf("a")).toBe("t");
    const idle = lanes.idle();
    while (gates.length > 0 || lanes.waiting > 0) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await idle;
    expect(taken).toEqual(Array.from({ length: 9 }, (_, i) => `a:${i}`));
    expect(lanes.turnIdOf("a")).toBeUndefined();
  });
});
