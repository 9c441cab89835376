/**
 * The adapter's one error class. `code` is a closed union; turn-level failures
 * become `error` replies with the matching reply code, never thrown at the host.
 */
import type { ErrorCode } from "../codec/reply.js";

export type BridgeErrorCode =
  | "config" // the adapter was configured wrongly (thrown from the constructor)
  | "auth" // OpenCode answered 401/403
  | "transport" // could not connect, connection reset, stream ended
  | "protocol" // OpenCode answered something unexpected (status, content type, body)
  | "unsupported_version" // the server is outside the supported 1.x range
  | "timeout" // a request or the subscription did not answer in time
  | "upstream"; // OpenCode reported a failure of its own for a request

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
    switch (this.code) {
      case "auth":
        return "auth";
      case "transport":
        return "transport";
      case "timeout":
        return "timeout";
      case "upstream":
        return "upstream";
      case "config":
      case "protocol":
      case "unsupported_version":
        return "protocol";
      default: {
        const never: never = this.code;
        return never;
      }
    }
  }
}
