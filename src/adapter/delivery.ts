/**
 * Delivery: a turn's replies reach the sink one at a time, in order, each call
 * bounded by `sinkTimeoutMs`; this is where each reply gets its envelope
 * (`trace_id`, `session_id`, gapless `seq`).
 *
 * Bound: when more than `maxQueuedReplies` bodies wait, consecutive text of one
 * part is merged into the waiting body, so a slow sink costs larger deltas, never
 * memory without bound or lost text. Because `seq` is stamped as a reply leaves
 * the queue, merging leaves no gap.
 *
 * Request events (src/adapter/requests.ts) travel in the same queue, so the sink's
 * `request` sees them in order with the replies; they get no `seq`.
 */
import type { Logger } from "pino";
import { Envelope, type ReplyBody } from "../codec/envelope.js";
import type { Reply } from "../codec/reply.js";
import type { SinkObject } from "../sink/types.js";
import type { RequestEvent } from "../codec/requests.js";
import type { Clock } from "../util/clock.js";

export interface DeliveryOptions {
  readonly sinkTimeoutMs: number;
  readonly maxQueuedReplies: number;
  readonly clock: Clock;
}

export class Delivery {
  private readonly envelope: Envelope;
  /** Bodies waiting for the sink; `head` is the next one. */
  private queue: (ReplyBody | RequestEvent)[] = [];
  private head = 0;
  private delivering = false;
  private drained: (() => void) | undefined;
  /** The terminal reply, once delivered (stamped). */
  terminal: Reply | undefined;
  /** Sink calls that threw, rejected or timed out. */
  sinkFailures = 0;
  /** How many bodies were merged into a waiting one (a slow sink). */
  coalesced = 0;

  constructor(
    traceId: string,
    private readonly sessionId: string,
    private readonly sink: SinkObject,
    private readonly opts: DeliveryOptions,
    private readonly log: Logger,
  ) {
    this.envelope = new Envelope(traceId);
  }

  /** Replies stamped so far. */
  get count(): number {
    return this.envelope.seq;
  }

  /** Queue a request event behind the replies already queued (dropped when the sink has no `request`). */
  pushRequest(evt: RequestEvent): void {
    if (this.sink.request === undefined) return;
    this.queue.push(evt);
    if (!this.delivering) void this.pump();
  }

  /** Queue the codec's bodies (the array is emptied) and make sure they are on their way. */
  push(bodies: ReplyBody[]): void {
    if (bodies.length === 0) return;
    const max = this.opts.maxQueuedReplies;
    for (const r of bodies) {
      const waiting = this.queue.length - this.head;
      const tail = waiting > 0 ? this.queue[this.queue.length - 1] : undefined;
      if (
        waiting >= max &&
        tail !== undefined &&
        !("type" in tail) &&
        (r.kind === "delta" || r.kind === "reasoning") &&
        tail.kind === r.kind &&
        tail.part_id === r.part_id
      ) {
        tail.content += r.content;
        this.coalesced++;
        continue;
      }
      this.queue.push(r);
    }
    bodies.length = 0;
    if (!this.delivering && this.head < this.queue.length) void this.pump();
  }

  /** Resolves once nothing waits and nothing is being delivered. */
  drain(): Promise<void> {
    if (!this.delivering && this.head >= this.queue.length) return Promise.resolve();
    return new Promise<void>((resolve) => (this.drained = resolve));
  }

  private async pump(): Promise<void> {
    this.delivering = true;
    while (this.head < this.queue.length) {
      const body = this.queue[this.head] as ReplyBody | RequestEvent;
      this.queue[this.head] = undefined as unknown as ReplyBody;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if ("type" in body) {
        await this.bounded(() => this.sink.request?.(body), body.type);
        continue;
      }
      const reply = this.envelope.stamp(body, this.sessionId);
      if (reply.kind === "final" || reply.kind === "error") this.terminal = reply;
      await this.bounded(() => this.sink.deliver(reply), reply.kind, reply.seq);
    }
    this.delivering = false;
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  /** One sink call, bounded by `sinkTimeoutMs`; a throw, rejection or timeout is counted and delivery moves on. */
  private async bounded(call: () => void | Promise<void>, kind: string, seq?: number): Promise<void> {
    let pending: void | Promise<void>;
    try {
      pending = call();
    } catch (err) {
      this.failed(kind, seq, err);
      return;
    }
    // A synchronous sink costs no timer and no race.
    if (typeof (pending as { then?: unknown } | undefined)?.then !== "function") return;
    const c = this.opts.clock;
    let handle: unknown;
    try {
      const outcome = await Promise.race([
        Promise.resolve(pending).then(() => "ok" as const),
        new Promise<"timeout">((resolve) => {
          handle = c.setTimeout(() => resolve("timeout"), this.opts.sinkTimeoutMs);
        }),
      ]);
      if (outcome === "timeout") {
        this.sinkFailures++;
        this.log.error({ seq, kind, timeout_ms: this.opts.sinkTimeoutMs }, "sink did not take a reply in time: moving on");
      }
    } catch (err) {
      this.failed(kind, seq, err);
    } finally {
      c.clearTimeout(handle);
    }
  }

  private failed(kind: string, seq: number | undefined, err: unknown): void {
    this.sinkFailures++;
    this.log.error({ err: (err as Error)?.message, seq, kind }, "sink failed to take a reply");
  }
}
