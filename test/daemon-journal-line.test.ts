/**
 * The journal's reply line is built around the reply's JSON as encoded once for the
 * record, the SSE frames and the webhook (src/sink/encoded.ts): it must be the very
 * line `JSON.stringify({t: "reply", id, r})` gives, and read back to the same reply.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import { Journal, readJournal } from "../src/daemon/journal.js";
import { replyJson } from "../src/sink/encoded.js";

const replies: Reply[] = [
  { kind: "delta", trace_id: "t-1", session_id: "ses_1", seq: 0, content: "plain ", part_id: "prt_1" },
  { kind: "delta", trace_id: "t-1", session_id: "ses_1", seq: 1, content: 'quotes " \\ and \n newlines \u2028 \ud83d\ude00 lone \ud800 end', part_id: "prt_1" },
  { kind: "tool_call", trace_id: "t-1", session_id: "ses_1", seq: 2, call_id: "c1", tool: "bash", input: { command: "echo <>&", nested: { a: [1, 2.5, null, true] } } },
  { kind: "final", trace_id: "t-1", session_id: "ses_1", seq: 3, content: "done" },
] as Reply[];

describe("journal reply lines", () => {
  it("are byte-identical to the entry's JSON.stringify, and read back to the same replies", () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-line-"));
    try {
      const journal = new Journal(dir, { keepFinished: 10, maxBytes: 1 << 20, syncIntervalMs: 200, onError: (e) => { throw e; } });
      journal.open();
      const id = 'turn-"id"\\1';
      journal.turn(id, "t-1", "ses_1", "/tmp", 1, "hash");
      // Encoded first for the record, as the daemon does: the journal reuses that text.
      for (const r of replies) expect(replyJson(r)).toBe(JSON.stringify(r));
      for (const r of replies) journal.reply(id, r);
      journal.end(id, "final");
      journal.close();
      const lines = readFileSync(join(dir, "journal.jsonl"), "utf8").split("\n").filter((l) => l !== "");
      expect(lines.slice(1, 1 + replies.length)).toEqual(replies.map((r) => JSON.stringify({ t: "reply", id, r })));
      const [turn] = readJournal(join(dir, "journal.jsonl"));
      expect(turn?.replies).toEqual(replies);
      expect(turn?.outcome).toBe("final");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
