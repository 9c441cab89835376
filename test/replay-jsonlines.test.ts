import { describe, expect, it } from "vitest";
import { JsonLines } from "../src/cli/json-lines.js";
import { replaySync } from "../src/codec/replay.js";
import type { Reply } from "../src/codec/reply.js";
import { loadFixtures } from "./support/fixtures.js";

const awkward = ["", "plain", 'quo"te \\ back', "new\nline\ttab\r\u0000\u001f\u007f", "é ✓ 𝄞 \u2028\u2029", "\ud800 lone \udfff", "</script>"];

describe("JsonLines (the replay command's JSON Lines)", () => {
  it("writes delta and reasoning replies byte for byte as JSON.stringify does", () => {
    const lines = new JsonLines();
    let seq = 0;
    for (const kind of ["delta", "reasoning"] as const) {
      for (const content of awkward) {
        for (const id of awkward) {
          // The codec's own literal shape (src/codec/text.ts emitText), stamped in place.
          const r = { kind, trace_id: "", session_id: "", seq: -1, content, part_id: id } as Reply;
          Object.assign(r, { trace_id: `t${id}`, session_id: id, seq: seq++ });
          expect(lines.line(r)).toBe(`${JSON.stringify(r)}\n`);
        }
      }
    }
  });

  it("writes a long content in pieces that join to the same line (surrogate pairs across slices, escapes, lone halves)", () => {
    const lines = new JsonLines();
    const unit = 'ab"\\\n\u0001é𝄞\ud800x\udfff\u2028';
    for (const size of [32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 100_003, 300_000]) {
      // Shifted by one character each time, so surrogate pairs land on every side of a slice's end.
      for (const shift of [0, 1, 2, 5, 6]) {
        const content = ("x".repeat(shift) + unit.repeat(Math.ceil(size / unit.length))).slice(0, size);
        for (const r of [
          { kind: "final", trace_id: 't"1', session_id: "ses_1", seq: 7, content } as Reply,
          { kind: "error", trace_id: "t", session_id: "s", seq: 8, error: "e", code: "provider", content } as unknown as Reply,
        ]) {
          const pieces: string[] = [];
          lines.write(r, (p) => pieces.push(p));
          // One piece up to a slice's length; beyond it the opening, every slice and the closing.
          if (size <= 32 * 1024) expect(pieces.length).toBe(1);
          else expect(pieces.length).toBeGreaterThanOrEqual(2 + Math.ceil(size / (32 * 1024)));
          expect(pieces.join("")).toBe(`${JSON.stringify(r)}\n`);
        }
      }
    }
    const short = { kind: "final", trace_id: "t", session_id: "s", seq: 1, content: "hi" } as Reply;
    const pieces: string[] = [];
    lines.write(short, (p) => pieces.push(p));
    expect(pieces).toEqual([`${JSON.stringify(short)}\n`]);
  });

  it.each(loadFixtures().map((f) => [f.name, f] as const))("%s: every reply as JSON.stringify writes it", (_n, f) => {
    const { replies } = replaySync([f.sse]);
    const lines = new JsonLines();
    for (const r of replies) expect(lines.line(r)).toBe(`${JSON.stringify(r)}\n`);
  });
});
