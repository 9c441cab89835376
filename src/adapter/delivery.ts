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
  /**
   * Bodies waiting for the sink: `queue[head]` up to `queue[tail - 1]`. Indices
   * rather than `push`/`length = 0`: both ends go back to 0 whenever the queue
   * empties, so a sink that keeps up reuses the same few slots (V8 frees an
   * array's backing store when its length is set to 0, and the next `push`
   * allocates a new one — a ~150-byte array per reply).
   */
  private queue: (ReplyBody | RequestEvent | undefined)[] = [];
  private head = 0;
  private tail = 0;
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
    /** The seq of the first reply (a turn followed again after a restart goes on where it was). */
    firstSeq = 0,
  ) {
    this.envelope = new Envelope(traceId);
    this.envelope.seq = firstSeq;
  }

  /** Replies stamped so far. */
  get count(): number {
    return this.envelope.seq;
  }

  /** Queue a request event behind the replies already queued (dropped when the sink has no `request`). */
  pushRequest(evt: RequestEvent): void {
    if (this.sink.request === undefined) return;
    this.queue[this.tail++] = evt;
    if (!this.delivering) this.pump();
  }

  /** Queue the codec's bodies (the array is emptied) and make sure they are on their way. */
  push(bodies: ReplyBody[]): void {
    if (bodies.length === 0) return;
    const max = this.opts.maxQueuedReplies;
    for (let i = 0; i < bodies.length; i++) {
      const r = bodies[i] as ReplyBody;
      const waiting = this.tail - this.head;
      const tail = waiting > 0 ? this.queue[this.tail - 1] : undefined;
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
      this.queue[this.tail++] = r;
    }
    // Emptied with pop, not `length = 0`, for the reason above (the codec's array is reused per event).
    while (bodies.length > 0) bodies.pop();
    if (!this.delivering && this.head < this.tail) this.pump();
  }

  /** Resolves once nothing waits and nothing is being delivered. */
  drain(): Promise<void> {
    if (!this.delivering && this.head >= this.tail) return Promise.resolve();
    return new Promise<void>((resolve) => (this.drained = resolve));
  }

  /**
   * Hand the waiting bodies to the sink, in order. A synchronous sink is called in
   * a plain loop — no promise, closure or timer per reply; the first call that
   * returns a promise hands the rest of the queue to `resume`, which waits for it
   * (bounded by `sinkTimeoutMs`) and then continues here.
   */
  private pump(): void {
    this.delivering = true;
    while (this.head < this.tail) {
      const body = this.queue[this.head] as ReplyBody | RequestEvent;
      this.queue[this.head] = undefined;
      this.head++;
      if (this.head === this.tail) {
        this.head = 0;
        this.tail = 0;
      } else if (this.head > 1024 && this.head * 2 > this.tail) {
        this.queue = this.queue.slice(this.head, this.tail);
        this.tail -= this.head;
        this.head = 0;
      }
      const request = "type" in body ? body : undefined;
      const reply = request === undefined ? this.envelope.stamp(body as ReplyBody, this.sessionId) : undefined;
      if (reply !== undefined && (reply.kind === "final" || reply.kind === "error")) this.terminal = reply;
      let pending: void | Promise<void>;
      try {
        pending = reply !== undefined ? this.sink.deliver(reply) : this.sink.request?.(request as RequestEvent);
      } catch (err) {
        this.failed(reply?.kind ?? (request as RequestEvent).type, reply?.seq, err);
        continue;
      }
      if (typeof (pending as { then?: unknown } | undefined)?.then === "function") {
        void this.resume(pending as Promise<void>, reply?.kind ?? (request as RequestEvent).type, reply?.seq);
        return;
      }
    }
    this.delivering = false;
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  /** Wait for an asynchronous sink call (bounded), then deliver the rest. */
  private async resume(pending: Promise<void>, kind: string, seq: number | undefined): Promise<void> {
    await this.bounded(pending, kind, seq);
    this.pump();
  }

  /** One asynchronous sink call, bounded by `sinkTimeoutMs`; a rejection or timeout is counted and delivery moves on. */
  private async bounded(pending: Promise<void>, kind: string, seq: number | undefined): Promise<void> {
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
    this.log.error({ err, seq, kind }, "sink failed to take a reply");
  }
}
