/**
 * The sinks' one error class (the sink layer does not depend on the adapter's).
 * `code` is a closed union:
 * - `config`: the sink was configured wrongly (thrown from its constructor or `open`);
 * - `closed`: a reply was delivered after `close()`;
 * - `io`: the destination failed to take a reply (a write error such as ENOSPC or EPIPE).
 */
export type SinkErrorCode = "config" | "closed" | "io";

export class SinkError extends Error {
  override readonly name = "SinkError";
  constructor(
    readonly code: SinkErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
