/**
 * OpenCode's record of a session (`GET /session/:id/message`: `{info, parts}[]`,
 * the 1.x shape; 2.x records are converted to it first) → what the reducer
 * consumes. The one record → replies path: the adapter's repair after a gap and
 * its check at the end of a turn feed `recordEvents` into the live turn's state;
 * the daemon's recovery after a restart runs them through a fresh state
 * (`recordReplies`) and keeps what was not delivered yet (`continueAfter`). So a
 * recovered turn gets tag stripping, reasoning, tool titles and usage exactly as
 * a live one, and one rule (`answerFinished`) says when the answer is finished.
 *
 * Pure: no I/O, clock or logger.
 */
import { UNSTAMPED, type ReplyBody } from "./envelope.js";
import { parseEvent, type ParsedEvent } from "./events.js";
import { reduce } from "./reducer.js";
import type { Reply } from "./reply.js";
import { createTurnState } from "./state.js";

/** One message of the record, as the server answers it. */
export interface RecordMessage {
  readonly info: { readonly id: string } & Readonly<Record<string, unknown>>;
  readonly parts?: readonly unknown[];
}

/** The record as the live events that would have built it: each message's update, then its parts' updates. */
export function recordEvents(sessionId: string, messages: readonly RecordMessage[]): ParsedEvent[] {
  const out: ParsedEvent[] = [];
  const event = (type: string, properties: Record<string, unknown>) => out.push(parseEvent({ type, properties: { sessionID: sessionId, ...properties } }));
  for (const m of messages) {
    event("message.updated", { info: m.info });
    for (const part of m.parts ?? []) event("message.part.updated", { part });
  }
  return out;
}

/** The idle that ends a turn whose answer the record shows finished (its own idle was missed). */
export function idleEvent(sessionId: string): ParsedEvent {
  return parseEvent({ type: "session.status", properties: { sessionID: sessionId, status: { type: "idle" } } });
}

/** Is the user message `userMessageId` in the record (did the prompt reach the server)? */
export function hasUserMessage(messages: readonly RecordMessage[], userMessageId: string): boolean {
  return messages.some((m) => m.info.id === userMessageId && m.info.role === "user");
}

/**
 * The "finished answer" rule: the record holds at least one assistant message
 * answering the user message `userMessageId`, and every one of them is completed
 * (`time.completed`) or failed (`error`). Nothing else identifies the turn: never
 * a time window, never "the last user message".
 */
export function answerFinished(messages: readonly RecordMessage[], userMessageId: string | undefined): boolean {
  if (userMessageId === undefined) return false;
  let answers = 0;
  for (const m of messages) {
    if (m.info.role !== "assistant" || m.info.parentID !== userMessageId) continue;
    answers++;
    const completed = (m.info.time as { completed?: unknown } | undefined)?.completed;
    if (m.info.error == null && completed == null) return false;
  }
  return answers > 0;
}

export interface RecordTurn {
  readonly traceId: string;
  readonly sessionId: string;
  /** The turn's own user message id: only the answer to it is the turn's. */
  readonly userMessageId: string;
}

/**
 * The replies the reducer makes of the record for the turn (bodies, unstamped):
 * its text, reasoning and tool calls, then — when the answer is finished — the
 * terminal reply, as the idle would have ended it live.
 */
export function recordReplies(messages: readonly RecordMessage[], turn: RecordTurn): { bodies: ReplyBody[]; finished: boolean } {
  const state = createTurnState({ traceId: turn.traceId, sessionId: turn.sessionId, userMessageId: turn.userMessageId });
  const bodies: ReplyBody[] = [];
  for (const e of recordEvents(turn.sessionId, messages)) reduce(e, state, bodies);
  const finished = answerFinished(messages, turn.userMessageId);
  if (finished) reduce(idleEvent(turn.sessionId), state, bodies);
  return { bodies, finished: finished && state.phase === "done" };
}

/**
 * What of `bodies` (the record's replies, `recordReplies`) was not delivered yet,
 * given the replies `delivered` (in seq order): per text or reasoning part, the
 * text beyond what was delivered of it; tool calls and results not delivered;
 * the terminal reply. Undefined when the record does not continue what was
 * delivered (a part's delivered text is not a prefix of its recorded text, or a
 * delivered part is missing): then the turn cannot be finished from it.
 */
export function continueAfter(delivered: readonly Reply[], bodies: readonly ReplyBody[]): ReplyBody[] | undefined {
  const owed = new Map<string, string>();
  const called = new Set<string>();
  const resulted = new Set<string>();
  let said = "";
  for (const r of delivered) {
    if (r.kind === "delta" || r.kind === "reasoning") {
      const key = `${r.kind}\u0000${r.part_id}`;
      owed.set(key, (owed.get(key) ?? "") + r.content);
      if (r.kind === "delta") said += r.content;
    } else if (r.kind === "tool_call") called.add(r.call_id);
    else if (r.kind === "tool_result") resulted.add(r.call_id);
    else return undefined; // a terminal reply was delivered: nothing continues it
  }
  const out: ReplyBody[] = [];
  for (const b of bodies) {
    if (b.kind === "delta" || b.kind === "reasoning") {
      const key = `${b.kind}\u0000${b.part_id}`;
      const before = owed.get(key) ?? "";
      if (before === "") {
        out.push(b);
        if (b.kind === "delta") said += b.content;
        continue;
      }
      if (before.startsWith(b.content)) {
        owed.set(key, before.slice(b.content.length));
      } else if (b.content.startsWith(before)) {
        owed.set(key, "");
        const rest = b.content.slice(before.length);
        if (rest !== "") {
          out.push({ ...b, content: rest });
          if (b.kind === "delta") said += rest;
        }
      } else {
        return undefined;
      }
    } else if (b.kind === "tool_call") {
      if (!called.has(b.call_id)) out.push(b);
    } else if (b.kind === "tool_result") {
      if (!resulted.has(b.call_id)) out.push(b);
    } else if (b.kind === "final") {
      // The answer is the deltas' concatenation, delivered and new alike.
      if (b.content !== said) return undefined;
      out.push(b);
    } else {
      out.push(b);
    }
  }
  for (const rest of owed.values()) if (rest !== "") return undefined;
  return out;
}

/** A body with a placeholder envelope (for terminal replies made outside the reducer). */
export function unstamped<B extends { kind: Reply["kind"] }>(body: B): ReplyBody {
  const { kind, ...rest } = body;
  return { kind, ...UNSTAMPED, ...rest } as unknown as ReplyBody;
}
