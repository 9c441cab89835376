/**
 * The replay command's output: replies as JSON Lines (`JsonLines`, byte for byte
 * `JSON.stringify(reply)`, the hot `delta`/`reasoning` lines written by hand and a
 * long `content` in slices) and a buffered stdout writer with backpressure
 * (`BufferedOut`).
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { Reply } from "../codec/reply.js";
import { replyJson } from "../sink/encoded.js";

/**
 * Batches lines into writes of about 64 KiB. Backpressure: `needsDrain` tells
 * the reader loop to wait for 'drain' before reading more input.
 */
export class BufferedOut {
  private buf = "";
  /** The reader closed stdout (EPIPE …): nothing more is written. */
  closed = false;
  failure: Error | undefined;

  constructor(private readonly out: Writable) {
    out.on("error", (err: NodeJS.ErrnoException) => {
      this.closed = true;
      this.buf = "";
      // A reader that went away (`| head`) is normal; anything else is reported at the end.
      if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") this.failure = err;
    });
  }

  write(s: string): void {
    if (this.closed) return;
    this.buf += s;
    if (this.buf.length >= 65536) this.flush();
  }

  flush(): void {
    if (this.closed || this.buf === "") return;
    const b = this.buf;
    this.buf = "";
    this.out.write(b);
  }

  get needsDrain(): boolean {
    return !this.closed && this.out.writableNeedDrain;
  }

  /** Waits until stdout drained, closed or failed. */
  async drain(): Promise<void> {
    if (!this.needsDrain) return;
    const ac = new AbortController();
    try {
      await Promise.race([once(this.out, "drain", { signal: ac.signal }), once(this.out, "close", { signal: ac.signal })]);
    } catch {
      // an 'error' rejects once(): the error handler above has recorded it
    } finally {
      ac.abort();
    }
  }

  /** Flushes what is left and waits until it is handed to the OS. */
  async end(): Promise<void> {
    this.flush();
    await this.drain();
  }
}

/**
 * A reply as one JSON line, byte for byte `JSON.stringify(reply) + "\n"`
 * (`replyJson`, src/sink/encoded.ts: the hot `delta`/`reasoning` lines written
 * by hand). test/replay-command.test.ts holds every fixture's output to its golden.
 */
export class JsonLines {
  line(r: Reply): string {
    return `${replyJson(r)}\n`;
  }

  /**
   * The same line, handed to `put` in pieces: a long `content` (a `final`'s
   * whole answer — megabytes in a long turn) is escaped slice by slice, so the
   * line never exists as one more string of the answer's size (nor as its
   * Buffer at the write). The pieces joined are `line(r)` exactly: a slice never
   * ends between the halves of a surrogate pair, and `JSON.stringify` escapes
   * each character independently of the rest.
   */
  write(r: Reply, put: (s: string) => void): void {
    const content = (r as { content?: unknown }).content;
    if (r.kind === "delta" || r.kind === "reasoning" || typeof content !== "string" || content.length <= SLICE) {
      put(this.line(r));
      return;
    }
    // The key and a marker value: inside a JSON string a quote is always escaped,
    // so the unescaped `"content":"` found is the key itself.
    const marked = JSON.stringify({ ...r, content: MARK });
    const at = marked.indexOf(MARKED_KEY);
    put(marked.slice(0, at + MARKED_KEY.length - MARK_JSON.length + 1));
    for (let i = 0; i < content.length; ) {
      let end = Math.min(i + SLICE, content.length);
      const last = content.charCodeAt(end - 1);
      if (end < content.length && last >= 0xd800 && last <= 0xdbff) end--;
      put(JSON.stringify(content.slice(i, end)).slice(1, -1));
      i = end;
    }
    put(`${marked.slice(at + MARKED_KEY.length - 1)}\n`);
  }
}

/** Characters of `content` escaped at a time by `JsonLines.write`. */
const SLICE = 32 * 1024;
const MARK = "\u0000opencode-bridge content\u0000";
const MARK_JSON = JSON.stringify(MARK);
const MARKED_KEY = `"content":${MARK_JSON}`;
