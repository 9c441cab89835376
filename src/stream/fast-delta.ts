/**
 * A fast path for the hottest frame: `message.part.delta` in the exact form every
 * captured server writes it (one per streamed token, > 90 % of a streaming turn):
 *
 *   {"id":"evt_…","type":"message.part.delta","properties":{"sessionID":"ses_…",
 *    "messageID":"msg_…","partID":"prt_…","field":"text","delta":"…"}}
 *
 * (1.15.13, 1.18.33; 1.2.27 writes it without the `id`; test/fixtures). OpenCode 1.x only:
 * the 1.x dialect (src/adapter/dialect-v1.ts) and replay ask for it. Such a
 * frame is read with one anchored regular expression instead of `JSON.parse` + the
 * generic validation (irregexp: ~0.15 µs a frame against ~0.55 µs for `JSON.parse`);
 * the result is the parsed event `parseEvent(JSON.parse(data))` gives — the same
 * object, key for key, value for value.
 *
 * Invariant: `parseDeltaFrameFor(data, undefined)` is either undefined (declined: the caller takes
 * the generic path) or deep-equal to `parseEvent(JSON.parse(data))`. It accepts only
 * the exact byte form above (`FRAME`): no whitespace, these keys in this order and no other,
 * ids of `[A-Za-z0-9_-]`, a `field` of `[A-Za-z0-9_-]`, and a `delta` string that
 * ends the frame with `"}}`. A `delta` without a backslash (and, as JSON requires,
 * without raw control characters) is taken as is (JSON.parse would return those very
 * characters); one with escapes goes to `JSON.parse` alone (its string literal only),
 * and the frame is declined if that fails. test/fast-delta.test.ts compares it with the
 * generic path on every frame of every fixture and on mutated frames.
 */
import { knownEvent, type ParsedEvent } from "../codec/events.js";
import { detach } from "../codec/text.js";

/**
 * The accepted form, whole: anchored at both ends, every key literal, ids of a
 * safe charset. The delta's characters: anything JSON allows raw in a string
 * (no quote, backslash or control character), or a backslash and the character
 * after it (checked by JSON.parse below).
 */
const FRAME =
  // eslint-disable-next-line no-control-regex -- excluding raw control characters (JSON forbids them in strings) is the point
  /^\{(?:"id":"([A-Za-z0-9_-]+)",)?"type":"message\.part\.delta","properties":\{"sessionID":"([A-Za-z0-9_-]+)","messageID":"([A-Za-z0-9_-]+)","partID":"([A-Za-z0-9_-]+)","field":"([A-Za-z0-9_-]+)","delta":"([^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*)"\}\}$/;

/** The delta's string value: its characters as they are, or JSON.parse of the literal when it has escapes. */
function unescape(raw: string): string | undefined {
  if (!raw.includes("\\")) return detach(raw);
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return undefined; // not a valid escape (`\x`, a short `\u`): the generic path reports the frame
  }
}

/** What `parseDeltaFrameFor` answers for a delta of a session nobody listens to (the parse would drop it). */
export const UNLISTENED = "unlistened";

/**
 * The parsed event of a delta frame in the exact captured form; undefined: take the
 * generic path. For a reader that listens to some sessions only: a delta frame of a
 * session for which `listening` is false is `UNLISTENED`, told before its text is
 * copied or any object is built (src/stream/unlistened.ts does the same for the other frames).
 */
export function parseDeltaFrameFor(data: string, listening: ((sessionID: string) => boolean) | undefined): ParsedEvent | typeof UNLISTENED | undefined {
  // Cheap refusal of every other frame before the regular expression runs.
  if (data.charCodeAt(data.length - 1) !== 125 /* } */ || !data.endsWith('"}}')) return undefined;
  const m = FRAME.exec(data);
  if (m === null) return undefined;
  const sessionID = m[2] as string;
  if (listening !== undefined && !listening(sessionID)) return UNLISTENED;
  const delta = unescape(m[6] as string); // its own string either way (JSON.parse or detach)
  if (delta === undefined) return undefined;
  const properties = { sessionID, messageID: m[3] as string, partID: m[4] as string, field: m[5] as string, delta };
  const type = "message.part.delta" as const;
  // The key order JSON.parse gives (the frame's own).
  const id = m[1];
  const event = id === undefined ? { type, properties } : { id, type, properties };
  return knownEvent(type, sessionID, event);
}
