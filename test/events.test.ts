/**
 * The boundary validation: the allocation-free guard for `message.part.delta`
 * accepts exactly what its zod schema accepts.
 */
import { describe, expect, it } from "vitest";
import { isPartDeltaProps, parseEvent } from "../src/codec/events.js";
import { PartDeltaProps, partSchemaFor, PartUpdatedProps } from "../src/codec/schemas.js";
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

describe("message.part.updated by part type", () => {
  const updates = loadFixtures().flatMap((f) =>
    f.sse
      .toString("utf8")
      .split("\n\n")
      .filter((x) => x.startsWith("data: "))
      .map((x) => JSON.parse(x.slice(6)) as { type: string; properties: Record<string, unknown> })
      .filter((e) => e.type === "message.part.updated"),
  );

  it("accepts exactly what the union schema accepts, with the same data, on real parts and mutations", () => {
    expect(updates.length).toBeGreaterThan(50);
    let checked = 0;
    for (const e of updates.slice(0, 120)) {
      const part = e.properties.part as Record<string, unknown>;
      const variants: unknown[] = [e.properties];
      for (const key of ["type", "id", "messageID", "text", "tool", "state", "callID"]) {
        for (const v of [undefined, 1, "x", null]) {
          const p: Record<string, unknown> = { ...part };
          if (v === undefined) delete p[key];
          else p[key] = v;
          variants.push({ ...e.properties, part: p });
        }
      }
      variants.push({ ...e.properties, part: undefined }, { ...e.properties, delta: 3 });
      for (const v of variants) {
        const ours = parseEvent({ type: "message.part.updated", properties: v });
        const zod = PartUpdatedProps.safeParse(v);
        if (ours.ok !== zod.success) {
          // The only difference allowed: a text/reasoning/tool part that fails its own
          // schema, which the union would have let through as an "other" part.
          const p = (v as { part: { type?: unknown } }).part;
          expect(ours.ok, JSON.stringify(v).slice(0, 200)).toBe(false);
          expect(["text", "reasoning", "tool"]).toContain(p.type);
          expect(partSchemaFor(p.type).safeParse(p).success).toBe(false);
        }
        if (ours.ok && zod.success) expect(ours.event?.properties).toEqual(zod.data);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
