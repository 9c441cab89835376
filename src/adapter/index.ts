/** `opencode-bridge/adapter`: drive live turns on `opencode serve` (the root exports the same names). */
export { OpencodeAdapter } from "./adapter.js";
export type { AdapterOptions, PromptOptions } from "./prompt-options.js";
export type { AdapterConfigInput } from "./config.js";
export type { TurnResult } from "./delivery.js";
export type { PromptInputPart } from "./parts.js";
export { FileSessionStore, type SessionStore } from "./sessions.js";
export { BridgeError, type BridgeErrorCode } from "./errors.js";
export type { AnswerOutcome, RequestHook } from "./requests.js";
export type { BridgeRequest, RequestAnswer, RequestEvent } from "../codec/requests.js";
