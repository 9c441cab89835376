import { describe, expect, it } from "vitest";
import { createTagFilter, flushTagFilter, pushTagFilter, stripTags } from "../src/codec/tags.js";
import { prng } from "./support/fixtures.js";

function streamed(pieces: string[]): string {
  const f = createTagFilter();
  return pieces.map((p) => pushTagFilter(f, p)).join("") + flushTagFilter(f);
}

function splits(s: string, seed: number): string[] {
  const rnd = prng(seed);
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const n = 1 + Math.floor(rnd() * 6);
    out.push(s.slice(i, i + n));
    i += n;
  }
  return out;
}

describe("plugin tag filter", () => {
  const cases: [string, string][] = [
    ["Kept text <dcp-message-id>m0042</dcp-message-id> and more", "Kept text  and more"],
    ["a<dcp-x attr=\"1\">hidden\nlines</dcp-x>b", "ab"],
    ["self <dcp-marker/> closing", "self  closing"],
    ["stray </dcp-message-id> close", "stray  close"],
    ["x < y and a <b>bold</b> <dcp", "x < y and a <b>bold</b> <dcp"],
    ["<dcp-unclosed>never closed", "<dcp-unclosed>never closed"],
    ["emoji 🧪<dcp-id>1</dcp-id>🚀 日本", "emoji 🧪🚀 日本"],
    ["<<dcp-a>q</dcp-a>>", "<>"],
    ["", ""],
  ];

  it.each(cases)("%j → %j whole and in every split", (input, expected) => {
    expect(stripTags(input)).toBe(expected);
    for (let seed = 1; seed <= 25; seed++) expect(streamed(splits(input, seed))).toBe(expected);
    expect(streamed([...input])).toBe(expected);
  });

  it("passes text without '<' straight through and holds back only a possible tag", () => {
    const f = createTagFilter();
    expect(pushTagFilter(f, "plain text")).toBe("plain text");
    expect(pushTagFilter(f, "then <dc")).toBe("then ");
    expect(pushTagFilter(f, "x")).toBe("<dcx");
    expect(f.hold).toBe("");
  });

  it("releases a held tail that grows past the bound", () => {
    const f = createTagFilter();
    const out = pushTagFilter(f, "<dcp-open>" + "y".repeat(5000));
    expect(out.length).toBeGreaterThan(4000);
    expect(out + flushTagFilter(f)).toBe("<dcp-open>" + "y".repeat(5000));
  });
});
