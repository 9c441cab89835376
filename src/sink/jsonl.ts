/**
 * Writes each reply as one JSON line to a stream (stdout by default) or a file.
 *
 * A write error (ENOSPC on a full disk, EPIPE on a closed pipe …) never takes the
 * process down: the stream's `error` event is always handled, the reply whose
 * write failed — and every later one, once the stream is broken — is counted in
 * `stats().failures`, and `deliver` rejects with a SinkError("io"). Use
 * `JsonlSink.open(path)` to open a file up front, so a bad path fails at start-up.
 */
import { createWriteStream, openSync, closeSync } from "node:fs";
import type { Writable } from "node:stream";
import type { Reply } from "../codec/reply.js";
import { SinkError } from "./errors.js";
import { isRequestEvent, type SinkMessage, type SinkObject, type SinkStats } from "./types.js";

export class JsonlSink implements SinkObject<SinkMessage> {
  private readonly out: Writable;
  private readonly owned: boolean;
  private delivered = 0;
  private failures = 0;
  /** The first error the stream reported; once set, the stream is broken. */
  private broken: Error | undefined;
  /** Called once, with the first write error. */
  onError: ((err: Error) => void) | undefined;

  /**
   * True with `{ requests: true }`: request events (src/adapter/requests.ts) as
   * their own lines, told apart from replies by `type` (replies have `kind`).
   * Off by default, so that a consumer of replies only (the CLI's stdout) gets only replies.
   */
  readonly requests: boolean;

  constructor(target: Writable | string = process.stdout, opts: { readonly requests?: boolean } = {}) {
    this.requests = opts.requests === true;
    if (typeof target === "string") {
      this.out = createWriteStream(target, { flags: "a" });
      this.owned = true;
    } else {
      this.out = target;
      this.owned = false;
    }
    this.out.on("error", (err: Error) => this.markBroken(err));
  }

  /**
   * Opens `path` for appending now and checks it can be written, so a missing
   * directory or a denied permission fails here (SinkError "config"), not at the first reply.
   */
  static open(path: string, opts: { readonly requests?: boolean } = {}): JsonlSink {
    try {
      closeSync(openSync(path, "a"));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new SinkError("config", `cannot open ${path} for appending: ${e.code ?? e.message}`, { cause: err });
    }
    return new JsonlSink(path, opts);
  }

  async deliver(message: SinkMessage): Promise<void> {
    // A request event is written only with `requests: true`, and counts nothing.
    const request = isRequestEvent(message);
    if (request && (this.broken || !this.requests)) return;
    if (!request && this.broken) return this.fail(message, this.broken);
    // Waits for the write itself: backpressure and write errors both reach this reply.
    const err = await new Promise<Error | null | undefined>((resolve) => this.out.write(`${JSON.stringify(message)}\n`, resolve));
    if (request) return;
    if (err) return this.fail(message, err);
    this.delivered++;
  }

  stats(): SinkStats {
    return { delivered: this.delivered, retries: 0, failures: this.failures };
  }

  async close(): Promise<void> {
    if (!this.owned || this.out.destroyed) return;
    await new Promise<void>((resolve) => {
      this.out.once("error", () => resolve());
      this.out.end(() => resolve());
    });
  }

  /** The first error breaks the stream for good (a destroyed stream takes nothing more); reported once. */
  private markBroken(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    this.onError?.(err);
  }

  private fail(reply: Reply, err: Error): never {
    this.markBroken(err);
    this.failures++;
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    throw new SinkError("io", `could not write reply ${reply.trace_id}:${reply.seq}: ${code}`, { cause: err });
  }
}
