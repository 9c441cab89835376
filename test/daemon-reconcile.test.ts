/** Finishing an interrupted turn from OpenCode's record, on a real captured record (1.18.33, the slow scenario). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RecordedMessage } from "../src/adapter/dialect.js";
import type { Reply } from "../src/codec/reply.js";
import { finishFromRecord } from "../src/daemon/reconcile.js";

const record = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "1.18.33", "interleaved.messages.json"), "utf8")) as Record<string, RecordedMessage[]>;
// The session that ran the slow scenario: 200 words in one text part.
const [sessionId, messages] = Object.entries(record).find(([, ms]) => ms.some((m) => JSON.stringify(m.parts).includes("[scenario:slow]"))) as [string, RecordedMessage[]];
const user = messages.find((m) => m.info.role === "user") as RecordedMessage;
const acceptedAt = (user.info.time as { created: number }).created - 200;
const words = Array.from({ length: 200 }, (_, i) => `w${i} `);
const delivered = (n: number): Reply[] =>
  words.slice(0, n).map((content, seq) => ({ kind: "delta", trace_id: "t", session_id: sessionId, seq, content, part_id: "prt_x" }));

describe("finishFromRecord", () => {
  it("finishes with the text not yet reported and a final holding the whole text", () => {
    const out = finishFromRecord(delivered(20), messages, acceptedAt, true);
    expect(out).toEqual([
      { kind: "delta", content: words.slice(20).join(""), part_id: expect.stringMatching(/^prt_/) as unknown as string },
      { kind: "final", content: words.join("") },
    ]);
  });
  it("does not finish a turn whose session is busy, whose record does not continue what was reported, or that started after the record", () => {
    expect(finishFromRecord(delivered(20), messages, acceptedAt, false)).toBeUndefined();
    const other: Reply[] = [{ kind: "delta", trace_id: "t", session_id: sessionId, seq: 0, content: "something else", part_id: "prt_x" }];
    expect(finishFromRecord(other, messages, acceptedAt, true)).toBeUndefined();
    expect(finishFromRecord([], messages, acceptedAt + 60_000, true)).toBeUndefined();
  });
});
