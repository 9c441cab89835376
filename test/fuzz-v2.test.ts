/**
 * Fuzzing the 2.x path (decoder → src/codec/v2 translator → reducer) with the
 * real 2.1.2 captures, mutated: events dropped, duplicated, shuffled within a
 * window, fields deleted or given the wrong type, types swapped, the stream cut
 * at a random byte or its bytes flipped. Whatever comes in, the replies keep the
 * contract (exactly one terminal, calls before results once per call id, final =
 * the deltas) and nothing throws. Seeded: a failure names its seed.
 */
import { describe, expect, it } from "vitest";
import { contractViolations } from "../src/codec/reply.js";
import { createV2Translator, replayV2Sync } from "../src/codec/v2/index.js";
import { loadFixtures, prng } from "./support/fixtures.js";

const fixtures = loadFixtures(2).filter((f) => f.sse.length < 500_000);

/** The decoded payloads of a capture, in order. */
function payloads(sse: Buffer): unknown[] {
  return sse
    .toString("utf8")
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => JSON.parse(f.slice(6)) as unknown);
}

const frame = (p: unknown) => `data: ${JSON.stringify(p)}\n\n`;
const WRONG: unknown[] = [null, 42, "x", [], {}, true, -1, "", { nested: [1] }];

function mutate(events: unknown[], rnd: () => number): unknown[] {
  const out = structuredClone(events) as Record<string, unknown>[];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const n = 1 + Math.floor(rnd() * 6);
  for (let k = 0; k < n && out.length > 0; k++) {
    const i = Math.floor(rnd() * out.length);
    const e = out[i] as Record<string, unknown>;
    const data = (typeof e.data === "object" && e.data !== null ? e.data : {}) as Record<string, unknown>;
    switch (Math.floor(rnd() * 8)) {
      case 0:
        out.splice(i, 1);
        break;
      case 1:
        out.splice(i, 0, structuredClone(e));
        break;
      case 2: {
        const j = Math.min(out.length - 1, i + 1 + Math.floor(rnd() * 5));
        [out[i], out[j]] = [out[j] as Record<string, unknown>, e];
        break;
      }
      case 3: {
        const keys = Object.keys(data);
        if (keys.length > 0) delete data[pick(keys)];
        break;
      }
      case 4: {
        const keys = Object.keys(data);
        if (keys.length > 0) data[pick(keys)] = pick(WRONG);
        break;
      }
      case 5:
        e.type = (pick(out) as { type?: unknown }).type;
        break;
      case 6:
        e.data = pick(WRONG);
        break;
      default:
        out.length = i; // truncated
    }
  }
  return out;
}

describe("fuzzed 2.x events", () => {
  it("keep the reply contract: 0 violations, exactly one terminal, no throw", () => {
    let cases = 0;
    const violations: string[] = [];
    for (const f of fixtures) {
      const events = payloads(f.sse);
      for (let seed = 1; seed <= 40; seed++) {
        const rnd = prng(seed * 7919 + f.scenario.length);
        const mutated = mutate(events, rnd).map(frame).join("");
        const { replies } = replayV2Sync([mutated], { traceId: "fuzz" });
        cases++;
        const terminals = replies.filter((r) => r.kind === "final" || r.kind === "error").length;
        for (const v of contractViolations(replies)) violations.push(`${f.name} seed ${seed}: ${v}`);
        if (terminals !== 1) violations.push(`${f.name} seed ${seed}: ${terminals} terminals`);
      }
    }
    expect(violations).toEqual([]);
    expect(cases).toBeGreaterThanOrEqual(600);
  });

  it("bytes cut at a random offset or flipped keep the contract", () => {
    const violations: string[] = [];
    for (const f of fixtures) {
      for (let seed = 1; seed <= 15; seed++) {
        const rnd = prng(seed);
        const bytes = Buffer.from(f.sse);
        const cut = bytes.subarray(0, Math.floor(rnd() * bytes.length));
        for (let k = 0; k < 20; k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
        for (const input of [cut, bytes]) {
          const { replies } = replayV2Sync([input], { traceId: "fuzz" });
          for (const v of contractViolations(replies)) violations.push(`${f.name} seed ${seed}: ${v}`);
          expect(replies.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(1);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it("the translator never throws and answers arrays for any input", () => {
    const t = createV2Translator();
    const odd: unknown[] = [undefined, null, 1, "s", [], {}, { type: 3 }, { type: "session.text.delta" }, { type: "session.text.delta", data: null }];
    for (const f of fixtures) for (const e of payloads(f.sse)) odd.push({ ...(e as object), data: WRONG[f.scenario.length % WRONG.length] });
    for (const x of odd) expect(Array.isArray(t.translate(x))).toBe(true);
  });
});
