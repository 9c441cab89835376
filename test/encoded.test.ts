/**
 * `replyJson` (src/sink/encoded.ts) writes text replies by hand, trusting the key order
 * the codecs build them in: every reply of every captured fixture — OpenCode 1.x and
 * 2.x streams, ACP agents' traffic — as the codecs make them, encodes to exactly
 * `JSON.stringify`, whether asked once, twice in a row or interleaved with other turns.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCapture, replayAcpCapture } from "../src/acp/replay.js";
import { replaySync } from "../src/codec/replay.js";
import type { Reply } from "../src/codec/reply.js";
import { replayV2Sync } from "../src/codec/v2/index.js";
import { replyJson } from "../src/sink/encoded.js";
import { FIXTURES, loadFixtures } from "./support/fixtures.js";

function streams(): [string, Reply[]][] {
  const out: [string, Reply[]][] = [];
  for (const f of loadFixtures(1)) out.push([f.name, replaySync([f.sse], { traceId: `trace-${f.scenario}` }).replies]);
  for (const f of loadFixtures(2)) out.push([f.name, replayV2Sync([f.sse], { traceId: `trace-${f.scenario}` }).replies]);
  for (const agent of readdirSync(join(FIXTURES, "acp"))) {
    for (const file of readdirSync(join(FIXTURES, "acp", agent)).filter((x) => x.endsWith(".jsonl"))) {
      const capture = parseCapture(readFileSync(join(FIXTURES, "acp", agent, file), "utf8"));
      out.push([`acp/${agent}/${file}`, replayAcpCapture(capture).replies]);
    }
  }
  return out;
}

describe("replyJson is JSON.stringify, byte for byte", () => {
  const all = streams();

  it("covers every line's text replies", () => {
    const text = (prefix: string) => all.filter(([n]) => n.startsWith(prefix)).flatMap(([, r]) => r).filter((r) => r.kind === "delta" || r.kind === "reasoning");
    for (const prefix of ["1.", "2.", "acp/opencode", "acp/claude", "acp/codex"]) expect(text(prefix).length, prefix).toBeGreaterThan(0);
    expect(all.flatMap(([, r]) => r).some((r) => r.kind === "reasoning")).toBe(true);
  });

  it.each(all)("%s", (_name, replies) => {
    for (const r of replies) {
      expect(replyJson(r)).toBe(JSON.stringify(r));
      // Asked again at once (the daemon's journal, then the turn's record): the same text.
      expect(replyJson(r)).toBe(JSON.stringify(r));
    }
  });

  it("replies of several turns interleaved, and a text reply with escapes and non-BMP characters", () => {
    const replies = all.flatMap(([, r]) => r);
    const mixed = replies.map((_, i) => replies[(i * 7919) % replies.length]!);
    for (const r of mixed) expect(replyJson(r)).toBe(JSON.stringify(r));
    const odd: Reply = { kind: "delta", trace_id: 't"1\\', session_id: "s\u2028", seq: 3, content: 'a "q" \\ \n\t \u0001 😀 \ud800', part_id: "p\u0000" };
    expect(replyJson(odd)).toBe(JSON.stringify(odd));
  });
});
