/** Finishing an interrupted turn from OpenCode's record, on a real captured record (1.18.33, the slow scenario). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RecordMessage } from "../src/codec/record.js";
import type { Reply } from "../src/codec/reply.js";
import { judgeFromRecord } from "../src/daemon/reconcile.js";

const record = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "1.18.33", "interleaved.messages.json"), "utf8")) as Record<string, RecordMessage[]>;
// The session that ran the slow scenario: 200 words in one text part.
const [sessionId, messages] = Object.entries(record).find(([, ms]) => ms.some((m) => JSON.stringify(m.parts).includes("[scenario:slow]"))) as [string, RecordMessage[]];
const user = messages.find((m) => m.info.role === "user") as RecordMessage;
// The turn is known by its own user message id (journaled before its prompt was sent).
const turn = { traceId: "t", sessionId, messageId: user.info.id };
const words = Array.from({ length: 200 }, (_, i) => `w${i} `);
// The answer's text part, as the live stream named it.
const partId = (messages.flatMap((m) => (m.info.role === "assistant" ? (m.parts ?? []) : [])) as { type: string; id: string }[]).find((p) => p.type === "text")?.id as string;
const delivered = (n: number): Reply[] =>
  words.slice(0, n).map((content, seq) => ({ kind: "delta", trace_id: "t", session_id: sessionId, seq, content, part_id: partId }));

describe("judgeFromRecord", () => {
  it("finishes with the text not yet reported and a final holding the whole text", () => {
    const verdict = judgeFromRecord(delivered(20), messages, turn, true);
    expect(verdict.kind).toBe("finished");
    const out = verdict.kind === "finished" ? verdict.bodies : undefined;
    // Bodies as the codec makes them (envelope stamped later); the final carries usage and model as a live one.
    expect(out).toMatchObject([
      { kind: "delta", content: words.slice(20).join(""), part_id: expect.stringMatching(/^prt_/) as unknown as string },
      { kind: "final", content: words.join("") },
    ]);
    expect(out).toHaveLength(2);
  });
  it("does not finish a turn whose session is busy, whose record does not continue what was reported, or whose prompt is not in the record", () => {
    expect(judgeFromRecord(delivered(20), messages, turn, false)).toEqual({ kind: "running" });
    const other: Reply[] = [{ kind: "delta", trace_id: "t", session_id: sessionId, seq: 0, content: "something else", part_id: "prt_x" }];
    expect(judgeFromRecord(other, messages, turn, true)).toEqual({ kind: "lost", why: "OpenCode's record does not continue what the turn had already reported" });
    expect(judgeFromRecord([], messages, { ...turn, messageId: "msg_ffffffffffffZZZZZZZZZZZZZZ" }, true)).toEqual({ kind: "never_sent" });
  });
});
