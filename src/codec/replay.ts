/**
 * Replay a recorded `/event` stream through the whole pipeline
 * (bytes → SSE → JSON → validation → codec) and get one turn's replies.
 *
 * Two forms:
 * - collecting: `replay` / `replaySync` return every reply and issue in arrays
 *   (tests, small files);
 * - streaming: `replayStream` yields each reply (and hands it to `onReply`) and
 *   keeps no reply or issue after handing it on, so memory does not grow with the
 *   number of replies — only with what the turn itself must keep (the answer text
 *   for `final`).
 */
import { createTurnState, finishTurn, lostEventInto, mapEventInto, type TurnOptions, type TurnState } from "./codec.js";
import type { Reply } from "./reply.js";
import { isParsedEvent } from "./events.js";
import { EventStreamDecoder, type DecoderOptions, type StreamIssue } from "../stream/sse.js";

export interface ReplayOptions extends Partial<TurnOptions>, DecoderOptions {
  /** Called with every reply as it is produced. */
  readonly onReply?: (reply: Reply) => void;
  /** Called with every problem in the stream (bad JSON, oversized frames …). */
  readonly onIssue?: (issue: StreamIssue) => void;
  /** Called with every decoded event payload before the codec reads it (counting, listing sessions …). */
  readonly onEvent?: (payload: unknown) => void;
}

export interface ReplayResult {
  readonly replies: Reply[];
  readonly issues: StreamIssue[];
  readonly state: TurnState;
}

/** What a streaming replay leaves behind: counts and the terminal reply, no arrays. */
export interface ReplaySummary {
  /** The turn's terminal reply (`final` or `error`); there is always exactly one. */
  readonly terminal: Reply;
  readonly replies: number;
  readonly issues: number;
  /** Decoded events (frames that were valid JSON). */
  readonly events: number;
  readonly state: TurnState;
}

const MESSAGE_ENDED = "the recorded stream ended before the turn finished";

/**
 * A push-based turn pipeline: feed chunks with `push`, then call `end`.
 * At the end, a turn that did not finish gets its terminal `error` (transport).
 *
 * Retention invariant: with `retain: false` the replayer holds no reply or issue
 * once its callback returned — replies pass through one scratch array that is
 * emptied after every event — so a stream of any length replays in the memory
 * of one turn state.
 */
export class TurnReplayer {
  readonly state: TurnState;
  /** Every reply so far (collecting form); stays empty with `retain: false`. */
  readonly replies: Reply[] = [];
  /** Every issue so far (collecting form); stays empty with `retain: false`. */
  readonly issues: StreamIssue[] = [];
  private readonly decoder: EventStreamDecoder;
  private readonly retain: boolean;
  /** Where the codec appends: `replies` when retaining, else a scratch array emptied after each event. */
  private readonly out: Reply[];
  private count = 0;
  private issueCount = 0;
  private events = 0;
  private last: Reply | undefined;

  constructor(
    private readonly opts: ReplayOptions & { readonly retain?: boolean } = {},
  ) {
    this.retain = opts.retain ?? true;
    this.out = this.retain ? this.replies : [];
    this.state = createTurnState({
      traceId: opts.traceId ?? "replay",
      sessionId: opts.sessionId,
      userMessageId: opts.userMessageId,
      priorMessageIds: opts.priorMessageIds,
    });
    const onEvent = opts.onEvent;
    this.decoder = new EventStreamDecoder(
      {
        onEvent: (payload) => {
          this.events++;
          // A fast-read delta's event is what JSON.parse gives its frame (src/stream/fast-delta.ts).
          if (onEvent) onEvent(isParsedEvent(payload) ? payload.event : payload);
          const from = this.out.length;
          mapEventInto(payload, this.state, this.out);
          if (this.out.length !== from) this.announce(from);
        },
        onIssue: (issue) => {
          this.issueCount++;
          if (this.retain) this.issues.push(issue);
          this.opts.onIssue?.(issue);
          // A frame cut off by the end of the stream is the end's business (finishTurn, transport).
          if (issue.code === "truncated") return;
          const from = this.out.length;
          lostEventInto({ type: issue.type, sessionID: issue.sessionID }, this.state, this.out);
          if (this.out.length !== from) this.announce(from);
        },
      },
      { maxFrameBytes: opts.maxFrameBytes, fastDelta: true },
    );
  }

  private announce(from: number): void {
    const out = this.out;
    const onReply = this.opts.onReply;
    if (onReply) for (let i = from; i < out.length; i++) onReply(out[i] as Reply);
    this.count += out.length - from;
    this.last = out[out.length - 1];
    if (!this.retain) out.length = 0;
  }

  /** Whether the turn has ended (its terminal reply was produced); later input cannot change the replies. */
  get done(): boolean {
    return this.state.phase === "done";
  }

  push(chunk: Uint8Array | string): void {
    this.decoder.push(chunk);
  }

  /** End the input; returns the collected result (arrays empty with `retain: false`). */
  end(): ReplayResult {
    this.finish();
    return { replies: this.replies, issues: this.issues, state: this.state };
  }

  /** End the input; returns counts and the terminal reply. */
  endSummary(): ReplaySummary {
    this.finish();
    return {
      terminal: this.last as Reply,
      replies: this.count,
      issues: this.issueCount,
      events: this.events,
      state: this.state,
    };
  }

  private finish(): void {
    this.decoder.end();
    const tail = finishTurn(this.state, { code: "transport", message: MESSAGE_ENDED }).replies;
    if (tail.length === 0) return;
    const from = this.out.length;
    for (const r of tail) this.out.push(r);
    this.announce(from);
  }
}

/** Whole bytes, or any (async) iterable of chunks. */
export type ReplayInput = Uint8Array | string | Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>;

/** Replay whole bytes, or any (async) iterable of chunks, collecting every reply. */
export async function replay(input: ReplayInput, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const r = new TurnReplayer(opts);
  for await (const chunk of chunks(input)) r.push(chunk);
  return r.end();
}

/**
 * Streaming replay as an async iterator of replies; its return value (what
 * `for await` drops, `next()` gives at `done`) is the summary. Input is read one
 * chunk ahead of the consumer at most: replies of one chunk are buffered, no more.
 */
export async function* replayStream(input: ReplayInput, opts: ReplayOptions = {}): AsyncGenerator<Reply, ReplaySummary> {
  const batch: Reply[] = [];
  const user = opts.onReply;
  const r = new TurnReplayer({
    ...opts,
    retain: false,
    onReply: (reply) => {
      batch.push(reply);
      user?.(reply);
    },
  });
  // Each chunk's replies are taken out of `batch` (splice) before they are yielded.
  for await (const chunk of chunks(input)) {
    r.push(chunk);
    if (batch.length > 0) yield* batch.splice(0);
  }
  const summary = r.endSummary();
  yield* batch.splice(0);
  return summary;
}

/** Synchronous replay of chunks already in memory (tests, benchmarks). */
export function replaySync(chunks: Iterable<Uint8Array | string>, opts: ReplayOptions = {}): ReplayResult {
  const r = new TurnReplayer(opts);
  for (const c of chunks) r.push(c);
  return r.end();
}

async function* chunks(input: ReplayInput): AsyncGenerator<Uint8Array | string> {
  if (typeof input === "string" || input instanceof Uint8Array) yield input;
  else yield* input;
}
