/**
 * `opencode-bridge/codec`: the pure codec, two replay forms and the reply contract.
 * Loads neither pino, undici nor the adapter or daemon (test/package.test.ts checks).
 * The turn state is opaque here (src/codec/public.ts); docs/api.md lists every name
 * (test/api-doc.test.ts checks).
 */
export { createTurnState, mapOpencodeEvent, finishTurn, replay, replayStream } from "./public.js";
export type { TurnState, TurnOptions, FinishReason, ReplayOptions, ReplayResult } from "./public.js";
export { ERROR_CODES, ReplySchema, isTerminal, contractViolations } from "./reply.js";
export type {
  Reply,
  ReplyKind,
  DeltaReply,
  ReasoningReply,
  ToolCallReply,
  ToolResultReply,
  FinalReply,
  ErrorReply,
  TerminalReply,
  ErrorCode,
  Usage,
} from "./reply.js";
