/**
 * Text tracks: a text or reasoning part's streamed text, through the tag filter,
 * out as `delta` / `reasoning` bodies. `state.answer` keeps the concatenation of
 * every delta emitted (what `final.content` must equal).
 */
import type { ReplyBody } from "./envelope.js";
import type { TextTrack, TurnState } from "./state.js";
import { createTagFilter, flushTagFilter, pushTagFilter } from "./tags.js";

export function newTextTrack(kind: TextTrack["kind"], messageID: string, suspended: boolean, ended = false): TextTrack {
  return { kind, messageID, raw: "", appends: 0, filter: createTagFilter(), ended, suspended };
}

/** Append server text to a part and emit what the tag filter lets through. */
export function appendRaw(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack, raw: string): void {
  t.raw += raw;
  if (++t.appends >= flattenAfter(t.raw.length)) {
    t.appends = 0;
    t.raw = flatten(t.raw);
  }
  const text = pushTagFilter(t.filter, raw);
  if (text !== "") emitText(state, out, partId, t.kind, text);
}

export function emitText(state: TurnState, out: ReplyBody[], partId: string, kind: TextTrack["kind"], text: string): void {
  // The hot path: a literal of fixed shape (no spread; the envelope placeholders inline) keeps bodies monomorphic.
  if (kind === "delta") {
    state.answer += text;
    if (++state.answerAppends >= flattenAfter(state.answer.length)) {
      state.answerAppends = 0;
      state.answer = flatten(state.answer);
    }
    out.push({ kind: "delta", trace_id: "", session_id: "", seq: -1, content: text, part_id: partId });
  } else {
    out.push({ kind: "reasoning", trace_id: "", session_id: "", seq: -1, content: text, part_id: partId });
  }
}

/**
 * Strings built by `+=` are ropes: one node per append, about 11 bytes per
 * character of a long answer. Flattening them now and then keeps a 1,000,000-delta
 * turn near the size of its text. A regular-expression match flattens its subject
 * in V8 (Node 20–24); the result is the same string.
 *
 * Schedule: a string of length n is flattened after max(4096, n/32) appends since
 * the last flatten. Each flatten copies n characters, and at least n/32 appends
 * (one character or more each) come between two of them, so the copies cost O(1)
 * amortised per appended character — a fixed period (every 4,096 appends) made
 * them O(n²) — while the rope between two flattens holds at most n/32 nodes
 * (about one byte per character of the text).
 */
const FLATTEN_EVERY = 4096;
const flattenAfter = (length: number) => Math.max(FLATTEN_EVERY, length >>> 5);
const ANY = /^/;
function flatten(s: string): string {
  ANY.test(s);
  return s;
}

/**
 * A full text from `message.part.updated`. When it extends what was streamed,
 * the rest is emitted. When it is shorter (1.2.x trims the finished text) nothing
 * is taken back. When it diverges, what it has beyond the common prefix is
 * emitted, so nothing the server finished is lost; `final` stays the
 * concatenation of the deltas either way.
 */
export function reconcileText(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack, full: string): void {
  if (full.length <= t.raw.length && t.raw.startsWith(full)) return;
  if (full.startsWith(t.raw)) {
    appendRaw(state, out, partId, t, full.slice(t.raw.length));
    return;
  }
  let i = 0;
  const n = Math.min(full.length, t.raw.length);
  while (i < n && full.charCodeAt(i) === t.raw.charCodeAt(i)) i++;
  if (full.length > t.raw.length) appendRaw(state, out, partId, t, full.slice(Math.max(i, t.raw.length)));
}

/** Emit what the tag filter still holds back (the part ended, or the turn did). */
export function flushText(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack): void {
  const rest = flushTagFilter(t.filter);
  if (rest !== "") emitText(state, out, partId, t.kind, rest);
}
