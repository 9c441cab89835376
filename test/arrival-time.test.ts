/**
 * An event's arrival time, on the adapter's clock: the hub notes when each chunk
 * arrived and the router hands that time with every event, so a turn re-arms its
 * idle deadline without reading the clock per streamed token.
 * - the router passes its arrival time to `onEvent` and `onChildEvent`;
 * - the idle deadline runs from the time given (not from when it was handled);
 * - hubs are shared only between adapters with the same clock (the time is the hub's).
 */
import { describe, expect, it } from "vitest";
import pino from "pino";
import { parseEvent, type ParsedEvent } from "../src/codec/events.js";
import { SessionRouter, type HubListener } from "../src/adapter/router.js";
import { childOf } from "../src/adapter/dialect-v1.js";
import { Liveness } from "../src/adapter/liveness.js";
import { hubKey } from "../src/adapter/shared-hub.js";
import { parseAdapterConfig } from "../src/adapter/config.js";
import { realClock } from "../src/util/clock.js";
import { fixtureNamed, framesOf, ManualClock } from "./support/replay-server.js";

const log = pino({ enabled: false });

/** Parsed events of a captured turn (never a hand-written shape). */
function capturedEvents(name: string): ParsedEvent[] {
  return framesOf(fixtureNamed(name).sse).map((d) => parseEvent(JSON.parse(d)));
}

describe("the router hands each event its arrival time", () => {
  it("to the session's listeners and, for a child session's event, to the root's", () => {
    let now = 1_000;
    const router = new SessionRouter(() => now);
    const events = capturedEvents("1.18.33/subagent");
    const root = fixtureNamed("1.18.33/subagent").golden[0]?.session_id ?? "";
    const seen: { kind: string; at: number }[] = [];
    const listener: HubListener = {
      onEvent: (_e, at) => seen.push({ kind: "event", at }),
      onChildEvent: (_e, at) => seen.push({ kind: "child", at }),
      onIssue() {},
      onClose() {},
    };
    router.add(root, listener);
    for (const e of events) {
      now += 7;
      const child = childOf(e.event);
      if (child !== undefined) router.adopt(child.child, child.parent);
      router.route(e);
    }
    const events_ = seen.filter((s) => s.kind === "event");
    const children = seen.filter((s) => s.kind === "child");
    expect(events_.length).toBeGreaterThan(0);
    expect(children.length).toBeGreaterThan(0); // the capture has a subagent
    // Every event got the time current when it was routed, in order.
    for (let i = 1; i < seen.length; i++) expect((seen[i]?.at ?? 0) > (seen[i - 1]?.at ?? 0)).toBe(true);
    expect(seen.every((s) => (s.at - 1_000) % 7 === 0)).toBe(true);
  });
});

describe("the idle deadline runs from the event's arrival", () => {
  function liveness(clock: ManualClock, expired: string[]) {
    const cfg = parseAdapterConfig({ baseUrl: "http://127.0.0.1:9", directory: "/tmp/x" }, {});
    return new Liveness(
      { ...cfg, clock, idleTimeoutMs: 1_000, firstEventTimeoutMs: 5_000, turnTimeoutMs: 1_000_000 },
      { expire: (code, message) => expired.push(`${clock.now()} ${code} ${message}`), settle() {} },
      { waiting: 0 },
      log,
      { sessionId: "ses_x", traceId: "t" },
    );
  }

  it("an event handled at 900 that arrived at 850 expires the turn at 1,850", () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const l = liveness(clock, expired);
    l.started();
    l.activity(0);
    clock.advance(900);
    l.activity(850);
    clock.advance(949); // t = 1,849
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(["1850 timeout no event from OpenCode for 1000 ms"]);
    l.ended();
  });

  it("without an arrival time, from now", () => {
    const clock = new ManualClock();
    const expired: string[] = [];
    const l = liveness(clock, expired);
    l.started();
    l.activity();
    clock.advance(900);
    l.activity();
    clock.advance(999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(["1900 timeout no event from OpenCode for 1000 ms"]);
    l.ended();
  });
});

describe("hubs are shared only between adapters that keep time alike", () => {
  const base = { baseUrl: "http://127.0.0.1:9", directory: "/tmp/x" };
  it("same clock: one key; another clock: another key", () => {
    const a = new ManualClock();
    const b = new ManualClock();
    const key = (clock?: ManualClock) => hubKey(parseAdapterConfig({ ...base, ...(clock ? { clock } : {}) }, {}), undefined);
    expect(key(a)).toBe(key(a));
    expect(key(a)).not.toBe(key(b));
    expect(key()).toBe(key());
    expect(key()).toBe(hubKey(parseAdapterConfig({ ...base, clock: realClock }, {}), undefined));
    expect(key()).not.toBe(key(a));
  });
});
