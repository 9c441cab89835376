/**
 * The stream stage: bytes of an OpenCode event stream (1.x `/event`, 2.x
 * `/api/event`) → one decoded payload per frame, handed to ONE handler.
 *
 * eventsource-parser does the SSE framing (any chunking, LF/CR/CRLF); this stage
 * adds what a long-lived stream from a server needs: UTF-8 decoding across chunk
 * boundaries, JSON decoding, and a cap on frame size so that one runaway frame
 * cannot grow memory without bound. Problems are reported through `onIssue` and
 * decoding goes on; nothing here throws. What a payload means is the reader's:
 * the 1.x dialect and replay (src/codec/events.ts), the 2.x dialect (src/codec/v2).
 */
import { createParser, type EventSourceParser } from "eventsource-parser";
import type { ParsedEvent } from "../codec/events.js";
import { parseDeltaFrameFor, UNLISTENED } from "./fast-delta.js";
import { unlistened } from "./unlistened.js";
import { Utf8Stream } from "./utf8.js";
import { errorMessage } from "../util/errors.js";

/**
 * 16 MiB: a frame must hold a whole answer — 1.x closes a text part with a
 * `message.part.updated` carrying its full text, and 2.x coalesces deltas into
 * frames of up to ~1 MB — while one runaway frame still cannot take unbounded memory.
 */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export type StreamIssue =
  | { code: "invalid_json"; message: string; type: string | undefined; sessionID: string | undefined }
  | { code: "frame_too_large"; message: string; type: string | undefined; sessionID: string | undefined }
  | { code: "invalid_sse"; message: string; type: undefined; sessionID: undefined }
  | { code: "truncated"; message: string; type: undefined; sessionID: undefined };

export interface DecoderHandlers {
  /**
   * One frame's event: its decoded JSON payload — or, with `fastDelta`, for a 1.x
   * delta in its captured form (src/stream/fast-delta.ts), the parsed event itself
   * (`isParsedEvent` tells), exactly what `parseEvent(payload)` would give for it.
   */
  onEvent(payload: unknown | ParsedEvent): void;
  onIssue(issue: StreamIssue): void;
  /** A frame of a session nobody listens to (`listening`): not decoded (counted by the reader). */
  onSkipped?(): void;
}

export interface DecoderOptions {
  /** Frames (the `data` of one event) larger than this are dropped and reported. */
  readonly maxFrameBytes?: number;
  /** Read 1.x deltas in their captured form without JSON.parse (OpenCode 1.x streams only). */
  readonly fastDelta?: boolean;
  /**
   * Which sessions someone listens to: a frame that surely is of another session is not
   * decoded (`onSkipped`; src/stream/unlistened.ts, and `parseDeltaFrameFor` for deltas).
   * OpenCode 1.x streams only. Without it every frame is decoded.
   */
  readonly listening?: (sessionID: string) => boolean;
}

const HEAD = 4096;

/**
 * A push-based decoder: `push(chunk)` any number of times, then `end()`.
 *
 * Frame cap invariant: the parser never holds more than `maxFrameBytes + HEAD`
 * characters of one undispatched frame. When a frame grows past that, the
 * parser is reset and input is skipped up to the next blank line; a frame whose
 * data is over the cap but arrived within one chunk is dropped on dispatch.
 * Either way the frame is reported once as `frame_too_large`, so the outcome does
 * not depend on how the bytes were chunked.
 */
export class EventStreamDecoder {
  private readonly parser: EventSourceParser;
  private readonly decoder = new Utf8Stream();
  private readonly max: number;
  private readonly fastDelta: boolean;
  private readonly listening: ((sessionID: string) => boolean) | undefined;

  /** Characters fed since the last dispatched event (or comment). */
  private sinceDispatch = 0;
  /** First characters of the current undispatched frame, for reporting. */
  private head = "";
  private skipping = false;
  /** While skipping: the last characters seen, to find a blank line cut across chunks. */
  private tail = "";
  /** Whether the current `parser.feed` dispatched an event. */
  private dispatched = false;

  constructor(
    private readonly handlers: DecoderHandlers,
    opts: DecoderOptions = {},
  ) {
    this.max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.fastDelta = opts.fastDelta === true;
    this.listening = opts.listening;
    this.parser = createParser({
      onEvent: (ev) => {
        this.dispatched = true;
        this.dispatch(ev.data);
      },
      onError: (err) => {
        this.handlers.onIssue({ code: "invalid_sse", message: err.message, type: undefined, sessionID: undefined });
      },
    });
  }

  private dispatch(data: string): void {
    if (data.length > this.max) {
      const s = sniffFrame(data);
      this.handlers.onIssue({ code: "frame_too_large", message: this.tooLarge(s.type), ...s });
      return;
    }
    if (this.fastDelta) {
      const evt = parseDeltaFrameFor(data, this.listening);
      if (evt === UNLISTENED) {
        this.handlers.onSkipped?.();
        return;
      }
      if (evt !== undefined) {
        this.handlers.onEvent(evt);
        return;
      }
    }
    // After the delta fast path, which told a delta's session already: a delta pays for one check, not two.
    if (this.listening !== undefined && unlistened(data, this.listening)) {
      this.handlers.onSkipped?.();
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch (err) {
      const s = sniffFrame(data);
      this.handlers.onIssue({
        code: "invalid_json",
        message: `event data is not JSON (${errorMessage(err)}): ${JSON.stringify(data.slice(0, 120))}`,
        ...s,
      });
      return;
    }
    this.handlers.onEvent(payload);
  }

  private tooLarge(type: string | undefined): string {
    return `dropped ${type ? `a ${type} event` : "an event"} larger than the ${this.max}-byte frame cap`;
  }

  push(chunk: Uint8Array | string): void {
    const text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk);
    if (text === "") return;
    this.feed(text);
  }

  private feed(text: string): void {
    if (this.skipping) {
      const joined = this.tail + text;
      const m = /(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r|\n)/.exec(joined);
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (!m || (m.index + m[0].length === joined.length && joined.endsWith("\r"))) {
        this.tail = joined.slice(-3);
        return;
      }
      this.skipping = false;
      this.tail = "";
      this.parser.reset({ consume: false });
      const rest = joined.slice(m.index + m[0].length);
      if (rest !== "") this.feed(rest);
      return;
    }
    this.dispatched = false;
    this.parser.feed(text);
    if (this.dispatched) {
      // A new frame starts after the last blank line of this chunk.
      const rest = afterLastBlankLine(text);
      this.head = rest.length > HEAD ? rest.slice(0, HEAD) : rest;
      this.sinceDispatch = rest.length;
    } else {
      if (this.head.length < HEAD) this.head += text.slice(0, HEAD - this.head.length);
      this.sinceDispatch += text.length;
    }
    if (this.sinceDispatch > this.max + HEAD) {
      // The parser is accumulating one huge frame: drop it and skip to its end.
      const s = sniffFrame(this.head);
      this.handlers.onIssue({ code: "frame_too_large", message: this.tooLarge(s.type), ...s });
      this.parser.reset({ consume: false });
      this.skipping = true;
      this.tail = text.slice(-3);
      this.sinceDispatch = 0;
      this.head = "";
    }
  }

  /** The stream ended. Reports a frame cut off mid-way (not dispatched). */
  end(): void {
    const rest = this.decoder.end();
    if (rest !== "") this.feed(rest);
    if (this.head.trim() !== "") {
      // eventsource-parser drops an incomplete last event; say so instead of losing it silently.
      this.handlers.onIssue({
        code: "truncated",
        message: `the stream ended in the middle of an event: ${JSON.stringify(this.head.slice(0, 120))}`,
        type: undefined,
        sessionID: undefined,
      });
    }
    this.parser.reset({ consume: false });
    this.skipping = false;
    this.sinceDispatch = 0;
    this.head = "";
  }
}

/** The text after the last blank line (an event boundary) in `text`, or "" if it ends on one. */
function afterLastBlankLine(text: string): string {
  let end = lastEnd(text, "\n\n");
  // CR framings are rare; only look for them when the chunk has a CR at all (a fast scan).
  if (text.includes("\r")) {
    end = Math.max(end, lastEnd(text, "\r\n\r\n"), lastEnd(text, "\r\r"), lastEnd(text, "\r\n\n"));
  }
  return end < 0 ? text : text.slice(end);
}

function lastEnd(text: string, sep: string): number {
  const i = text.lastIndexOf(sep);
  return i < 0 ? -1 : i + sep.length;
}

const SNIFF_HEAD = 4096;
const TYPE_RE = /"type"\s*:\s*"([^"]{1,100})"/;
const SESSION_RE = /"sessionID"\s*:\s*"([^"]{1,200})"/;

/** Type and session of a frame that could not be decoded (bad JSON, over the cap), read from its first bytes. */
export function sniffFrame(head: string): { type: string | undefined; sessionID: string | undefined } {
  const h = head.length > SNIFF_HEAD ? head.slice(0, SNIFF_HEAD) : head;
  return { type: TYPE_RE.exec(h)?.[1], sessionID: SESSION_RE.exec(h)?.[1] };
}
