/**
 * Delivery: a turn's replies reach the sink one at a time, in order, through the
 * turn's lane (src/util/lane.ts); this is where each reply gets its envelope
 * (`trace_id`, `session_id`, gapless `seq`).
 *
 * Bound: when `maxQueuedReplies` bodies are held, consecutive text of one part is
 * merged into the waiting body, so a slow sink costs larger deltas, never memory
 * without bound or lost text. Because `seq` is stamped as a reply leaves the
 * lane, merging leaves no gap.
 *
 * The sink timeout is counted here and nowhere else: a sink call unsettled after
 * `sinkTimeoutMs` is left behind (the lane moves on) and counts as a failure only
 * if it rejects, or has still not settled when the turn's result is read — a slow
 * sink whose replies all arrive has no failure.
 *
 * Request events (src/adapter/requests.ts) travel in the same lane, so a sink that
 * takes them (`requests: true`) sees them in order with the replies; they get no `seq`.
 */
import type { Logger } from "pino";
import { Envelope, type ReplyBody } from "../codec/envelope.js";
import type { ErrorReply, FinalReply, Reply } from "../codec/reply.js";
import { isRequestEvent, takesRequests, type SinkObject } from "../sink/types.js";
import type { RequestEvent } from "../codec/requests.js";
import type { Clock } from "../util/clock.js";
import { Lane } from "../util/lane.js";

export interface DeliveryOptions {
  readonly sinkTimeoutMs: number;
  readonly maxQueuedReplies: number;
  readonly clock: Clock;
}

type Item = ReplyBody | RequestEvent;

/** What a settled turn reports to the caller of `prompt` (read from delivery: `Delivery.result`). */
export interface TurnResult {
  readonly traceId: string;
  readonly sessionId: string;
  readonly status: "final" | "error";
  readonly final?: FinalReply;
  readonly error?: ErrorReply;
  /** How many replies the turn produced (all delivered to the sink before `prompt` resolved). */
  readonly replies: number;
  /** Sink calls that threw or rejected. */
  readonly sinkFailures: number;
}

export class Delivery {
  private readonly envelope: Envelope;
  private readonly lane: Lane<Item>;
  /** The terminal reply, once delivered (stamped). */
  terminal: Reply | undefined;
  /** Sink calls that threw or rejected. */
  private failures = 0;
  /** How many bodies were merged into a waiting one (a slow sink). */
  coalesced = 0;
  private lateLogged = false;

  constructor(
    traceId: string,
    private readonly sessionId: string,
    private readonly sink: SinkObject,
    opts: DeliveryOptions,
    private readonly log: Logger,
    /** The seq of the first reply (a turn followed again after a restart goes on where it was). */
    firstSeq = 0,
  ) {
    this.envelope = new Envelope(traceId);
    this.lane = new Lane<Item>(
      {
        take: (item) => this.take(item),
        failed: (item, err) => {
          this.failures++;
          this.log.error({ err, ...this.describe(item) }, "sink failed to take a reply");
        },
        late: (item) => {
          if (this.lateLogged) return;
          this.lateLogged = true;
          this.log.warn(
            { ...this.describe(item), timeout_ms: opts.sinkTimeoutMs },
            "sink did not take a reply in time: moving on (counted as failed unless it arrives before the turn ends)",
          );
        },
      },
      { max: opts.maxQueuedReplies, atBound: (tail, item) => this.merge(tail, item), timeoutMs: opts.sinkTimeoutMs, clock: opts.clock },
    );
    this.envelope.seq = firstSeq;
  }

  /**
   * What the turn reports, read once every reply has reached the sink (after `drain`),
   * so the status is the terminal reply the sink actually got. Sink failures: calls
   * that threw, rejected, or were left behind and have not settled.
   */
  result(): TurnResult {
    const last = this.terminal;
    return {
      traceId: this.envelope.traceId,
      sessionId: this.sessionId,
      status: last?.kind === "final" ? "final" : "error",
      final: last?.kind === "final" ? last : undefined,
      error: last?.kind === "error" ? last : undefined,
      replies: this.envelope.seq,
      sinkFailures: this.failures + this.lane.lateUnsettled,
    };
  }

  /** Queue a request event behind the replies already queued (dropped when the sink takes no request events). */
  pushRequest(evt: RequestEvent): void {
    if (takesRequests(this.sink)) void this.lane.push(evt);
  }

  /** Queue the codec's bodies (the array is emptied) and make sure they are on their way. */
  push(bodies: ReplyBody[]): void {
    for (let i = 0; i < bodies.length; i++) void this.lane.push(bodies[i] as ReplyBody);
    // Emptied with pop, not `length = 0` (V8 would free the backing store; the codec's array is reused per event).
    while (bodies.length > 0) bodies.pop();
  }

  /** Resolves once nothing waits and nothing is being delivered. */
  drain(): Promise<void> {
    return this.lane.drain();
  }

  private take(item: Item): void | Promise<void> {
    if (isRequestEvent(item)) return takesRequests(this.sink) ? this.sink.deliver(item) : undefined;
    const reply = this.envelope.stamp(item, this.sessionId);
    if (reply.kind === "final" || reply.kind === "error") this.terminal = reply;
    return this.sink.deliver(reply);
  }

  /** At the bound: text of one part joins the waiting body of the same part. */
  private merge(tail: Item, item: Item): boolean {
    if (isRequestEvent(tail) || isRequestEvent(item)) return false;
    if ((item.kind !== "delta" && item.kind !== "reasoning") || tail.kind !== item.kind || tail.part_id !== item.part_id) return false;
    tail.content += item.content;
    this.coalesced++;
    return true;
  }

  private describe(item: Item): { kind: string; seq?: number } {
    return isRequestEvent(item) ? { kind: item.type } : { kind: item.kind, seq: item.seq };
  }
}
