/**
 * How a turn ends: at its session's idle once no assistant message of the turn
 * is open, held for the caller's check when `holdFinal` is set, or forced by
 * the finishing step. Whatever the path, exactly one terminal reply (`final` or
 * `error`) is emitted, after held-back text and a result for every open tool
 * call; then `phase` is `done` and nothing more is emitted.
 *
 * Pure, like the reducer it serves (src/codec/reducer.ts).
 */
import { UNSTAMPED, type ReplyBody } from "./envelope.js";
import { FINISH_MESSAGES, sumUsage } from "./mappers.js";
import { flushNext } from "./next.js";
import { dropAllDeltas, heldDeltas } from "./pending.js";
import type { ErrorCode } from "./reply.js";
import { messageRole, trackRole, type TurnState } from "./state.js";
import { stripTags } from "./tags.js";
import { emitText, finalAnswer, flushText } from "./text.js";
import { closeOpenTools } from "./tools.js";

/** Is an assistant message of this turn still open (not completed by the server)? */
export function hasOpenMessage(state: TurnState): boolean {
  for (const m of state.messages.values()) if (!m.completed && trackRole(state, m) === "turn") return true;
  return false;
}

export function onIdle(state: TurnState, out: ReplyBody[]): void {
  if (state.phase !== "running") return;
  if (hasOpenMessage(state)) state.idleSeen = true;
  else endTurn(state, out);
}

/** The session went idle (`idleSeen`) but never completed its open message: end as the idle said. */
export function settle(state: TurnState, out: ReplyBody[]): void {
  if (state.phase === "running" && state.idleSeen) endTurn(state, out);
}

/** The terminal reply: the caller's override, else `error` if the server reported one, else `final`. */
export function endTurn(state: TurnState, out: ReplyBody[]): void {
  const cause = state.override ?? state.error;
  if (cause) {
    terminate(state, out, cause);
    return;
  }
  if (state.holdFinal) {
    // The caller checks the server's record before a `final` (src/adapter/repair.ts `verifyEnd`).
    state.finalHeld = true;
    return;
  }
  flushNext(state, out);
  closeOpenWork(state, out, "the turn ended before the tool reported a result");
  const usage = sumUsage(state);
  const body: ReplyBody = { kind: "final", ...UNSTAMPED, content: finalAnswer(state) };
  if (usage) {
    body.usage = usage.usage;
    body.cost = usage.cost;
  }
  if (state.model !== undefined) body.model = state.model;
  if (state.agent !== undefined) body.agent = state.agent;
  out.push(body);
  state.phase = "done";
}

/** Emit held-back text and a result for every tool call still open. */
function closeOpenWork(state: TurnState, out: ReplyBody[], toolError: string): void {
  for (const [partId, t] of state.texts) flushText(state, out, partId, t);
  for (const [partId, early] of heldDeltas(state)) {
    // Deltas whose part never showed its type: answer text, unless its message is not this turn's.
    if (messageRole(state, early.messageID) === "other") continue;
    emitText(state, out, partId, "delta", stripTags(early.text));
  }
  dropAllDeltas(state);
  closeOpenTools(state, out, toolError);
}

export function terminate(state: TurnState, out: ReplyBody[], error: { message: string; code: ErrorCode }): void {
  closeOpenWork(state, out, `the turn ended (${error.code}) before the tool reported a result`);
  out.push({ kind: "error", ...UNSTAMPED, error: error.message, code: error.code });
  state.phase = "done";
}

/**
 * The server's record confirmed the held `final` (`holdFinal`): end the turn as
 * the idle said — `final`, or the cause decided meanwhile (an abort, a timeout).
 */
export function releaseFinal(state: TurnState, out: ReplyBody[]): void {
  state.holdFinal = false;
  if (state.phase === "running" && state.finalHeld) endTurn(state, out);
}

/** How the caller ends a turn OpenCode did not end; `message` defaults by code. */
export type FinishReason = { code: ErrorCode; message?: string };

/**
 * The finishing step: the turn must end now although OpenCode did not end it
 * (the stream ended, a timeout expired, the host aborted). Emits held-back
 * text, closes open tool calls and ends with exactly one `error` — unless the
 * turn already ended, in which case it emits nothing.
 */
export function finish(state: TurnState, reason: FinishReason, out: ReplyBody[]): void {
  if (state.phase === "done") return;
  // A cause decided by the caller, then a server error already seen, is the truer cause.
  terminate(state, out, state.override ?? state.error ?? { code: reason.code, message: reason.message ?? FINISH_MESSAGES[reason.code] });
}
