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
import { finish } from "./ending.js";
import { reduce } from "./reducer.js";
import type { Reply } from "./reply.js";
import { createTurnState, type TurnState } from "./state.js";

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
 * What a turn already delivered, taken off the replies a fresh reducer makes of
 * the same turn (from the record, then from live events after a re-attach):
 * per text or reasoning part, the text beyond what was delivered of it; tool
 * calls and results not delivered; the terminal reply only if the answer it
 * states is the delivered text and the new text together. `mismatch` is set when
 * what comes does not continue what was delivered (a part's delivered text is
 * not a prefix of its text now); from then on nothing passes.
 */
export class DeliveredPrefix {
  /** Per part (kind and id): delivered text not yet matched. */
  private readonly owed = new Map<string, string>();
  private readonly called = new Set<string>();
  private readonly resulted = new Set<string>();
  /** The answer so far: delivered deltas, then new ones. */
  private said = "";
  /** Delivered text of parts that the reducer has not reproduced yet. */
  private outstanding = 0;
  mismatch = false;
  /** A terminal reply was among those delivered: nothing continues the turn. */
  readonly ended: boolean;

  constructor(delivered: readonly Reply[]) {
    let ended = false;
    for (const r of delivered) {
      if (r.kind === "delta" || r.kind === "reasoning") {
        const key = `${r.kind}\u0000${r.part_id}`;
        const before = this.owed.get(key) ?? "";
        if (before === "" && r.content !== "") this.outstanding++;
        this.owed.set(key, before + r.content);
        if (r.kind === "delta") this.said += r.content;
      } else if (r.kind === "tool_call") this.called.add(r.call_id);
      else if (r.kind === "tool_result") this.resulted.add(r.call_id);
      else ended = true;
    }
    this.ended = ended;
  }

  /** Has all delivered text been reproduced (so a terminal reply may follow)? */
  get caughtUp(): boolean {
    return this.outstanding === 0;
  }

  /** The part of `b` not delivered yet (undefined: none of it). */
  take(b: ReplyBody): ReplyBody | undefined {
    // An error ends the turn whatever came before it.
    if (b.kind === "error") return b;
    if (this.mismatch || this.ended) return undefined;
    if (b.kind === "delta" || b.kind === "reasoning") {
      const key = `${b.kind}\u0000${b.part_id}`;
      const before = this.owed.get(key);
      let out: ReplyBody | undefined = b;
      if (before !== undefined && before !== "") {
        if (before.startsWith(b.content)) {
          this.owed.set(key, before.slice(b.content.length));
          if (before.length === b.content.length) this.outstanding--;
          return undefined;
        }
        if (!b.content.startsWith(before)) {
          this.mismatch = true;
          return undefined;
        }
        this.owed.set(key, "");
        this.outstanding--;
        out = { ...b, content: b.content.slice(before.length) };
        if (out.content === "") return undefined;
      }
      if (out.kind === "delta") this.said += out.content;
      return out;
    }
    if (b.kind === "tool_call") return this.called.has(b.call_id) ? undefined : b;
    if (b.kind === "tool_result") return this.resulted.has(b.call_id) ? undefined : b;
    if (b.kind === "final" && (!this.caughtUp || b.content !== this.said)) {
      this.mismatch = true;
      return undefined;
    }
    return b;
  }
}

/**
 * What of `bodies` (the record's replies, `recordReplies`) was not delivered yet,
 * given the replies `delivered` (in seq order); undefined when the record does
 * not continue what was delivered, or a terminal reply was delivered already.
 */
export function continueAfter(delivered: readonly Reply[], bodies: readonly ReplyBody[]): ReplyBody[] | undefined {
  const prefix = new DeliveredPrefix(delivered);
  if (prefix.ended) return undefined;
  const out = bodies.flatMap((b) => prefix.take(b) ?? []);
  return prefix.mismatch || !prefix.caughtUp ? undefined : out;
}

/**
 * Takes off `out` (in place) what `prefix` says was delivered. When what comes
 * stops continuing it, the turn ends `error` `transport` rather than report text
 * twice or differently.
 */
export function skipDelivered(prefix: DeliveredPrefix, state: TurnState, out: ReplyBody[]): void {
  let w = 0;
  for (const b of out) {
    const rest = prefix.take(b);
    if (rest !== undefined) out[w++] = rest;
  }
  out.length = w;
  if (!prefix.mismatch || out.some((b) => b.kind === "error")) return;
  const message = "OpenCode's record of the turn does not continue what the bridge had already reported";
  if (state.phase === "done") out.push(unstamped({ kind: "error", error: message, code: "transport" }));
  else {
    const tail: ReplyBody[] = [];
    finish(state, { code: "transport", message }, tail);
    for (const b of tail) if (b.kind === "error") out.push(b);
  }
}

/** A body with a placeholder envelope (for terminal replies made outside the reducer). */
export function unstamped<B extends { kind: Reply["kind"] }>(body: B): ReplyBody {
  const { kind, ...rest } = body;
  return { kind, ...UNSTAMPED, ...rest } as unknown as ReplyBody;
}
