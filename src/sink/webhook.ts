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
 *   what the receiver deduplicates on. Batch mode (`batch`, off by default): one
 *   JSON array of what waited per POST, one key per batch (`sendBatch`).
 * - Within a turn (`trace_id`), reply `seq` n+1 is sent only after n was
 *   acknowledged with a 2xx. Turns deliver independently (a lane each,
 *   src/util/lane.ts): a receiver slow or failing for one turn never holds up another.
 * - Connection errors, timeouts, 408, 429 and 5xx are retried with exponential
 *   backoff (a `Retry-After` replaces the computed delay), every delay capped at
 *   `maxDelayMs`; each attempt has a deadline (`requestTimeoutMs`) held by a plain
 *   timer (./webhook-post.ts). Any other status (a 4xx) is not retried.
 * - A reply is given up after `maxAttempts` attempts, or when the next attempt
 *   would start more than `maxElapsedMs` after the first, or when it is
 *   rejected. Since n+1 may only follow n, giving up abandons the rest of that
 *   turn: the reply and every later reply of the turn are dropped, counted in
 *   `failures`, and one `error` log line names the turn, the seq and the cause.
 *
 * Memory: at most `maxQueuedPerTurn` replies (those in flight included) are held
 * per turn. At the bound, `deliver` returns a promise that resolves once there is
 * room: the producer is slowed for that turn only; nothing is dropped.
 *
 * `deliver` returns once the reply is queued, not once it is acknowledged
 * (synchronously, without a promise, below the bound). `flush()` waits until
 * everything queued was acknowledged or given up; `close()` does the same for at
 * most `closeTimeoutMs`, then cancels what is left (counted in `failures`).
 */
import { randomUUID } from "node:crypto";
import pino, { type Logger } from "pino";
import { isTerminal, type Reply } from "../codec/reply.js";
import type { BackoffPolicy } from "../util/backoff.js";
import { realClock, type Clock } from "../util/clock.js";
import { Lane } from "../util/lane.js";
import { SinkError } from "./errors.js";
import { isRequestEvent, type SinkHooks, type SinkMessage, type SinkObject } from "./types.js";
import { replyJson } from "./encoded.js";
import { Cancellation, postTarget, sendWithRetries, type Outcome, type PostTarget } from "./webhook-post.js";
import { parseWebhookOptions, type WebhookCounters, type WebhookOptions, type WebhookOptionsInput } from "./webhook-options.js";

export { WebhookOptionsSchema, parseWebhookOptions, type WebhookCounters, type WebhookOptions, type WebhookOptionsInput } from "./webhook-options.js";

/**
 * A message in a turn's lane, with what its Idempotency-Key is made of (fixed when
 * it is queued, so every retry sends the same): its place in the turn (`seq`, or
 * `type:request_id` for a request event) and the turn's id.
 */
interface Queued {
  readonly message: SinkMessage;
  readonly at: string;
  readonly turnId: string;
  /** The message's JSON, once encoded (batch mode measures it before sending). */
  json?: string;
}

const encode = (q: Queued): string => (q.json ??= isRequestEvent(q.message) ? JSON.stringify(q.message) : replyJson(q.message));

/** One turn's lane, and whether its give-up already dropped its terminal reply (then it is forgotten once idle). */
interface TurnLane {
  readonly lane: Lane<Queued>;
  terminalGone: boolean;
}

export class WebhookSink implements SinkObject<SinkMessage> {
  readonly options: WebhookOptions;
  /** Request events go to the same URL, in order with the replies. */
  readonly requests = true;
  private readonly counters: WebhookCounters = { delivered: 0, retries: 0, failures: 0, givenUp: 0 };
  private readonly lanes = new Map<string, TurnLane>();
  private readonly idleWaiters: (() => void)[] = [];
  /** Cancelled by close() once its grace is over: stops the attempts in flight and the backoff sleeps. */
  private readonly cancellation = new Cancellation();
  private readonly target: PostTarget;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly backoffPolicy: BackoffPolicy;
  private turnIdOf: ((message: SinkMessage) => string | undefined) | undefined;
  private onDelivered: ((reply: Reply) => void) | undefined;
  private beforeSend: (() => void) | undefined;
  /** Turn ids drawn by the sink, per trace, until the turn's terminal reply was queued. */
  private readonly drawnTurnIds = new Map<string, string>();
  private closed = false;

  constructor(input: WebhookOptionsInput) {
    this.options = parseWebhookOptions(input);
    this.clock = input.clock ?? realClock;
    this.random = input.random ?? Math.random;
    this.turnIdOf = input.turnIdOf;
    this.onDelivered = input.onDelivered;
    const o = this.options;
    this.backoffPolicy = { initialDelayMs: o.initialDelayMs, maxDelayMs: o.maxDelayMs, factor: o.backoffFactor, jitter: "equal" };
    this.target = postTarget(o.url, o.headers, o.requestTimeoutMs, input.dispatcher);
    // Where replies go, for logs: the origin only (webhook paths and queries often carry secrets).
    this.log = (input.logger ?? pino({ enabled: false })).child({ component: "webhook-sink", url: new URL(o.url).origin });
  }

  /** Takes the host's turn ids and acknowledgement hook (options given to the constructor win). */
  bind(hooks: SinkHooks): void {
    this.turnIdOf ??= (m) => hooks.turnIdOf(m);
    this.onDelivered ??= (r) => hooks.acknowledged(r);
    this.beforeSend = hooks.beforeSend;
  }

  /** A snapshot of the counters. */
  stats(): Readonly<WebhookCounters> {
    return { ...this.counters };
  }

  /** Replies held (queued or in flight) across all turns. */
  get pending(): number {
    let n = 0;
    for (const { lane } of this.lanes.values()) n += lane.held;
    return n;
  }

  /**
   * Queues a reply, or a request event (src/adapter/requests.ts: its body has
   * `type` where replies have `kind`, its key is `trace_id:type:request_id:turn_id`;
   * it is not acknowledged to the host's journal, and a failed one does not end
   * the turn's delivery). Synchronous (no promise) while the turn is below its
   * bound; a promise only when the caller must wait for room, or to reject.
   */
  deliver(message: SinkMessage): void | Promise<void> {
    const request = isRequestEvent(message);
    if (this.closed) {
      if (request) return undefined;
      this.counters.failures++;
      return Promise.reject(new SinkError("closed", `the webhook sink is closed; reply ${message.trace_id}:${message.seq} was not sent`));
    }
    if (!request) return this.laneOf(message.trace_id).lane.push({ message, at: String(message.seq), turnId: this.turnId(message) });
    const at = `${message.type}:${message.type === "request" ? message.request.request_id : message.request_id}`;
    return this.laneOf(message.trace_id).lane.push({ message, at, turnId: this.turnIdOf?.(message) ?? this.drawnTurnIds.get(message.trace_id) ?? "-" });
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

  private laneOf(traceId: string): TurnLane {
    let t = this.lanes.get(traceId);
    if (t !== undefined) return t;
    const batch = this.options.batch;
    const forget = () => {
      if (this.lanes.get(traceId) === turn) this.lanes.delete(traceId);
    };
    const turn: TurnLane = {
      terminalGone: false,
      lane: new Lane<Queued>(
        {
          take: (q) => this.sendQueued(turn, [q]),
          takeBatch: (qs) => this.sendQueued(turn, qs.slice()),
          // After a give-up, n+1 never goes out without n: the rest of the turn is dropped (counted; logged once at the give-up).
          dropped: (q) => {
            if (isRequestEvent(q.message)) return;
            this.counters.failures++;
            if (isTerminal(q.message)) {
              turn.terminalGone = true;
              if (turn.lane.isIdle) forget();
            }
          },
          idle: () => {
            // A lane that is empty and in good standing carries no state worth keeping; a given-up one stays until its terminal reply was dropped.
            if (!turn.lane.givenUp || turn.terminalGone) forget();
            this.settleIfIdle();
          },
        },
        {
          max: this.options.maxQueuedPerTurn,
          atBound: "wait",
          ...(batch === undefined ? {} : { batch: { count: batch.maxReplies, bytes: batch.maxBytes, size: (q: Queued) => Buffer.byteLength(encode(q)) } }),
        },
      ),
    };
    t = turn;
    this.lanes.set(traceId, t);
    return t;
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
    const timedOut = await Promise.race([this.flush().then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.options.closeTimeoutMs)))]);
    clearTimeout(timer);
    if (!timedOut) return;
    const left = this.pending;
    this.log.error({ replies: left, close_timeout_ms: this.options.closeTimeoutMs }, `webhook sink closed with ${left} replies not acknowledged: cancelling them`);
    this.cancellation.cancel();
    await this.flush();
  }

  // ---- internals --------------------------------------------------------------

  private isIdle(): boolean {
    for (const { lane } of this.lanes.values()) if (!lane.isIdle) return false;
    return true;
  }

  private settleIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Sends what the lane hands over, retried as the options allow: one message as
   * itself; in batch mode the messages as one JSON array, in order, with the key
   * `trace_id:<first>..<last>:turn_id` (`<first>`, `<last>`: the seq of a reply, or
   * `type:request_id` of a request event). A batch is cut once and retried whole,
   * so every attempt carries the same key and the same messages. Acknowledged: every
   * reply in it is; given up: its replies and the rest of the turn are dropped.
   */
  private async sendQueued(turn: TurnLane, qs: readonly Queued[]): Promise<void> {
    const first = qs[0] as Queued;
    const traceId = first.message.trace_id;
    let at = first.at;
    let body = encode(first);
    if (this.options.batch !== undefined) {
      at += `..${(qs[qs.length - 1] as Queued).at}`;
      for (let i = 1; i < qs.length; i++) body += `,${encode(qs[i] as Queued)}`;
      body = `[${body}]`;
    }
    const outcome = await this.send(body, `${traceId}:${at}:${first.turnId}`, traceId, at);
    if (!outcome.ok) return this.giveUp(turn, qs, at, outcome);
    for (const q of qs) {
      if (isRequestEvent(q.message)) continue;
      this.counters.delivered++;
      this.onDelivered?.(q.message);
    }
  }

  /**
   * `failed` could not be delivered: its replies and every reply still queued for the
   * turn are dropped, counted, logged once. Request events that could not be delivered
   * are logged; when nothing else failed, the turn's replies go on.
   */
  private giveUp(turn: TurnLane, failed: readonly Queued[], at: string, outcome: Extract<Outcome, { ok: false }>): void {
    const replies: Reply[] = [];
    for (const q of failed) if (!isRequestEvent(q.message)) replies.push(q.message);
    const traceId = (failed[0] as Queued).message.trace_id;
    if (replies.length === 0) {
      this.log.error({ trace_id: traceId, at, cause: outcome.why }, `webhook delivery gave up on ${failed.length === 1 ? "a request event" : "a batch of request events"}`);
      return;
    }
    for (const q of turn.lane.giveUp()) if (!isRequestEvent(q.message)) replies.push(q.message);
    const first = replies[0] as Reply;
    const dropped = replies.length - 1;
    turn.terminalGone = replies.some(isTerminal);
    this.counters.failures += replies.length;
    if (!outcome.cancelled) this.counters.givenUp++;
    this.log.error(
      { trace_id: first.trace_id, seq: first.seq, kind: first.kind, attempts: outcome.attempts, elapsed_ms: outcome.elapsedMs, cause: outcome.why, dropped_after: dropped },
      outcome.cancelled
        ? `webhook delivery cancelled at close: reply ${first.trace_id}:${first.seq} and ${dropped} later replies of the turn were not sent`
        : `webhook delivery gave up on reply ${first.trace_id}:${first.seq} after ${outcome.attempts} attempts (${outcome.why}); the rest of the turn is dropped`,
    );
  }

  /** Delivers one body, retrying as the options allow (./webhook-post.ts). */
  private send(body: string, key: string, traceId: string, at: number | string): Promise<Outcome> {
    const { options, backoffPolicy: policy, random, clock, cancellation } = this;
    this.beforeSend?.();
    return sendWithRetries(this.target, body, key, {
      ...{ options, policy, random, clock, cancellation },
      retrying: (attempt, delay, why) => {
        this.counters.retries++;
        this.log.warn({ trace_id: traceId, seq: at, attempt, delay_ms: delay, cause: why }, "webhook delivery failed: retrying");
      },
    });
  }
}
