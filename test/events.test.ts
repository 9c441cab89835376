/**
 * The boundary validation: the allocation-free guard for `message.part.delta`
 * accepts exactly what its zod schema accepts.
 */
import { describe, expect, it } from "vitest";
import { isPartDeltaProps, parseEvent, PartDeltaProps } from "../src/codec/events.js";
import { loadFixtures } from "./support/fixtures.js";

const deltas = loadFixtures().flatMap((f) =>
  f.sse
    .toString("utf8")
    .split("\n\n")
    .filter((x) => x.startsWith("data: "))
    .map((x) => JSON.parse(x.slice(6)) as { type: string; properties: Record<string, unknown> })
    .filter((e) => e.type === "message.part.delta")
    .slice(0, 5),
);

describe("message.part.delta guard", () => {
  it("agrees with the zod schema on real deltas and on every single-field mutation of them", () => {
    expect(deltas.length).toBeGreaterThan(10);
    const replacements: unknown[] = [undefined, null, 1, "", "x", {}, [], true];
    let checked = 0;
    for (const e of deltas) {
      const variants: unknown[] = [e.properties, null, "str", []];
      for (const key of ["sessionID", "messageID", "partID", "field", "delta", "extra"]) {
        for (const v of replacements) {
          const copy: Record<string, unknown> = { ...e.properties };
          if (v === undefined) delete copy[key];
          else copy[key] = v;
          variants.push(copy);
        }
      }
      for (const v of variants) {
        expect(isPartDeltaProps(v), JSON.stringify(v)).toBe(PartDeltaProps.safeParse(v).success);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it("a delta that fails the guard still gets zod's precise verdict", () => {
    const e = deltas[0] as { type: string; properties: Record<string, unknown> };
    const bad = parseEvent({ ...e, properties: { ...e.properties, delta: 7 } });
    expect(bad).toMatchObject({ ok: false, type: "message.part.delta" });
    expect(bad.ok === false && bad.reason).toMatch(/properties\.delta/);
    expect(bad.ok === false && bad.sessionID).toBe(e.properties.sessionID);
  });
});
