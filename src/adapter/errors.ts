/**
 * The adapter's one error class. `code` is a closed union; turn-level failures
 * become `error` replies with the matching reply code, never thrown at the host.
 */
import type { ErrorCode } from "../codec/reply.js";

export type BridgeErrorCode =
  | "config" // the host configured or called the adapter wrongly (constructor, prompt options); a refused turn ends `invalid_request`
  | "auth" // OpenCode answered 401/403
  | "transport" // could not connect, connection reset, stream ended
  | "protocol" // OpenCode answered something unexpected (status, content type, body)
  | "unsupported_version" // the server is outside the supported 1.x range
  | "timeout" // a request or the subscription did not answer in time
  | "not_found" // OpenCode answered 404: the session (or another named thing) does not exist
  | "server"; // OpenCode failed on a request: HTTP 5xx, or a 4xx other than 401/403/404

/** The reply code a turn that failed with each error ends with. */
const REPLY_CODES: Readonly<Record<BridgeErrorCode, ErrorCode>> = {
  config: "invalid_request",
  auth: "auth",
  transport: "transport",
  protocol: "protocol",
  unsupported_version: "protocol",
  timeout: "timeout",
  not_found: "not_found",
  server: "server",
};

export class BridgeError extends Error {
  override readonly name = "BridgeError";
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
    readonly details: { status?: number; url?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  /** The reply code a turn that failed with this error ends with. */
  get replyCode(): ErrorCode {
    return REPLY_CODES[this.code];
  }
}
