/**
 * The daemon's own error class (it does not borrow the adapter's `BridgeError`).
 * `code` is a closed union:
 * - `config`: the daemon's options are wrong (thrown by `new BridgeDaemon` and
 *   `parseDaemonOptions`); `problems` names every wrong field, what was expected
 *   and what was given, without the message's `invalid daemon options: ` prefix,
 *   so the CLI can say it as its own usage error.
 * Errors of a request are HTTP answers (./http.ts `HttpError`), never this.
 */
export type DaemonErrorCode = "config";

export class DaemonError extends Error {
  override readonly name = "DaemonError";
  constructor(
    readonly code: DaemonErrorCode,
    readonly problems: string,
  ) {
    super(`invalid daemon options: ${problems}`);
  }
}
