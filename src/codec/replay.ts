/**
 * Replay a recorded `/event` stream through the whole pipeline
 * (bytes → SSE → JSON → validation → codec) and collect one turn's replies.
 */
import { createTurnState, finishTurn, lostEventInto, mapEventInto, type TurnOptions, type TurnState } from "./codec.js";
import type { Reply } from "./reply.js";
import { EventStreamDecoder, type DecoderOptions, type StreamIssue } from "./sse.js";

export interface ReplayOptions extends Partial<TurnOptions>, DecoderOptions {
  /** Called with every reply as it is produced. */
  readonly onReply?: (reply: Reply) => void;
  /** Called with every problem in the stream (bad JSON, oversized frames …). */
  readonly onIssue?: (issue: StreamIssue) => void;
}

export interface ReplayResult {
  readonly replies: Reply[];
  readonly issues: StreamIssue[];
  readonly state: TurnState;
}

/**
 * A push-based turn pipeline: feed chunks with `push`, then call `end`.
 * At the end, a turn that did not finish gets its terminal `error` (transport).
 */
export class TurnReplayer {
  private readonly state: TurnState;
  readonly replies: Reply[] = [];
  readonly issues: StreamIssue[] = [];
  private readonly decoder: EventStreamDecoder;

  constructor(private readonly opts: ReplayOptions = {}) {
    this.state = createTurnState({
      traceId: opts.traceId ?? "replay",
      sessionId: opts.sessionId,
      userMessageId: opts.userMessageId,
      priorMessageIds: opts.priorMessageIds,
    });
    this.decoder = new EventStreamDecoder(
      {
        onEvent: (payload) => {
          const from = this.replies.length;
          mapEventInto(payload, this.state, this.replies);
          this.announce(from);
        },
        onIssue: (issue) => {
          this.issues.push(issue);
          this.opts.onIssue?.(issue);
          // A frame cut off by the end of the stream is the end's business (finishTurn, transport).
          if (issue.code === "truncated") return;
          const from = this.replies.length;
          lostEventInto({ type: issue.type, sessionID: issue.sessionID }, this.state, this.replies);
          this.announce(from);
        },
      },
      opts,
    );
  }

  private announce(from: number): void {
    const onReply = this.opts.onReply;
    if (onReply) for (let i = from; i < this.replies.length; i++) onReply(this.replies[i] as Reply);
  }

  push(chunk: Uint8Array | string): void {
    this.decoder.push(chunk);
  }

  end(): ReplayResult {
    this.decoder.end();
    const from = this.replies.length;
    this.replies.push(
      ...finishTurn(this.state, { code: "transport", message: "the recorded stream ended before the turn finished" }).replies,
    );
    this.announce(from);
    return { replies: this.replies, issues: this.issues, state: this.state };
  }
}

/** Replay whole bytes, or any (async) iterable of chunks. */
export async function replay(
  input: Uint8Array | string | Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>,
  opts: ReplayOptions = {},
): Promise<ReplayResult> {
  const r = new TurnReplayer(opts);
  if (typeof input === "string" || input instanceof Uint8Array) r.push(input);
  else if (Symbol.asyncIterator in input) for await (const c of input) r.push(c);
  else for (const c of input) r.push(c);
  return r.end();
}

/** Synchronous replay of chunks already in memory (tests, benchmarks). */
export function replaySync(chunks: Iterable<Uint8Array | string>, opts: ReplayOptions = {}): ReplayResult {
  const r = new TurnReplayer(opts);
  for (const c of chunks) r.push(c);
  return r.end();
}
