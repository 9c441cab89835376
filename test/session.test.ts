/**
 * Where an event's session is decided (src/codec/session.ts): the unparsed delta
 * shortcut the hub uses to drop deltas of sessions nobody listens to must never
 * name a session the parsed event does not have, nor take another event for a delta.
 */
import { describe, expect, it, vi } from "vitest";
import { deltaFrameSession, sessionOf } from "../src/codec/session.js";
import { loadFixtures, prng } from "./support/fixtures.js";

const frames = loadFixtures().flatMap((f) =>
  f.sse
    .toString("utf8")
    .split(/\r?\n\r?\n/)
    .filter((x) => x.startsWith("data: "))
    .map((x) => x.slice(6)),
);

describe("deltaFrameSession", () => {
  it("agrees with the parsed event on every captured frame", () => {
    let deltas = 0;
    for (const data of frames) {
      const evt = JSON.parse(data) as { type: string; properties: unknown };
      const sid = deltaFrameSession(data);
      if (sid !== undefined) {
        deltas++;
        expect(evt.type).toBe("message.part.delta");
        expect(sid).toBe(sessionOf(evt.type, evt.properties));
      } else if (evt.type === "message.part.delta") {
        // Only a delta that names no session of its own (1.2.x on some) may be left to the parser.
        expect(sessionOf(evt.type, evt.properties)).toBeUndefined();
      }
    }
    expect(deltas).toBeGreaterThan(3000);
  });

  it("never reads a session out of another layout, another type or a value", () => {
    const ses = "ses_x";
    const undecided = [
      `{"type":"message.part.updated","properties":{"sessionID":"${ses}","part":{"type":"message.part.delta"}}}`,
      `{"properties":{"sessionID":"${ses}"},"type":"message.part.delta"}`,
      `{"type":"message.part.delta","properties":{"messageID":"m","sessionID":"${ses}"}}`,
      `{"type":"message.part.deltas","properties":{"sessionID":"${ses}"}}`,
      `{"id":"e","type":"tool","properties":{"input":"{\\"type\\":\\"message.part.delta\\",\\"properties\\":{\\"sessionID\\":\\"${ses}\\"}}"}}`,
      ` {"type":"message.part.delta","properties":{"sessionID":"${ses}"}}`,
      `{"type":"message.part.delta","properties":{"sessionID":"a\\"b"}}`,
    ];
    for (const d of undecided) expect(deltaFrameSession(d), d).toBeUndefined();
    expect(deltaFrameSession(`{"id":"evt_1","type":"message.part.delta","properties":{"sessionID":"${ses}","delta":"x"}}`)).toBe(ses);
  });

  it("on frames cut anywhere, a session is named only when the cut kept the whole prefix", () => {
    const rnd = prng(9);
    const deltas = frames.filter((d) => deltaFrameSession(d) !== undefined).slice(0, 200);
    for (const d of deltas) {
      const cut = d.slice(0, Math.floor(rnd() * d.length));
      const sid = deltaFrameSession(cut);
      if (sid !== undefined) expect(sid).toBe(deltaFrameSession(d));
    }
  });
});

describe("the hub drops deltas of sessions nobody listens to, unparsed, and counts them", () => {
  it("a listener gets its own session's deltas and none of another's; every frame is counted", async () => {
    const { EventHub } = await import("../src/adapter/event-hub.js");
    const { OpencodeHttp } = await import("../src/adapter/http.js");
    const { startReplayServer } = await import("./support/replay-server.js");
    const srv = await startReplayServer([]);
    const hub = new EventHub(new OpencodeHttp({ baseUrl: srv.url, directory: "/d", requestTimeoutMs: 5_000 }), { connectTimeoutMs: 5_000 });
    try {
      const got: string[] = [];
      const unsubscribe = hub.subscribe("ses_a", {
        onEvent: (e) => void got.push(`${e.type}:${e.sessionID}`),
        onIssue: () => {},
        onClose: () => {},
      });
      await hub.open();
      const delta = (s: string, i: number) => `data: {"id":"evt_${i}","type":"message.part.delta","properties":{"sessionID":"${s}","messageID":"m","partID":"p","field":"text","delta":"${i}"}}\n\n`;
      // A broken frame of the unlistened session is dropped unread too (nobody would be told of it).
      srv.broadcast(delta("ses_b", 1) + delta("ses_a", 2) + `data: {"type":"message.part.delta","properties":{"sessionID":"ses_b", broken\n\n` + delta("ses_b", 3) + delta("ses_a", 4));
      await vi.waitFor(() => expect(got).toHaveLength(2));
      expect(got).toEqual(["message.part.delta:ses_a", "message.part.delta:ses_a"]);
      // server.connected + five frames; the broken one was never decoded, so it is no issue.
      expect(hub.stats.events).toBe(6);
      expect(hub.stats.issues).toBe(0);
      unsubscribe();
    } finally {
      hub.close();
      await srv.close();
    }
  });
});
