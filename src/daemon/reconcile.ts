/**
 * After a restart: what OpenCode's record says became of a turn that was running
 * when the daemon died. The turn is identified by its own user message id (the
 * one the bridge chose and journaled before the prompt was sent), never by time.
 *
 * The record goes through the codec's one record → replies path
 * (src/codec/record.ts): the same reducer, tag filter, reasoning and tool titles
 * as a live turn, the same "finished answer" rule. What the journal shows was
 * already delivered is taken off; the rest finishes the turn.
 */
import type { ReplyBody } from "../codec/envelope.js";
import { continueAfter, hasUserMessage, recordReplies, type RecordMessage } from "../codec/record.js";
import type { Reply } from "../codec/reply.js";

export interface JournaledPrompt {
  readonly traceId: string;
  readonly sessionId: string;
  /** The turn's user message id; undefined when the prompt was never sent (or an old journal). */
  readonly messageId: string | undefined;
}

export type Verdict =
  /** The record finishes the turn: these replies (the last one terminal) are what was not delivered. */
  | { readonly kind: "finished"; readonly bodies: ReplyBody[] }
  /** The prompt never reached OpenCode: no answer of it can exist. */
  | { readonly kind: "never_sent" }
  /** OpenCode has the prompt and is still running it (session busy). */
  | { readonly kind: "running" }
  /** The session is idle and the record does not finish the turn, or does not continue what was delivered. */
  | { readonly kind: "lost"; readonly why: string };

/** What the record (and the session's status) says of a turn that `delivered` these replies before the restart. */
export function judgeFromRecord(delivered: readonly Reply[], messages: readonly RecordMessage[], turn: JournaledPrompt, sessionIdle: boolean): Verdict {
  if (turn.messageId === undefined || !hasUserMessage(messages, turn.messageId)) {
    // A prompt that is not in the record may still be on its way only while the session is busy with it.
    if (turn.messageId === undefined || sessionIdle) return { kind: "never_sent" };
    return { kind: "running" };
  }
  if (!sessionIdle) return { kind: "running" };
  const { bodies, finished } = recordReplies(messages, { traceId: turn.traceId, sessionId: turn.sessionId, userMessageId: turn.messageId });
  if (!finished) return { kind: "lost", why: "OpenCode's record shows the answer never finished and the session is idle" };
  const rest = continueAfter(delivered, bodies);
  if (rest === undefined) return { kind: "lost", why: "OpenCode's record does not continue what the turn had already reported" };
  return { kind: "finished", bodies: rest };
}
