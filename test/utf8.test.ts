/**
 * Utf8Stream (src/stream/utf8.ts) decodes as TextDecoder's streaming mode does:
 * random bytes (valid and invalid UTF-8, BOMs, cut characters) split at random
 * points give the same text, chunk for chunk joined, as `new TextDecoder().decode`.
 */
import { describe, expect, it } from "vitest";
import { Utf8Stream } from "../src/stream/utf8.js";
import { prng } from "./support/fixtures.js";

/** Bytes where UTF-8 decoding has edges: leads of every length, continuations, never-valid bytes, the BOM's. */
const EDGES = [0x00, 0x0a, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbb, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];

function streamed(bytes: Uint8Array, cuts: number[]): string {
  const d = new Utf8Stream();
  let out = "";
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    out += d.decode(bytes.subarray(from, to));
    from = to;
  }
  return out + d.end();
}

describe("Utf8Stream", () => {
  it("random bytes in random chunks: what TextDecoder gives for the whole", () => {
    const next = prng(24);
    for (let i = 0; i < 20_000; i++) {
      const bytes = new Uint8Array(Math.floor(next() * 16));
      for (let j = 0; j < bytes.length; j++) bytes[j] = next() < 0.6 ? EDGES[Math.floor(next() * EDGES.length)]! : Math.floor(next() * 256);
      if (next() < 0.1) bytes.set([0xef, 0xbb, 0xbf].slice(0, bytes.length));
      const cuts: number[] = [];
      for (let p = Math.floor(next() * 4); p < bytes.length; p += 1 + Math.floor(next() * 4)) cuts.push(p);
      expect(streamed(bytes, cuts), [...bytes].map((b) => b.toString(16)).join(" ")).toBe(new TextDecoder().decode(bytes));
    }
  });

  it("text of every width cut at every byte; a BOM dropped only at the start", () => {
    const text = "\ufeffa é € 😀 \ufeff z";
    const bytes = new TextEncoder().encode(text);
    for (let cut = 0; cut <= bytes.length; cut++) expect(streamed(bytes, [cut])).toBe(text.slice(1));
    for (let a = 0; a < 4; a++) expect(streamed(bytes, [a, a + 1, a + 2])).toBe(new TextDecoder().decode(bytes));
  });

  it("a character cut by the end of the stream is U+FFFD, as TextDecoder says", () => {
    const bytes = new Uint8Array([0x61, 0xf0, 0x9f, 0x98]);
    expect(streamed(bytes, [2])).toBe(new TextDecoder().decode(bytes));
    expect(streamed(bytes, [2])).toBe("a\ufffd");
  });
});
