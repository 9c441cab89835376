import { describe, expect, it } from "vitest";
import { JsonLines } from "../src/cli/replay.js";
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

  it.each(loadFixtures().map((f) => [f.name, f] as const))("%s: every reply as JSON.stringify writes it", (_n, f) => {
    const { replies } = replaySync([f.sse]);
    const lines = new JsonLines();
    for (const r of replies) expect(lines.line(r)).toBe(`${JSON.stringify(r)}\n`);
  });
});
