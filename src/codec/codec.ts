/**
 * The codec: a reducer from OpenCode `/event` events to the replies of one turn.
 *
 *   mapOpencodeEvent(evt, state) → { replies, state }
 *   finishTurn(state, reason)   → { replies, state }   (the turn must end although OpenCode did not end it)
 *
 * It does no I/O and reads no clock, logger or randomness: the same events give
 * the same replies. For speed the state is updated in place and returned; the
 * caller must use the returned state and not keep the old reference.
 *
 * The pipeline inside: payload → `parseEvent` (src/codec/events.ts: validated
 * once, session resolved once) → `reduce` (src/codec/reducer.ts: reply bodies)
 * → the state's envelope stamps `trace_id`, `session_id`, `seq`
 * (src/codec/envelope.ts). The adapter runs the same reducer on the events its
 * hub parsed and stamps at delivery instead.
 */
import type { ReplyBody } from "./envelope.js";
import { isParsedEvent, parseEvent } from "./events.js";
import { finish, type FinishReason } from "./ending.js";
import { reduce, reduceLost } from "./reducer.js";
import type { Reply } from "./reply.js";
import type { TurnState } from "./state.js";

export { createTurnState, type TurnOptions, type TurnState } from "./state.js";
export { isTurnDone } from "./control.js";

export interface CodecResult {
  readonly replies: Reply[];
  readonly state: TurnState;
}

/** Map one `/event` payload (already JSON-decoded), or an event `parseEvent` already parsed. */
export function mapOpencodeEvent(evt: unknown, state: TurnState): CodecResult {
  const out: Reply[] = [];
  mapEventInto(evt, state, out);
  return { replies: out, state };
}

/**
 * The finishing step: the turn must end now although OpenCode did not end it
 * (the stream ended, a timeout expired, the host aborted). Emits held-back
 * text, closes open tool calls and ends with exactly one `error` — unless the
 * turn already ended, in which case it emits nothing.
 */
export function finishTurn(state: TurnState, reason: FinishReason): CodecResult {
  const out: Reply[] = [];
  finish(state, reason, out);
  stampFrom(state, out, 0);
  return { replies: out, state };
}

// ---- internal forms (replay, benchmarks); not part of the public API ----------

/** Stamp what the reducer appended to `out` since `from` (bodies are stamped in place). */
function stampFrom(state: TurnState, out: Reply[], from: number): void {
  const n = out.length;
  if (n === from) return;
  const env = state.envelope;
  const sessionId = state.sessionId ?? "";
  for (let i = from; i < n; i++) env.stamp(out[i] as ReplyBody, sessionId);
}

/** `mapOpencodeEvent`, appending the replies to `out` (no array per event). */
export function mapEventInto(evt: unknown, state: TurnState, out: Reply[]): void {
  const from = out.length;
  reduce(isParsedEvent(evt) ? evt : parseEvent(evt), state, out);
  stampFrom(state, out, from);
}

/** A frame that was lost before it could be parsed (bad JSON, over the frame cap). */
export function lostEventInto(info: { type: string | undefined; sessionID: string | undefined }, state: TurnState, out: Reply[]): void {
  const from = out.length;
  reduceLost(info.type, info.sessionID, state, out);
  stampFrom(state, out, from);
}
