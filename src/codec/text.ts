/**
 * Text tracks: a text or reasoning part's streamed text, through the tag filter,
 * out as `delta` / `reasoning` bodies. `state.answer` keeps the concatenation of
 * every delta emitted (what `final.content` must equal).
 */
import type { ReplyBody } from "./envelope.js";
import type { TextTrack, TurnState } from "./state.js";
import { createTagFilter, flushTagFilter, pushTagFilter } from "./tags.js";

export function newTextTrack(kind: TextTrack["kind"], partId: string, messageID: string, suspended: boolean, ended = false): TextTrack {
  return { kind, partId, messageID, raw: "", appends: 0, rawBase: "", rawTail: "", filter: createTagFilter(), ended, suspended };
}

/** Append server text to a part and emit what the tag filter lets through. */
export function appendRaw(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack, raw: string): void {
  t.raw += raw;
  t.rawTail += raw;
  if (++t.appends >= CHECKPOINT_EVERY) {
    t.appends = 0;
    t.raw = t.rawBase += flatten(t.rawTail);
    t.rawTail = "";
  }
  const text = pushTagFilter(t.filter, raw);
  if (text !== "") emitText(state, out, partId, t.kind, text);
}

export function emitText(state: TurnState, out: ReplyBody[], partId: string, kind: TextTrack["kind"], text: string): void {
  // The hot path: a literal of fixed shape (no spread; the envelope placeholders inline) keeps bodies monomorphic.
  if (kind === "delta") {
    state.answer += text;
    state.answerTail += text;
    if (++state.answerAppends >= CHECKPOINT_EVERY) {
      state.answerAppends = 0;
      state.answer = state.answerBase += flatten(state.answerTail);
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
 * flattened and joined to the base with one node, and the text becomes that
 * join. The text is then a rope of flat pieces (one node per 4,096 appends:
 * ~1 byte per character); nothing ever re-copies the whole text (flattening the
 * whole text at a fixed period cost O(n²)), and the per-append nodes die young.
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
    state.answer = state.answerBase += flatten(state.answerTail);
    state.answerTail = "";
  }
  return state.answer;
}

/**
 * A full text from `message.part.updated`. When it extends what was streamed,
 * the rest is emitted. When it is shorter (1.2.x trims the finished text) nothing
 * is taken back. When it diverges, what it has beyond the common prefix is
 * emitted, so nothing the server finished is lost; `final` stays the
 * concatenation of the deltas either way.
 */
export function reconcileText(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack, full: string): void {
  rebase(t);
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

/**
 * Comparing `t.raw` below flattens it into one new string; the checkpoint still
 * holds the old pieces. Make the flat string the checkpoint, so the part's text is
 * held once (a 7.9 MB closing text would otherwise be kept twice).
 */
function rebase(t: TextTrack): void {
  flatten(t.raw);
  t.rawBase = t.raw;
  t.rawTail = "";
  t.appends = 0;
}

/** Emit what the tag filter still holds back (the part ended, or the turn did). */
export function flushText(state: TurnState, out: ReplyBody[], partId: string, t: TextTrack): void {
  const rest = flushTagFilter(t.filter);
  if (rest !== "") emitText(state, out, partId, t.kind, rest);
}
