/**
 * opencode-bridge: the public API (README "Public API"). Each part is also its own
 * entry point: `opencode-bridge/codec` (pure, no pino/undici), `/adapter`, `/sink`,
 * `/daemon`. Everything not exported here is internal.
 */

// The codec and the reply contract (opencode-bridge/codec).
export {
  mapOpencodeEvent,
  finishTurn,
  createTurnState,
  replay,
  replaySync,
  TurnReplayer,
  DEFAULT_MAX_FRAME_BYTES,
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
} from "./codec/index.js";
export type {
  CodecResult,
  FinishReason,
  TurnOptions,
  TurnState,
  ReplayOptions,
  ReplayResult,
  StreamIssue,
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
} from "./codec/index.js";

// The adapter (opencode-bridge/adapter).
export { OpencodeAdapter, isSupportedVersion, SUPPORTED_VERSIONS, parseAdapterConfig, realClock, BridgeError } from "./adapter/index.js";
export type {
  PromptOptions,
  TurnResult,
  AdapterConfig,
  AdapterConfigInput,
  Clock,
  PermissionCallback,
  PermissionPolicy,
  PermissionReply,
  PermissionRequest,
  RetryStatus,
  BridgeErrorCode,
} from "./adapter/index.js";

// Sinks (opencode-bridge/sink).
export { toSinkObject, MemorySink, JsonlSink, FanoutSink, WebhookSink, parseWebhookOptions } from "./sink/index.js";
export type { Sink, SinkCallback, SinkObject, NamedSink, FanoutCounters, WebhookCounters, WebhookOptions, WebhookOptionsInput } from "./sink/index.js";

// The daemon (opencode-bridge/daemon).
export { BridgeDaemon, parseDaemonOptions, ExternalUpstream, OwnedUpstream } from "./daemon/index.js";
export type { DaemonOptions, DaemonOptionsInput, TurnRequest, TurnOutcome, OpencodeTarget, Upstream, UpstreamHealth } from "./daemon/index.js";

// A managed `opencode serve` process.
export { startManagedServer, type ManagedServer, type ManagedServerOptions } from "./server/managed.js";
