/**
 * The daemon's options: the adapter settings every session is built with
 * (`toolTimeoutMs`, `verifyAtEnd`, …) are checked when the daemon is built, by
 * the adapter's own schema, so a bad value refuses to start rather than failing
 * every turn later.
 */
import { describe, expect, it } from "vitest";
import { DaemonError } from "../src/daemon/errors.js";
import { parseDaemonOptions, TurnRequestSchema, type DaemonOptionsInput } from "../src/daemon/options.js";
import type { Upstream } from "../src/daemon/upstream.js";

const base = { directory: "/tmp/project", noToken: true, upstream: {} as Upstream } satisfies DaemonOptionsInput;

function refusal(input: DaemonOptionsInput): string {
  try {
    parseDaemonOptions(input);
  } catch (err) {
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe("config");
    return (err as Error).message;
  }
  throw new Error("the options were accepted");
}

describe("daemon options: adapter settings", () => {
  it("good settings pass, and the daemon's own options are parsed as before", () => {
    const o = parseDaemonOptions({ ...base, adapter: { toolTimeoutMs: 5_000, verifyAtEnd: false, permission: "allow", idleTimeoutMs: 1_000 } });
    expect(o).toMatchObject({ directory: "/tmp/project", noToken: true, port: 4_141 });
  });

  it.each([
    [{ toolTimeoutMs: 0 }, "adapter: toolTimeoutMs: toolTimeoutMs must be greater than 0 (got 0)"],
    [{ toolTimeoutMs: -5 }, "adapter: toolTimeoutMs: toolTimeoutMs must be greater than 0 (got -5)"],
    [{ toolTimeoutMs: 1.5 }, "adapter: toolTimeoutMs: toolTimeoutMs must be a whole number of milliseconds (got 1.5)"],
    [{ toolTimeoutMs: "abc" as unknown as number }, 'adapter: toolTimeoutMs: toolTimeoutMs must be a number of milliseconds (got "abc")'],
    // Longer than Node's longest timer: setTimeout would fire at once and end every turn with a tool.
    [{ toolTimeoutMs: 2 ** 31 }, "adapter: toolTimeoutMs: toolTimeoutMs must be at most 2147483647 (about 24.8 days, Node's longest timer) (got 2147483648)"],
    [{ verifyAtEnd: "no" as unknown as boolean }, 'adapter: verifyAtEnd: verifyAtEnd must be true or false (got "no")'],
    [{ permission: "sometimes" as "ask" }, 'adapter: permission must be "reject", "allow", "ask" or a function (got "sometimes")'],
  ])("%j is refused when the daemon is built: %s", (adapter, message) => {
    expect(refusal({ ...base, adapter })).toBe(`invalid daemon options: ${message}`);
  });

  it("every bad adapter setting is named at once", () => {
    const message = refusal({ ...base, adapter: { toolTimeoutMs: 0, idleTimeoutMs: -1 } });
    expect(message).toContain("idleTimeoutMs: idleTimeoutMs must be greater than 0 (got -1)");
    expect(message).toContain("toolTimeoutMs: toolTimeoutMs must be greater than 0 (got 0)");
  });

  it("the daemon's own errors come first (the adapter's are not checked against options that are wrong)", () => {
    expect(refusal({ ...base, port: -1, adapter: { toolTimeoutMs: 0 } })).toMatch(/^invalid daemon options: port: port must be at least 0/);
  });
});

describe("POST /v1/turns: a turn's timeouts", () => {
  it("accepts whole milliseconds up to Node's longest timer, and refuses beyond it, 0, fractions and strings", () => {
    const ok = (t: unknown) => TurnRequestSchema.safeParse({ text: "hi", timeouts: t }).success;
    expect(ok({ first_event_ms: 1, idle_ms: 2_147_483_647, turn_ms: 60_000, tool_ms: 5_000 })).toBe(true);
    for (const key of ["first_event_ms", "idle_ms", "turn_ms", "tool_ms"]) {
      for (const bad of [2 ** 31, 0, -1, 1.5, "5"]) expect(ok({ [key]: bad }), `${key}: ${JSON.stringify(bad)}`).toBe(false);
    }
  });
});
