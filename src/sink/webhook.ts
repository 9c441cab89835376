/**
 * A sink that POSTs every reply as JSON to an HTTP endpoint (a session recorder).
 *
 * Guarantee: **at-least-once, ordered per turn**.
 * - Each reply is one `POST` with `content-type: application/json`, the reply as
 *   the body, and `Idempotency-Key: <trace_id>:<seq>:<turn_id>`. `turn_id` is
 *   unique to the turn for all time (given by `turnIdOf`, e.g. the daemon's
 *   journaled id, or else a random UUID the sink draws at the turn's first reply),
 *   so a `trace_id` used again later never repeats a key. A reply can arrive more
 *   than once (an acknowledgement lost on the way back is retried); the key is
 *   what the receiver deduplicates on.
 * - Within a turn (`trace_id`), reply `seq` n+1 is sent only after n was
 *   acknowledged with a 2xx. Different turns deliver independently: a receiver
 *   that is slow or failing for one turn never holds up another.
 * - Connection errors, timeouts, 408, 429 and 5xx are retried with exponential
 *   backoff (a `Retry-After` in seconds or as an HTTP date replaces the computed
 *   delay); every delay is capped at `maxDelayMs`. Each attempt has a deadline
 *   (`requestTimeoutMs`) held by a plain timer, which no garbage collection can
 *   erase (see util/deadline.ts). Any other status (a 4xx) means
 *   the receiver rejects the reply: it is not retried.
 * - A reply is given up after `maxAttempts` attempts, or when the next attempt
 *   would start more than `maxElapsedMs` after the first, or when it is
 *   rejected. Since n+1 may only follow n, giving up abandons the rest of that
 *   turn: the reply and every later reply of the turn are dropped, counted in
 *   `failures`, and one `error` log line names the turn, the seq and the cause.
 *
 * Memory: at most `maxQueuedPerTurn` replies (the one in flight included) are
 * held per turn. At the bound, `deliver` waits until the receiver acknowledges
 * (or the reply is given up) before taking the next one: the producer — the
 * adapter awaits `deliver` per turn — is slowed for that turn only; nothing is
 * dropped. Nothing else grows with the length of a turn.
 *
 * `deliver` returns once the reply is queued, not once it is acknowledged, so a
 * slow receiver does not stretch a turn (synchronously, without a promise, while
 * the turn is below its bound). One attempt is one `POST` (./webhook-post.ts). `flush()` waits until everything queued
 * was acknowledged or given up; `close()` does the same for at most
 * `closeTimeoutMs`, then cancels what is left (counted in `failures`).
 */
import { randomUUID } from "node:crypto";
import type { Dispatcher } from "undici";
import pino, { type Logger } from "pino";
import { z } from "zod";
import { formatOptionIssues } from "../util/zod.js";
import { isTerminal, type Reply } from "../codec/reply.js";
import type { RequestEvent } from "../codec/requests.js";
import { backoffDelay, type BackoffPolicy } from "../util/backoff.js";
import { realClock, type Clock } from "../util/clock.js";
import { SinkError } from "./errors.js";
import type { SinkHooks, SinkObject, SinkStats } from "./types.js";
import { replyJson } from "./encoded.js";
import { Cancellation, postOnce, postTarget, type PostTarget } from "./webhook-post.js";

export { parseRetryAfter } from "./webhook-post.js";

const ms = (what: string) =>
  z
    .number({ error: `${what} must be a number of milliseconds` })
    .int(`${what} must be a whole number of milliseconds`)
    .nonnegative(`${what} must be 0 or more`);
const count = (what: string, min: number) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`).min(min, `${what} must be at least ${min}`);

export const WebhookOptionsSchema = z.object({
  /** Where replies are POSTed. */
  url: z
    .string({ error: "url must be a string such as http://127.0.0.1:8080/replies" })
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), "url must be an http:// or https:// URL"),
  /** Extra request headers, e.g. the receiver's own Authorization. Never logged. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Attempts per reply, the first included. */
  maxAttempts: count("maxAttempts", 1).default(8),
  /** No attempt of a reply starts later than this after its first attempt. */
  maxElapsedMs: ms("maxElapsedMs").default(60_000),
  /** The delay before the first retry; it doubles (`backoffFactor`) after each. */
  initialDelayMs: ms("initialDelayMs").default(250),
  backoffFactor: z.number({ error: "backoffFactor must be a number" }).min(1, "backoffFactor must be at least 1").default(2),
  /** The cap on any delay, a `Retry-After` included. */
  maxDelayMs: ms("maxDelayMs").default(10_000),
  /** Each attempt (connect, send, response headers and body) may take at most this long. */
  requestTimeoutMs: ms("requestTimeoutMs").positive("requestTimeoutMs must be greater than 0").default(10_000),
  /** Replies held per turn (see "Memory" above). */
  maxQueuedPerTurn: count("maxQueuedPerTurn", 1).default(1_000),
  /** How long `close()` waits for queued replies before cancelling them. */
  closeTimeoutMs: ms("closeTimeoutMs").default(10_000),
});

export type WebhookOptionsInput = z.input<typeof WebhookOptionsSchema> & {
  dispatcher?: Dispatcher;
  logger?: Logger;
  /** The time source of backoff sleeps; tests inject one that does not wait. */
  clock?: Clock;
  /** The turn's id for all time, for `Idempotency-Key` (default: a UUID drawn at the turn's first reply). */
  turnIdOf?: (reply: Reply) => string | undefined;
  /** Called when the receiver acknowledged a reply (the daemon journals the position). */
  onDelivered?: (reply: Reply) => void;
  /** Jitter source in [0, 1): each computed delay is scaled into [delay/2, delay]. Default Math.random. */
  random?: () => number;
};
export type WebhookOptions = z.output<typeof WebhookOptionsSchema>;

/** Counters for metrics. */
export interface WebhookCounters extends SinkStats {
  /** Replies acknowledged with a 2xx. */
  delivered: number;
  /** Attempts after a reply's first. */
  retries: number;
  /** Replies never acknowledged: given up, dropped after a give-up in their turn, or cancelled by close(). */
  failures: number;
  /** Turns whose delivery was abandoned (one per give-up). */
  givenUp: number;
}

/** Validate; throws SinkError("config") naming every wrong field, what was expected and what was received. */
export function parseWebhookOptions(input: WebhookOptionsInput): WebhookOptions {
  if (typeof input !== "object" || input === null) {
    throw new SinkError("config", `webhook options must be an object, got ${input === null ? "null" : typeof input}`);
  }
  const { dispatcher: _d, logger: _l, clock: _c, random: _r, turnIdOf: _t, onDelivered: _o, ...plain } = input;
  const parsed = WebhookOptionsSchema.safeParse(plain);
  if (parsed.success) return parsed.data;
  const problems = formatOptionIssues(parsed.error, plain, { root: "(options)", hidden: { headers: "values not shown" } });
  throw new SinkError("config", `invalid webhook options: ${problems}`);
}

interface Queued {
  readonly reply: Reply;
  readonly key: string;
  /** A request event travelling in the turn's lane, in order with the replies (`reply` is then the last reply before it, for logs). */
  readonly event?: RequestEvent;
}

/** The delivery state of one turn. Invariant: `queue[0]` is the reply in flight while `running`. */
interface Lane {
  readonly traceId: string;
  readonly queue: Queued[];
  running: boolean;
  /** Delivery of this turn was given up: later replies are dropped until its terminal reply. */
  abandoned: boolean;
  /** `deliver` calls waiting for room in `queue`. */
  readonly roomWaiters: (() => void)[];
}

export class WebhookSink implements SinkObject {
  readonly options: WebhookOptions;
  private readonly counters: WebhookCounters = { delivered: 0, retries: 0, failures: 0, givenUp: 0 };
  private readonly lanes = new Map<string, Lane>();
  private readonly idleWaiters: (() => void)[] = [];
  /** Cancelled by close() once its grace is over: stops the attempts in flight and the backoff sleeps. */
  private readonly cancellation = new Cancellation();
  private readonly target: PostTarget;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly backoffPolicy: BackoffPolicy;
  private turnIdOf: ((reply: Reply) => string | undefined) | undefined;
  private onDelivered: ((reply: Reply) => void) | undefined;
  /** Turn ids drawn by the sink, per trace, until the turn's terminal reply was queued. */
  private readonly drawnTurnIds = new Map<string, string>();
  /** Where replies go, for logs: the origin only (webhook paths and queries often carry secrets). */
  private readonly shownUrl: string;
  private closed = false;

  constructor(input: WebhookOptionsInput) {
    this.options = parseWebhookOptions(input);
    this.clock = input.clock ?? realClock;
    this.random = input.random ?? Math.random;
    this.turnIdOf = input.turnIdOf;
    this.onDelivered = input.onDelivered;
    const o = this.options;
    this.backoffPolicy = { initialDelayMs: o.initialDelayMs, maxDelayMs: o.maxDelayMs, factor: o.backoffFactor, jitter: "equal" };
    this.shownUrl = new URL(this.options.url).origin;
    this.target = postTarget(o.url, o.headers, o.requestTimeoutMs, input.dispatcher);
    this.log = (input.logger ?? pino({ enabled: false })).child({ component: "webhook-sink", url: this.shownUrl });
  }

  /** Takes the host's turn ids and acknowledgement hook (options given to the constructor win). */
  bind(hooks: SinkHooks): void {
    this.turnIdOf ??= (r) => hooks.turnIdOf(r);
    this.onDelivered ??= (r) => hooks.acknowledged(r);
  }

  /** A snapshot of the counters. */
  stats(): Readonly<WebhookCounters> {
    return { ...this.counters };
  }

  /** Replies held (queued or in flight) across all turns. */
  get pending(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queue.length;
    return n;
  }

  /**
   * Queues the reply. Synchronous (no promise) when its turn has room, which is
   * the common case: the daemon hands one reply per call and a promise per reply
   * is garbage; a promise only when the caller must wait for room, or to reject.
   */
  deliver(reply: Reply): void | Promise<void> {
    if (this.closed) {
      this.counters.failures++;
      return Promise.reject(new SinkError("closed", `the webhook sink is closed; reply ${reply.trace_id}:${reply.seq} was not sent`));
    }
    const lane = this.laneOf(reply.trace_id);
    if (lane.queue.length < this.options.maxQueuedPerTurn || lane.abandoned || this.cancellation.cancelled) return this.enqueue(lane, reply);
    return this.deliverWhenRoom(reply);
  }

  private async deliverWhenRoom(reply: Reply): Promise<void> {
    let lane: Lane;
    for (;;) {
      // Looked up again after every wait: the pump drops a lane it has emptied.
      lane = this.laneOf(reply.trace_id);
      if (lane.queue.length < this.options.maxQueuedPerTurn || lane.abandoned || this.cancellation.cancelled) break;
      const l = lane;
      await new Promise<void>((resolve) => l.roomWaiters.push(resolve));
    }
    this.enqueue(lane, reply);
  }

  private enqueue(lane: Lane, reply: Reply): void {
    if (lane.abandoned || this.cancellation.cancelled) {
      // n+1 never goes out without n: the rest of an abandoned turn is dropped (counted, logged once at the give-up).
      this.counters.failures++;
      if (isTerminal(reply) && !lane.running) this.lanes.delete(lane.traceId);
      this.settleIfIdle();
      return;
    }
    lane.queue.push({ reply, key: `${reply.trace_id}:${reply.seq}:${this.turnId(reply)}` });
    if (!lane.running) void this.pump(lane);
  }

  /**
   * A request event (src/adapter/requests.ts) goes to the same URL in the turn's
   * order, retried like a reply; its body has `type` (`request` | `request_resolved`)
   * where replies have `kind`, and its Idempotency-Key is `trace_id:type:request_id:turn`.
   * It is not acknowledged to the daemon's journal, and a failed one does not end the turn's delivery.
   */
  async request(evt: RequestEvent): Promise<void> {
    if (this.closed) return;
    const lane = this.laneOf(evt.trace_id);
    if (lane.abandoned || this.cancellation.cancelled) return;
    const id = evt.type === "request" ? evt.request.request_id : evt.request_id;
    const last = lane.queue.at(-1)?.reply;
    const stand: Reply = last ?? { kind: "delta", trace_id: evt.trace_id, session_id: evt.session_id, seq: -1, content: "", part_id: "" };
    const turnId = this.turnIdOf?.(stand) ?? this.drawnTurnIds.get(evt.trace_id) ?? "-";
    lane.queue.push({ reply: stand, key: `${evt.trace_id}:${evt.type}:${id}:${turnId}`, event: evt });
    if (!lane.running) void this.pump(lane);
  }

  /** The turn's id for its idempotency keys: given, or drawn once per turn (forgotten at its terminal reply). */
  private turnId(reply: Reply): string {
    const given = this.turnIdOf?.(reply);
    if (given !== undefined) return given;
    let id = this.drawnTurnIds.get(reply.trace_id);
    if (id === undefined) {
      id = randomUUID();
      this.drawnTurnIds.set(reply.trace_id, id);
    }
    if (isTerminal(reply)) this.drawnTurnIds.delete(reply.trace_id);
    return id;
  }

  private laneOf(traceId: string): Lane {
    let lane = this.lanes.get(traceId);
    if (!lane) {
      lane = { traceId, queue: [], running: false, abandoned: false, roomWaiters: [] };
      this.lanes.set(traceId, lane);
    }
    return lane;
  }

  /** Resolves when every queued reply was acknowledged or given up. */
  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop taking replies; wait up to `closeTimeoutMs` for the queued ones, then cancel the rest. */
  async close(): Promise<void> {
    if (this.closed) return this.flush();
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.flush().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.options.closeTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    const left = this.pending;
    this.log.error(
      { replies: left, close_timeout_ms: this.options.closeTimeoutMs },
      `webhook sink closed with ${left} replies not acknowledged: cancelling them`,
    );
    this.cancellation.cancel();
    await this.flush();
  }

  // ---- internals --------------------------------------------------------------

  private isIdle(): boolean {
    for (const lane of this.lanes.values()) if (lane.running || lane.queue.length > 0 || lane.roomWaiters.length > 0) return false;
    return true;
  }

  private settleIfIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Sends the lane's replies one at a time, in order, until its queue is empty. */
  private async pump(lane: Lane): Promise<void> {
    lane.running = true;
    try {
      for (;;) {
        const head = lane.queue[0];
        if (head === undefined) break;
        const { reply } = head;
        const outcome = await this.send(head);
        lane.queue.shift();
        if (head.event !== undefined) {
          // A request event that could not be delivered is logged; the turn's replies go on.
          if (!outcome.ok) this.log.error({ trace_id: head.event.trace_id, type: head.event.type, cause: outcome.why }, "webhook delivery gave up on a request event");
          for (const w of lane.roomWaiters.splice(0)) w();
          continue;
        }
        if (outcome.ok) {
          this.counters.delivered++;
          this.onDelivered?.(reply);
        } else {
          // Everything still queued for the turn goes with it.
          const dropped = lane.queue.length;
          const sawTerminal = isTerminal(reply) || lane.queue.some((q) => q.event === undefined && isTerminal(q.reply));
          this.counters.failures += 1 + dropped;
          lane.queue.length = 0;
          if (!outcome.cancelled) this.counters.givenUp++;
          lane.abandoned = !sawTerminal;
          this.log.error(
            {
              trace_id: reply.trace_id,
              seq: reply.seq,
              kind: reply.kind,
              attempts: outcome.attempts,
              elapsed_ms: outcome.elapsedMs,
              cause: outcome.why,
              dropped_after: dropped,
            },
            outcome.cancelled
              ? `webhook delivery cancelled at close: reply ${reply.trace_id}:${reply.seq} and ${dropped} later replies of the turn were not sent`
              : `webhook delivery gave up on reply ${reply.trace_id}:${reply.seq} after ${outcome.attempts} attempts (${outcome.why}); the rest of the turn is dropped`,
          );
        }
        for (const w of lane.roomWaiters.splice(0)) w();
      }
    } finally {
      lane.running = false;
      // A lane that is empty and in good standing carries no state worth keeping; an
      // abandoned one stays until its terminal reply has been dropped.
      if (!lane.abandoned && lane.queue.length === 0 && lane.roomWaiters.length === 0) this.lanes.delete(lane.traceId);
      this.settleIfIdle();
    }
  }

  /** Delivers one reply, retrying as the options allow. */
  private async send(
    { reply, key, event }: Queued,
  ): Promise<{ ok: true } | { ok: false; cancelled: boolean; why: string; attempts: number; elapsedMs: number }> {
    const o = this.options;
    const body = event !== undefined ? JSON.stringify(event) : replyJson(reply);
    const started = this.clock.now();
    for (let attempt = 1; ; attempt++) {
      const r = await this.attempt(body, key);
      const elapsedMs = this.clock.now() - started;
      switch (r.kind) {
        case "ok":
          return { ok: true };
        case "cancelled":
          return { ok: false, cancelled: true, why: "cancelled by close()", attempts: attempt, elapsedMs };
        case "reject":
          return { ok: false, cancelled: false, why: r.why, attempts: attempt, elapsedMs };
        case "retry": {
          if (attempt >= o.maxAttempts) {
            return { ok: false, cancelled: false, why: `${r.why}; ${attempt} attempts is the limit`, attempts: attempt, elapsedMs };
          }
          const delay = Math.min(o.maxDelayMs, r.retryAfterMs ?? backoffDelay(this.backoffPolicy, attempt, this.random));
          if (elapsedMs + delay > o.maxElapsedMs) {
            return {
              ok: false,
              cancelled: false,
              why: `${r.why}; retrying in ${delay} ms would pass the ${o.maxElapsedMs} ms limit`,
              attempts: attempt,
              elapsedMs,
            };
          }
          this.counters.retries++;
          this.log.warn({ trace_id: reply.trace_id, seq: reply.seq, attempt, delay_ms: delay, cause: r.why }, "webhook delivery failed: retrying");
          await this.sleep(delay);
          if (this.cancellation.cancelled) {
            return { ok: false, cancelled: true, why: "cancelled by close()", attempts: attempt, elapsedMs: this.clock.now() - started };
          }
          break;
        }
        default: {
          const never: never = r;
          return never;
        }
      }
    }
  }

  private attempt(body: string, key: string) {
    return postOnce(this.target, body, key, this.cancellation, () => this.clock.now());
  }

  /** A backoff delay; close() ends it early. */
  private async sleep(ms: number): Promise<void> {
    const ac = new AbortController();
    const unregister = this.cancellation.register(() => ac.abort());
    try {
      await this.clock.sleep(ms, ac.signal);
    } finally {
      unregister();
    }
  }
}
