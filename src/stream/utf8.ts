/**
 * UTF-8 bytes → text across chunk boundaries, as `new TextDecoder("utf-8")` with
 * `{ stream: true }` decodes them (a leading BOM dropped, invalid bytes as U+FFFD),
 * through Buffer's decoder: on Node 20 TextDecoder's streaming mode costs ~0.7 µs
 * for a 260-byte frame, Buffer's ~0.15 µs — most of what reading a frame of a
 * session nobody listens to cost (issue 24). The bytes of a character cut by the
 * chunk's end wait for the next chunk; a lead byte always starts a new character,
 * so decoding up to it and from it gives what decoding the whole would.
 * The one UTF-8 decoder of OpenCode streams: the stream stage (./sse.ts) and replay's SSE
 * check (src/cli/replay.ts). test/utf8.test.ts compares it with TextDecoder on random
 * bytes in random chunks.
 */
export class Utf8Stream {
  /** The first bytes of a character the last chunk cut. */
  private rest: Buffer | undefined;
  private started = false;

  decode(chunk: Uint8Array): string {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, buf]);
      this.rest = undefined;
    }
    const cut = cutCharacter(buf);
    if (cut > 0) {
      // Copied: the caller may reuse the chunk's memory.
      this.rest = Buffer.from(buf.subarray(buf.length - cut));
      buf = buf.subarray(0, buf.length - cut);
    }
    return this.text(buf.toString("utf8"));
  }

  /** The end of the stream: a character left cut is U+FFFD. */
  end(): string {
    const rest = this.rest;
    this.rest = undefined;
    return rest === undefined ? "" : this.text(rest.toString("utf8"));
  }

  private text(s: string): string {
    if (this.started || s === "") return s;
    this.started = true;
    return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
  }
}

/** How many bytes at the end of `buf` begin a character that needs more (0 … 3). */
function cutCharacter(buf: Buffer): number {
  for (let k = 1; k <= 3 && k <= buf.length; k++) {
    const b = buf[buf.length - k]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const length = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 1;
    return length > k ? k : 0;
  }
  return 0;
}
