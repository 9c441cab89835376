import { describe, expect, it } from "vitest";
import { backoffDelay, type BackoffPolicy } from "../src/util/backoff.js";

describe("backoffDelay", () => {
  const p: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: "none" };
  it("grows by the factor and stops at the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(p, a))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it("equal jitter stays within [d/2, d]", () => {
    const j = { ...p, jitter: "equal" as const };
    expect(backoffDelay(j, 3, () => 0)).toBe(200);
    expect(backoffDelay(j, 3, () => 0.999999)).toBe(400);
  });
});
