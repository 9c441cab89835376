/**
 * The delta fast path (src/stream/fast-delta.ts) against the generic path
 * (`JSON.parse` + `parseEvent`): whatever it accepts it must parse to the very
 * same event, and it must accept the deltas every captured server sends.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createParser } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { isParsedEvent, parseEvent, type ParsedEvent } from "../src/codec/events.js";
import { parseDeltaFrameFor } from "../src/stream/fast-delta.js";

/** The fast path for a reader that listens to every session (never `UNLISTENED`). */
const parseDeltaFrame = (data: string) => parseDeltaFrameFor(data, undefined) as ParsedEvent | undefined;
import { replaySync } from "../src/codec/replay.js";

const ROOT = join(import.meta.dirname);

/** Every `.sse` under test/fixtures and test/fixtures-pending, every version. */
function sseFiles(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const top of ["fixtures", "fixtures-pending"]) {
    for (const version of readdirSync(join(ROOT, top), { withFileTypes: true })) {
      if (!version.isDirectory()) continue;
      const dir = join(ROOT, top, version.name);
      for (const f of readdirSync(dir).filter((x) => x.endsWith(".sse")).sort()) {
        out.push({ name: `${top}/${version.name}/${f}`, text: readFileSync(join(dir, f), "utf8") });
      }
    }
  }
  return out;
}

/** The `data` of every frame, as eventsource-parser hands it to the decoder. */
function framesOf(text: string): string[] {
  const data: string[] = [];
  const parser = createParser({ onEvent: (e) => data.push(e.data) });
  parser.feed(text);
  return data;
}

/** The generic path's verdict on a frame: its parsed event, or "invalid_json". */
function slow(data: string): ParsedEvent | "invalid_json" {
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    return "invalid_json";
  }
  return parseEvent(payload);
}

/** Fast and slow agree on `data`; returns whether the fast path accepted it. */
function agree(data: string): boolean {
  const fast = parseDeltaFrame(data);
  if (fast === undefined) return false;
  const s = slow(data);
  expect(s, data).not.toBe("invalid_json");
  expect(isParsedEvent(fast)).toBe(true);
  expect(fast, data).toStrictEqual(s);
  // The same keys in the same order, the same strings (toStrictEqual ignores key order).
  expect(JSON.stringify(fast.event), data).toBe(JSON.stringify((s as ParsedEvent).event));
  expect(Object.keys(fast.event?.properties ?? {})).toEqual(Object.keys((s as ParsedEvent).event?.properties ?? {}));
  return true;
}

const files = sseFiles();
const allFrames = files.flatMap((f) => framesOf(f.text));
const deltaFrames = allFrames.filter((d) => d.includes('"message.part.delta"'));

describe("delta fast path", () => {
  it("parses every frame of every fixture as the generic path does, and takes every captured delta", () => {
    expect(files.length).toBeGreaterThan(70);
    expect(files.some((f) => f.name.startsWith("fixtures-pending/"))).toBe(true);
    let accepted = 0;
    for (const data of allFrames) {
      if (agree(data)) accepted++;
    }
    // Each version's deltas are in the captured form (1.2.27 without the top-level id).
    for (const version of ["1.2.27", "1.15.13", "1.18.33"]) {
      const deltas = files.filter((f) => f.name.includes(`/${version}/`)).flatMap((f) => framesOf(f.text)).filter((d) => d.includes('"message.part.delta"'));
      expect(deltas.length, version).toBeGreaterThan(100);
      for (const d of deltas) expect(parseDeltaFrame(d), d).toBeDefined();
    }
    expect(accepted).toBe(deltaFrames.length);
    // Nothing else is taken.
    for (const data of allFrames) if (!data.includes('"message.part.delta"')) expect(parseDeltaFrame(data)).toBeUndefined();
  });

  /** A few real deltas of each shape (with and without id) to mutate. */
  const samples = [
    ...new Set([
      ...deltaFrames.filter((d) => d.startsWith('{"id"')).slice(0, 3),
      ...deltaFrames.filter((d) => d.startsWith('{"type"')).slice(0, 3),
    ]),
  ];
  const withDelta = (d: string, raw: string) => d.replace(/"delta":"(?:[^"\\]|\\.)*"\}\}$/, `"delta":"${raw}"}}`);

  it("agrees on deltas with escapes, odd characters and odd lengths", () => {
    expect(samples.length).toBe(6);
    const raws = [
      "",
      "\\n",
      "a\\\"b",
      "\\\\",
      "\\\\\\\\",
      "\\/",
      "\\u0041",
      "\\u00e9t\\u00E9",
      "\\ud83d\\ude00",
      "\\ud800",
      "\\udc00x",
      "\\ud800\\ud800",
      "\\b\\f\\r\\t",
      "\\u0000",
      "tab\there",
      "ctl\u0001",
      "nl\nx",
      "cr\rx",
      "del\u007f",
      "ls\u2028ps\u2029",
      "lone \ud800 surrogate",
      "lone \udfff",
      "😀 é ß 中文",
      "\\u12",
      "\\u12G4",
      "\\x41",
      "\\",
      "a\\",
      "\\\u2028",
      "\\\n",
      "quote\"inside",
      "x".repeat(70_000),
      "\\n".repeat(5_000),
      "}}",
      "\"}}",
      "<dcp-message-id>m1</dcp-message-id>",
    ];
    let accepted = 0;
    let escaped = 0;
    for (const d of samples) {
      for (const raw of raws) {
        const data = withDelta(d, raw);
        if (agree(data)) {
          accepted++;
          if (raw.includes("\\")) escaped++;
        }
      }
    }
    // Not vacuous: plain and escaped deltas are taken (and checked) on the fast path.
    expect(accepted).toBeGreaterThan(samples.length * 15);
    expect(escaped).toBeGreaterThan(samples.length * 10);
    // Invalid escapes and raw control characters are declined (the generic path reports them).
    for (const d of samples) {
      for (const raw of ["\\u12", "\\x41", "\\", "tab\there", "nl\nx", "\\\n", "quote\"inside"]) {
        expect(parseDeltaFrame(withDelta(d, raw))).toBeUndefined();
      }
    }
  });

  it("agrees on frames with whitespace, other key orders, duplicate or extra keys, other values", () => {
    const mutate = (d: string): string[] => {
      const out: string[] = [];
      out.push(` ${d}`, `${d} `, `${d}\n`, d.replace("{", "{ "), d.replace(/":"/, '": "'), d.replace(/,"/, ', "'), d.replace(/\}\}$/, "} }"));
      out.push(d.replace(/\}\}$/, "}\t}"), d.replace(/\}\}$/, "}}\r"));
      // key order
      out.push(d.replace(/"field":"(\w+)","delta":("(?:[^"\\]|\\.)*")/, '"delta":$2,"field":"$1"'));
      out.push(d.replace(/"sessionID":"(\w+)","messageID":"(\w+)"/, '"messageID":"$2","sessionID":"$1"'));
      out.push(d.replace(/^\{("id":"\w+",)?"type":"message.part.delta",("properties":.*)\}$/, '{$2,$1"type":"message.part.delta"}').replace(",}", "}"));
      // duplicate keys: JSON.parse keeps the last
      out.push(d.replace(/\}\}$/, ',"delta":"second"}}'), d.replace('"sessionID"', '"delta":"first","sessionID"'));
      out.push(d.replace(/\}\}$/, ',"partID":"prt_other"}}'), d.replace(/\}$/, ',"type":"message.part.updated"}'));
      out.push(d.replace('"properties":{', '"properties":{"sessionID":"ses_first",'));
      out.push(d.replace(/\}\}$/, '},"properties":{"partID":"p","field":"text","delta":"x"}}'));
      // extra keys
      out.push(d.replace(/\}\}$/, ',"extra":1}}'), d.replace(/\}$/, ',"extra":{"a":[1]}}'), d.replace("{", '{"extra":null,'));
      // other values
      out.push(d.replace(/"delta":"(?:[^"\\]|\\.)*"/, '"delta":1'), d.replace(/"delta":"(?:[^"\\]|\\.)*"/, '"delta":null'));
      out.push(d.replace(/"partID":"\w+"/, '"partID":5'), d.replace(/"sessionID":"\w+"/, '"sessionID":null'), d.replace(/"field":"\w+"/, '"field":true'));
      out.push(d.replace(/"field":"\w+"/, '"field":"reasoning"'), d.replace(/"field":"\w+"/, '"field":""'), d.replace(/"partID":"\w+"/, '"partID":""'));
      out.push(d.replace(/"sessionID":"\w+",/, ""), d.replace(/"messageID":"\w+",/, ""), d.replace(/"id":"\w+",/, ""));
      out.push(d.replace(/"sessionID":"ses_/, '"sessionID":"ses_\\u0041'), d.replace(/"partID":"prt_/, '"partID":"prt_é'), d.replace(/"partID":"prt_/, '"partID":"prt_ '));
      out.push(d.replace(/"partID":"prt_/, '"partID":"prt_\\/'), d.replace(/"id":"evt_/, '"id":"evt_\\"'), d.replace(/"id":"\w+"/, '"id":7'));
      out.push(d.replace("message.part.delta", "message.part.deltas"), d.replace("message.part.delta", "message\\u002epart.delta"), d.replace('"type"', '"typ\\u0065"'));
      // truncated and garbage
      for (let i = 0; i < d.length; i += 7) out.push(d.slice(0, i), d.slice(i));
      out.push(`${d}}`, `${d}x`, `x${d}`, d.replace(/\}\}$/, "}"), d.replace(/\}\}$/, "]}"), d + d, `[${d}]`);
      return out;
    };
    let checked = 0;
    let accepted = 0;
    for (const d of samples) {
      for (const m of mutate(d)) {
        checked++;
        if (agree(m)) accepted++;
      }
    }
    expect(checked).toBeGreaterThan(500);
    // The mutations that keep the exact form (an empty delta or field, an unchanged frame) are taken.
    expect(accepted).toBeGreaterThan(0);
    // Whitespace, reordered, duplicate and extra keys, non-string values: declined.
    for (const d of samples) {
      expect(parseDeltaFrame(`${d} `)).toBeUndefined();
      expect(parseDeltaFrame(d.replace(/\}\}$/, ',"delta":"second"}}'))).toBeUndefined();
      expect(parseDeltaFrame(d.replace(/\}\}$/, ',"extra":1}}'))).toBeUndefined();
    }
  });

  it("a replay hands onEvent what JSON.parse gives, for fast-parsed frames too", () => {
    for (const f of files.slice(0, 12)) {
      const seen: unknown[] = [];
      replaySync([f.text], { onEvent: (p) => seen.push(p) });
      const expected = framesOf(f.text).flatMap((d) => {
        try {
          return [JSON.parse(d) as unknown];
        } catch {
          return [];
        }
      });
      expect(seen, f.name).toStrictEqual(expected);
    }
  });
});
