/**
 * What the caller decides about a turn, beside the events: how it will end
 * (`overrideEnd`), and that the stream had a gap being repaired (`beginResync` /
 * `endResync`).
 */
import { dropAllDeltas } from "./pending.js";
import type { ErrorCode } from "./reply.js";
import type { TurnState } from "./state.js";

/**
 * Decide how the turn will end before it has: the next terminal reply — from the
 * server's idle, its error, or `finishTurn` — carries this cause. Used when the
 * caller aborts the session (timeout, host abort) and lets it wind down first, so
 * text the server still sends is kept and the turn is not reported as a `final`
 * or as the server's own abort error.
 */
export function overrideEnd(state: TurnState, cause: { code: ErrorCode; message: string }): void {
  if (state.phase !== "done" && state.override === undefined) state.override = cause;
}

/**
 * The stream had a gap and is back. Until `endResync`, the caller feeds the
 * server's record of the session (as `message.updated` / `message.part.updated`
 * events built from `GET /session/:id/message`) and then the live events that
 * arrived meanwhile. Parts open at the gap, and parts first seen now, stop taking
 * deltas: their text comes from full-text updates, so nothing is emitted twice and
 * nothing recorded is missing (`final.content == concat(delta)` keeps holding).
 */
export function beginResync(state: TurnState): void {
  state.resyncing = true;
  for (const t of state.texts.values()) if (!t.ended) t.suspended = true;
  // Deltas of parts whose type never arrived: their full text will.
  dropAllDeltas(state);
}

export function endResync(state: TurnState): void {
  state.resyncing = false;
}

export function isTurnDone(state: TurnState): boolean {
  return state.phase === "done";
}
