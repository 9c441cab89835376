export { OpencodeAdapter, isSupportedVersion, parseModel, SUPPORTED_VERSIONS, type PromptOptions } from "./adapter.js";
export type { TurnResult } from "./turn.js";
export {
  parseAdapterConfig,
  realClock,
  type AdapterConfig,
  type AdapterConfigInput,
  type Clock,
  type PermissionCallback,
  type PermissionPolicy,
  type PermissionReply,
  type PermissionRequest,
  type RetryStatus,
} from "./config.js";
export { BridgeError, type BridgeErrorCode } from "./errors.js";
export { EventHub } from "./event-hub.js";
export { OpencodeHttp, basicAuth } from "./http.js";
