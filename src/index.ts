/**
 * opencode-bridge: what a host embedding the bridge uses — the reply contract, the
 * adapter with its option and result types, and the sinks. The pure codec and
 * replay are `opencode-bridge/codec`; the daemon `opencode-bridge/daemon`; the
 * scripted model `opencode-bridge/scripted-model`. Everything else is internal.
 * docs/api.md documents exactly these names (test/api-doc.test.ts checks).
 */
export { ERROR_CODES, ReplySchema, isTerminal, contractViolations } from "./codec/index.js";
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
} from "./codec/index.js";

export { OpencodeAdapter, FileSessionStore, BridgeError } from "./adapter/index.js";
export type {
  AdapterConfigInput,
  AdapterOptions,
  PromptOptions,
  PromptInputPart,
  TurnResult,
  SessionStore,
  BridgeErrorCode,
  BridgeRequest,
  RequestAnswer,
  RequestEvent,
  RequestHook,
  AnswerOutcome,
} from "./adapter/index.js";

export { MemorySink, JsonlSink, FanoutSink, WebhookSink, SinkError } from "./sink/index.js";
export type { Sink, SinkObject, NamedSink, WebhookOptionsInput } from "./sink/index.js";
