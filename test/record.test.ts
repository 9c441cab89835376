/**
 * The one record → replies path (src/codec/record.ts) on real captures: a turn
 * recovered from OpenCode's record, with 0, half or all of its replies already
 * delivered, ends with the live turn's replies — tags stripped, reasoning kept,
 * usage, model and titles as live.
 */
import { describe, expect, it } from "vitest";
import { Envelope } from "../src/codec/envelope.js";
import { answerFinished, continueAfter, recordReplies, type RecordMessage } from "../src/codec/record.js";
import type { Reply } from "../src/codec/reply.js";
import { judgeFromRecord } from "../src/daemon/reconcile.js";
import { loadFixtures } from "./support/fixtures.js";

const fixtures = loadFixtures().filter((f) => f.version === "1.18.33");

/** Consecutive text of one part merged into one reply, seq dropped: what a reader of the turn sees. */
function readable(replies: readonly Reply[]): unknown[] {
  const out: Record<string, unknown>[] = [];
  for (const r of replies) {
    const { seq: _seq, ...rest } = r;
    const last = out[out.length - 1];
    if ((r.kind === "delta" || r.kind === "reasoning") && last && last.kind === r.kind && last.part_id === r.part_id) {
      last.content = `${last.content as string}${r.content}`;
    } else out.push({ ...rest });
  }
  return out;
}

function turnOf(name: string) {
  const f = fixtures.find((x) => x.scenario === name);
  if (!f) throw new Error(`no fixture ${name}`);
  const sessionId = f.golden[0]?.session_id as string;
  const messages = f.record[sessionId] as unknown as RecordMessage[];
  const user = messages.find((m) => m.info.role === "user") as RecordMessage;
  return { golden: f.golden, messages, sessionId, traceId: f.golden[0]?.trace_id as string, messageId: user.info.id };
}

describe("recovering a turn from OpenCode's record", () => {
  for (const name of ["plugin-tag", "reasoning", "tool", "two-tools"]) {
    const t = turnOf(name);
    const n = t.golden.length - 1; // the replies before the terminal one
    for (const k of [0, Math.floor(n / 2), n]) {
      it(`${name}: ${k} of ${n} replies delivered, the rest from the record gives the live turn`, () => {
        const delivered = t.golden.slice(0, k);
        const v = judgeFromRecord(delivered, t.messages, t, true);
        expect(v.kind).toBe("finished");
        const env = new Envelope(t.traceId);
        env.seq = k;
        const rest = (v as { bodies: Reply[] }).bodies.map((b) => env.stamp({ ...b }, t.sessionId));
        const whole = [...delivered, ...rest];
        expect(whole.map((r) => r.seq)).toEqual(whole.map((_, i) => i));
        if (name === "two-tools") {
          // Two tools run in parallel: live, both calls come before both results; the record
          // holds them part by part. The same replies, in the record's order.
          const sorted = (rs: readonly Reply[]) => readable(rs).map((r) => JSON.stringify(r)).sort();
          expect(sorted(whole)).toEqual(sorted(t.golden));
        } else expect(readable(whole)).toEqual(readable(t.golden));
      });
    }
  }

  it("plugin-tag: the recovered text is tag-free", () => {
    const t = turnOf("plugin-tag");
    const { bodies } = recordReplies(t.messages, { ...t, userMessageId: t.messageId });
    expect(bodies.at(-1)).toMatchObject({ kind: "final", content: "Kept text  and more text." });
  });

  it("the turn is identified by its own message id only: another turn's answer never finishes it", () => {
    const t = turnOf("reasoning");
    const other = { ...t, messageId: "msg_ffffffffffff0000000000000" };
    expect(answerFinished(t.messages, other.messageId)).toBe(false);
    expect(judgeFromRecord([], t.messages, other, true)).toEqual({ kind: "never_sent" });
    expect(judgeFromRecord([], t.messages, { ...t, messageId: undefined }, true)).toEqual({ kind: "never_sent" });
    expect(judgeFromRecord([], t.messages, other, false)).toEqual({ kind: "running" });
  });

  it("a record that does not continue what was delivered does not finish the turn", () => {
    const t = turnOf("plugin-tag");
    const wrong: Reply[] = [{ ...(t.golden[0] as Reply & { kind: "delta" }), content: "Something else" }];
    expect(judgeFromRecord(wrong, t.messages, t, true).kind).toBe("lost");
    // Delivered text the record lacks.
    const more: Reply[] = [...t.golden.slice(0, -1), { ...(t.golden[0] as Reply & { kind: "delta" }), seq: 3, content: " extra" }];
    expect(continueAfter(more, recordReplies(t.messages, { ...t, userMessageId: t.messageId }).bodies)).toBeUndefined();
    // A turn already ended is not continued.
    expect(continueAfter(t.golden, recordReplies(t.messages, { ...t, userMessageId: t.messageId }).bodies)).toBeUndefined();
  });

  it("a session still busy is running, an unfinished answer of an idle session is lost", () => {
    const t = turnOf("reasoning");
    expect(judgeFromRecord([], t.messages, t, false)).toEqual({ kind: "running" });
    const open = t.messages.map((m) => (m.info.role === "assistant" ? { ...m, info: { ...m.info, time: { created: 1 } } } : m));
    expect(judgeFromRecord([], open, t, true).kind).toBe("lost");
  });
});
