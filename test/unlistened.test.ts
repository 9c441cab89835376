/**
 * Frames of sessions nobody listens to are told from their raw text
 * (src/stream/unlistened.ts): whatever it skips, the parse would have dropped
 * (`parseEventFor` answers undefined and the frame announces no child session),
 * on every frame of every captured 1.x stream and on mutated frames; and it does
 * skip what a busy unlistened session sends. Then through the hub over loopback:
 * a listener of 1 of 100 sessions gets exactly the events the parse gives it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createParser } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { parseEvent, parseEventFor, type ParsedEvent } from "../src/codec/events.js";
import { childOf } from "../src/adapter/dialect-v1.js";
import { EventHub } from "../src/adapter/event-hub.js";
import { createDialect } from "../src/adapter/line.js";
import { unlistened } from "../src/stream/unlistened.js";
import { parseDeltaFrameFor, UNLISTENED } from "../src/stream/fast-delta.js";
import { sessionOf } from "../src/codec/session.js";

const FIXTURES = join(import.meta.dirname, "fixtures");

/** The `data` of every frame of every 1.x capture. */
function frames(): string[] {
  const out: string[] = [];
  for (const v of readdirSync(FIXTURES, { withFileTypes: true })) {
    if (!v.isDirectory() || !/^1\./.test(v.name)) continue;
    for (const f of readdirSync(join(FIXTURES, v.name)).filter((x) => x.endsWith(".sse")).sort()) {
      const parser = createParser({ onEvent: (e) => out.push(e.data) });
      parser.feed(readFileSync(join(FIXTURES, v.name, f), "utf8"));
    }
  }
  return out;
}

/** What the parse does with the frame for `listening`: the event routed (undefined: dropped) and a child announced. */
function parsed(data: string, listening: (s: string) => boolean): { evt: ParsedEvent | undefined; child: unknown } {
  const payload = JSON.parse(data) as unknown;
  return { evt: parseEventFor(payload, listening), child: childOf(payload) };
}

/** Skipped (the pre-scan, or the delta fast path told the session) only if the parse would drop it. */
function check(data: string, listening: (s: string) => boolean): boolean {
  const fast = parseDeltaFrameFor(data, listening);
  if (fast !== UNLISTENED) expect(fast).toStrictEqual(parseDeltaFrameFor(data, undefined));
  const skip = fast === UNLISTENED || unlistened(data, listening);
  if (skip) {
    const p = parsed(data, listening);
    expect(p.evt, data.slice(0, 200)).toBeUndefined();
    expect(p.child, data.slice(0, 200)).toBeUndefined();
  }
  return skip;
}

const sessionOfFrame = (data: string) => {
  const p = JSON.parse(data) as { type?: string; properties?: unknown };
  return sessionOf(p.type, p.properties);
};

describe("frames of sessions nobody listens to (src/stream/unlistened.ts)", () => {
  const all = frames();

  it("skips only what the parse drops, on every frame of every 1.x capture, whoever listens", () => {
    expect(all.length).toBeGreaterThan(5_000);
    const sessions = [...new Set(all.map(sessionOfFrame).filter((s): s is string => s !== undefined))];
    let skipped = 0;
    let ofSessions = 0;
    for (const data of all) {
      const own = sessionOfFrame(data);
      if (own !== undefined && !(JSON.parse(data) as { type: string }).type.startsWith("session.")) ofSessions++;
      // Nobody listens; everybody does; only the frame's own session; every session but its own.
      if (check(data, () => false)) skipped++;
      expect(check(data, () => true)).toBe(false);
      if (own !== undefined) {
        expect(check(data, (s) => s === own)).toBe(false);
        check(data, (s) => s !== own);
      }
      check(data, (s) => s === sessions[0]);
    }
    // Not vacuous: what a busy session sends (deltas, parts, messages, requests) is skipped.
    expect(skipped).toBe(ofSessions);
  });

  it("mutated frames: a later or duplicate sessionID that is listened, escapes, spaces, session.* types and odd ids are parsed", () => {
    const L = (s: string) => s === "ses_L";
    const cases: [string, boolean][] = [
      ['{"type":"message.part.delta","properties":{"sessionID":"ses_U","messageID":"m","partID":"p","field":"text","delta":"x"}}', true],
      ['{"type":"message.part.delta","properties":{"sessionID":"ses_L","messageID":"m","partID":"p","field":"text","delta":"x"}}', false],
      // properties.sessionID after the part's: it is the session (sessionOf reads it first).
      ['{"type":"message.part.updated","properties":{"part":{"id":"p","sessionID":"ses_U","type":"text"},"sessionID":"ses_L"}}', false],
      // A duplicate key: JSON.parse keeps the last.
      ['{"type":"message.part.delta","properties":{"sessionID":"ses_U","sessionID":"ses_L","delta":"x"}}', false],
      ['{"type":"message.part.delta","properties":{"sessionID":"ses_U","sessionID" :"ses_L"}}', false],
      ['{"type":"message.part.delta","properties":{"sessionID":"ses_U","x":"sessionID"}}', false],
      ['{"type":"message.part.delta","properties":{"sessionID": "ses_U","delta":"x"}}', false],
      ['{"type":"message.part.delta","properties":{"sessionID":"ses\\u005fU","delta":"x"}}', false],
      ['{"type":"message.part.delta","properties":{"sessionID":"ses.U","delta":"x"}}', false],
      ['{"type":"message.part.delta","properties":{"delta":"x","sessionID":"ses_U"}}', false],
      ['{"type":"session.status","properties":{"sessionID":"ses_U","status":{"type":"busy"}}}', false],
      ['{"type":"session.created","properties":{"info":{"id":"ses_C","sessionID":"ses_U","parentID":"ses_L"}}}', false],
      ['{"type":"message.updated","properties":{"info":{"id":"m","sessionID":"ses_U","role":"user"}}}', true],
      ['{"id":"e","type":"permission.asked","properties":{"id":"per","sessionID":"ses_U","permission":"bash"}}', true],
      ['{"type":"server.connected","properties":{}}', false],
    ];
    for (const [data, skip] of cases) {
      expect(unlistened(data, L) || parseDeltaFrameFor(data, L) === UNLISTENED, data).toBe(skip);
      expect(check(data, L)).toBe(skip);
    }
  });

  it("through the hub over loopback: the listener of 1 of 100 sessions gets exactly the events the parse routes to it", async () => {
    // 100 sessions' frames interleaved: the captured deltas/parts of each, with fresh session ids.
    const template = all.filter((d) => d.includes('"ses_') && !d.includes('"type":"session.'));
    const mine = template.slice(0, 400);
    const stream: string[] = [];
    for (let i = 0; i < mine.length; i++) {
      for (let s = 0; s < 100; s++) stream.push(mine[i]!.replace(/"ses_[A-Za-z0-9]+"/g, `"ses_bench${s}"`));
    }
    const listened = "ses_bench42";
    const expected = stream.map((d) => parseEvent(JSON.parse(d) as unknown)).filter((e) => e.sessionID === listened);
    expect(expected.length).toBe(mine.length);
    const body = `data: ${JSON.stringify({ type: "server.connected", properties: {} })}\n\n${stream.map((d) => `data: ${d}\n\n`).join("")}`;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const hub = new EventHub(createDialect({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, directory: "/tmp", line: 1 }), { connectTimeoutMs: 10_000 });
    const got: ParsedEvent[] = [];
    let done!: () => void;
    const ended = new Promise<void>((r) => (done = r));
    const off = hub.subscribe(listened, { onEvent: (e) => void got.push(e), onIssue: () => {}, onGap: () => done(), onClose: () => done() });
    try {
      await hub.open();
      await ended;
      expect(got).toStrictEqual(expected);
      // Every frame counted, skipped or not; none reported as an issue.
      expect(hub.stats.events).toBe(stream.length + 1);
      expect(hub.stats.issues).toBe(0);
    } finally {
      off();
      hub.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
