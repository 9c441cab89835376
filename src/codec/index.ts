export * from "./reply.js";
export { beginResync, createTurnState, endResync, finishTurn, isTurnDone, mapEventInto, mapKnownEvent, mapLostEvent, mapOpencodeEvent, describeServerError, overrideEnd, settleAfterIdle } from "./codec.js";
export type { CodecResult, FinishReason, TurnOptions, TurnState } from "./codec.js";
export { parseEvent, type KnownEvent, type ParsedEvent } from "./events.js";
export { EventStreamDecoder, DEFAULT_MAX_FRAME_BYTES, type StreamIssue, type DecoderHandlers, type DecoderOptions } from "./sse.js";
export { replay, replayEach, replayStream, replaySync, TurnReplayer, type ReplayOptions, type ReplayResult, type ReplaySummary } from "./replay.js";
export { stripTags } from "./tags.js";
