/**
 * Replay a recorded 2.x `/api/event` stream through the whole pipeline: bytes →
 * the SSE decoder (src/stream/sse.ts) → the 2.x translator → the codec's reducer,
 * the same stages a live 2.x turn passes. Pure (the bytes are given).
 */
import { createTurnState, finishTurn, lostEventInto, mapEventInto, type TurnOptions } from "../codec.js";
import type { Reply } from "../reply.js";
import { EventStreamDecoder, type DecoderOptions, type StreamIssue } from "../../stream/sse.js";
import type { TurnState } from "../state.js";
import { createV2Translator } from "./translate.js";

export interface V2ReplayOptions extends Partial<TurnOptions>, DecoderOptions {}

export interface V2ReplayResult {
  readonly replies: Reply[];
  readonly issues: StreamIssue[];
  readonly state: TurnState;
}

/**
 * 2.x event types that carry a turn's output (or its end): losing one of them
 * (bad JSON, over the frame cap) must count as losing output, as losing a 1.x
 * `message.part.updated` does (src/codec/reducer.ts `reduceLost`).
 */
const OUTPUT_PREFIXES = ["session.text.", "session.reasoning.", "session.tool.", "session.step.", "session.execution.", "session.inbox."];

/**
 * The 1.x type a lost 2.x frame counts as: an output event when it carried
 * output, else its own type. A text or reasoning block's `.ended` repeats the
 * block's whole text, which its deltas already carried (and a lost delta is
 * reported on its own): losing it loses nothing. It is also the one frame that
 * outgrows the frame cap first — a 3 MB answer came as deltas of at most 700 KB
 * and one 3 MB `session.text.ended` (test/fixtures/2.1.2/huge.sse).
 */
export function v2LostType(type: string | undefined): string | undefined {
  if (type === undefined) return undefined;
  if (type === "session.text.ended" || type === "session.reasoning.ended") return type;
  return OUTPUT_PREFIXES.some((p) => type.startsWith(p)) ? "message.part.updated" : type;
}

export function replayV2Sync(chunks: Iterable<Uint8Array | string>, opts: V2ReplayOptions = {}): V2ReplayResult {
  const state = createTurnState({
    traceId: opts.traceId ?? "replay",
    sessionId: opts.sessionId,
    userMessageId: opts.userMessageId,
    priorMessageIds: opts.priorMessageIds,
  });
  const translator = createV2Translator();
  const replies: Reply[] = [];
  const issues: StreamIssue[] = [];
  const decoder = new EventStreamDecoder(
    {
      onEvent: (payload) => {
        for (const evt of translator.translate(payload)) mapEventInto(evt, state, replies);
      },
      onIssue: (issue) => {
        issues.push(issue);
        if (issue.code === "truncated") return;
        lostEventInto({ type: v2LostType(issue.type), sessionID: issue.sessionID }, state, replies);
      },
    },
    opts,
  );
  for (const c of chunks) decoder.push(c);
  decoder.end();
  replies.push(...finishTurn(state, { code: "transport", message: "the recorded stream ended before the turn finished" }).replies);
  return { replies, issues, state };
}
