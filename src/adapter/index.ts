/** `opencode-bridge/adapter`: drive live turns on `opencode serve`. */
export { OpencodeAdapter, isSupportedVersion, SUPPORTED_VERSIONS, type AdapterOptions, type PromptOptions } from "./adapter.js";
export {
  FileSessionStore,
  MemorySessionStore,
  type PermissionRule,
  type SessionEntry,
  type SessionOptions,
  type SessionStore,
} from "./sessions.js";
export { MAX_FILE_BYTES, type PromptInputPart } from "./parts.js";
export type { TurnResult } from "./turn.js";
export { parseAdapterConfig, realClock } from "./config.js";
export type {
  AdapterConfig,
  AdapterConfigInput,
  Clock,
  PermissionCallback,
  PermissionPolicy,
  PermissionReply,
  PermissionRequest,
  QuestionPolicy,
  RetryStatus,
} from "./config.js";
export { invalidAnswer } from "./answers.js";
export type { AnswerOutcome, RequestHook } from "./requests.js";
export type {
  BridgeRequest,
  PermissionAsk,
  QuestionAsk,
  QuestionItem,
  QuestionOption,
  RequestAnswer,
  RequestEvent,
  RequestSubagent,
  RequestTool,
  ResolvedBy,
} from "../codec/requests.js";
export { BridgeError, type BridgeErrorCode } from "./errors.js";
