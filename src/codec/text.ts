/**
 * Text tracks: a text or reasoning part's streamed text, through the tag filter,
 * out as `delta` / `reasoning` bodies. The state keeps the concatenation of
 * every delta emitted (what `final.content` must equal) as `answerBase + answerTail`.
 */
import type { ReplyBody } from "./envelope.js";
import type { TextTrack, TurnState } from "./state.js";
import { flushTagFilter, pushTagFilter } from "./tags.js";

export function newTextTrack(kind: TextTrack["kind"], partId: string, messageID: string, suspended: boolean, ended = false): TextTrack {
  return { kind, partId, messageID, appends: 0, rawBase: "", rawTail: "", hold: "", ended, suspended };
}

/** Append server text to a part and emit what the tag filter lets through. */
export function appendRaw(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack, raw: string): void {
  t.rawTail += raw;
  if (++t.appends >= CHECKPOINT_EVERY) {
    t.appends = 0;
    t.rawBase += flatten(t.rawTail);
    t.rawTail = "";
  }
  const text = pushTagFilter(t, raw);
  if (text !== "") emitText(state, out, partId, t.kind, text);
}

export function emitText(state: TurnState, out: ReplyBody[], partId: string, kind: TextTrack["kind"], text: string): void {
  // The hot path: a literal of fixed shape (no spread; the envelope placeholders inline) keeps bodies monomorphic.
  if (kind === "delta") {
    state.answerTail += text;
    if (++state.answerAppends >= CHECKPOINT_EVERY) {
      state.answerAppends = 0;
      state.answerBase += flatten(state.answerTail);
      state.answerTail = "";
    }
    out.push({ kind: "delta", trace_id: "", session_id: "", seq: -1, content: text, part_id: partId });
  } else {
    out.push({ kind: "reasoning", trace_id: "", session_id: "", seq: -1, content: text, part_id: partId });
  }
}

/**
 * Strings built by `+=` are ropes: one node per append, about 11 bytes per
 * character of a long answer. So a growing text is kept as a checkpoint (`base`)
 * plus what came since (`tail`): every 4,096 appends the tail — a few KB — is
 * flattened and joined to the base with one node. The base is then a rope of
 * flat pieces (one node per 4,096 appends: ~1 byte per character); nothing ever
 * re-copies the whole text (flattening the whole text at a fixed period cost
 * O(n²)). The whole text (`base + tail`) is made only when read: an append adds
 * one rope node, not two (at 1,000 concurrent turns each node outlives a
 * scavenge and is copied, and each store into a promoted track or state is a
 * slot for the collector to visit).
 * A regular-expression match flattens its subject in V8 (Node 20–24); the result
 * is the same string.
 */
const CHECKPOINT_EVERY = 4096;
const ANY = /^/;
function flatten(s: string): string {
  ANY.test(s);
  return s;
}

/**
 * The answer for `final.content`, checkpointed: the tail (up to 4,096 appended
 * pieces, one rope node each) flattened into the base. A host keeps `final`; kept
 * as a rope, each answer would be thousands of small objects for the collector to
 * copy and promote (the stream benchmark, which keeps every turn's `final` for its
 * check, spent a third of its time in scavenges that way). Same string.
 */
export function finalAnswer(state: TurnState): string {
  if (state.answerTail !== "") {
    state.answerAppends = 0;
    state.answerBase += flatten(state.answerTail);
    state.answerTail = "";
  }
  return state.answerBase;
}

/** The length of the answer so far (no string made). */
export function answerLength(state: TurnState): number {
  return state.answerBase.length + state.answerTail.length;
}

/**
 * A full text from `message.part.updated`. When it extends what was streamed,
 * the rest is emitted. When it is shorter (1.2.x trims the finished text) nothing
 * is taken back. When it diverges, what it has beyond the common prefix is
 * emitted, so nothing the server finished is lost; `final` stays the
 * concatenation of the deltas either way.
 */
export function reconcileText(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack, full: string): void {
  const raw = rebase(t);
  if (full.length <= raw.length && raw.startsWith(full)) return;
  if (full.startsWith(raw)) {
    appendRaw(state, out, partId, t, full.slice(raw.length));
    return;
  }
  let i = 0;
  const n = Math.min(full.length, raw.length);
  while (i < n && full.charCodeAt(i) === raw.charCodeAt(i)) i++;
  if (full.length > raw.length) appendRaw(state, out, partId, t, full.slice(Math.max(i, raw.length)));
}

/**
 * The part's raw text, flattened (comparing it below would flatten it anyway),
 * made the checkpoint: the part's text is then held once, as one flat string.
 */
function rebase(t: TextTrack): string {
  const raw = flatten(t.rawBase + t.rawTail);
  t.rawBase = raw;
  t.rawTail = "";
  t.appends = 0;
  return raw;
}

/** Emit what the tag filter still holds back (the part ended, or the turn did). */
export function flushText(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack): void {
  const rest = flushTagFilter(t);
  if (rest !== "") emitText(state, out, partId, t.kind, rest);
}

/**
 * A copy of `s` that does not keep the string it was cut from alive. The codec
 * keeps some strings of an event beyond it (a delta's text, in replies and the
 * answer; a part id it starts tracking), and those may be slices of a decoded
 * input chunk (16–64 KiB): the stream stage's delta fast path
 * (src/stream/fast-delta.ts) reads them with a regular expression, whose captures
 * of 13 characters or more are slices of their subject. Kept as they are, one
 * 20-character delta would keep its whole chunk (JSON.parse copies its strings).
 */
export function detach(s: string): string {
  return s.length < 13 ? s : (" " + s).slice(1);
}
