/**
 * `opencode-bridge/codec`: the pure codec, replay and the reply contract.
 * Loads neither pino, undici nor the adapter or daemon (test/package.test.ts checks).
 */
export { mapOpencodeEvent, finishTurn, createTurnState } from "./codec.js";
export type { CodecResult, FinishReason, TurnOptions, TurnState } from "./codec.js";
export { replay, replayEach, replayStream, replaySync, TurnReplayer } from "./replay.js";
export type { ReplayOptions, ReplayResult, ReplaySummary } from "./replay.js";
export { DEFAULT_MAX_FRAME_BYTES, type StreamIssue } from "../stream/sse.js";
export {
  ERROR_CODES,
  REPLY_KINDS,
  ReplySchema,
  DeltaReplySchema,
  ReasoningReplySchema,
  ToolCallReplySchema,
  ToolResultReplySchema,
  FinalReplySchema,
  ErrorReplySchema,
  UsageSchema,
  isTerminal,
  contractViolations,
} from "./reply.js";
export type {
  ErrorCode,
  Reply,
  ReplyKind,
  TerminalReply,
  DeltaReply,
  ReasoningReply,
  ToolCallReply,
  ToolResultReply,
  FinalReply,
  ErrorReply,
  Usage,
} from "./reply.js";
