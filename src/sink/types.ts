/**
 * Where replies go. A sink is a plain callback, or an object with `deliver` (and
 * optionally `flush`/`close`/`stats`). The adapter calls it once per reply, in
 * `seq` order per turn, and waits for each call before the next of the same
 * turn; a sink that throws or rejects is logged and counted, never breaks the turn.
 *
 * What travels a turn's lane is one message type, `Reply | RequestEvent`: a sink
 * that says `requests: true` gets the turn's request events through the same
 * `deliver`, in their place among the replies, told apart by `isRequestEvent`.
 */
import type { Reply } from "../codec/reply.js";
import type { RequestEvent } from "../codec/requests.js";

/** What a turn's lane carries to a sink: its replies and, in their place among them, its request events. */
export type SinkMessage = Reply | RequestEvent;

/** The one guard between the two: request events have `type` (`request` | `request_resolved`), replies `kind`. */
export function isRequestEvent<R extends { readonly kind: string }>(m: R | RequestEvent): m is RequestEvent {
  return (m as { readonly type?: unknown }).type !== undefined;
}

/** What a sink reports about itself, for metrics. */
export interface SinkStats {
  /** Replies that reached the destination (for the webhook: acknowledged with a 2xx). */
  readonly delivered: number;
  /** Delivery attempts repeated. */
  readonly retries: number;
  /** Replies that never reached the destination (given up, dropped, write errors). */
  readonly failures: number;
}

/**
 * What a host tells a sink that acknowledges replies (the webhook), through `bind`:
 * the turn's id for all time (for idempotency keys), and where to report each
 * acknowledgement (the daemon journals it, to re-send what was not acknowledged after a crash).
 */
export interface SinkHooks {
  turnIdOf(message: SinkMessage): string | undefined;
  acknowledged(reply: Reply): void;
  /**
   * Called right before the sink sends anything (a POST): the host writes what it
   * holds back (the daemon's journal) so that nothing leaves before it is recorded.
   */
  beforeSend?(): void;
}

/** `M` is `Reply` for a sink of replies only, `SinkMessage` for one that also takes request events. */
export interface SinkObject<M extends SinkMessage = Reply> {
  deliver(message: M): void | Promise<void>;
  /**
   * True when the sink takes request events (a permission/question request of
   * the turn started or ended waiting; no `seq`) through `deliver`, in order with
   * the replies: a `SinkObject<SinkMessage>`. Without it, a sink gets replies only.
   */
  readonly requests?: boolean;
  /** Resolves when everything delivered so far has reached its destination. */
  flush?(): Promise<void>;
  close?(): Promise<void>;
  /** The sink's own counters; without it, callers count `deliver` calls that resolved or threw. */
  stats?(): SinkStats;
  /** Present on sinks that acknowledge replies; a host calls it once, before the first reply. */
  bind?(hooks: SinkHooks): void;
}

export type Sink = ((reply: Reply) => void | Promise<void>) | SinkObject;

/** Whether `deliver` takes request events too (`requests: true`). */
export function takesRequests(sink: SinkObject): sink is SinkObject<SinkMessage> & { readonly requests: true } {
  return sink.requests === true;
}

export function toSinkObject(sink: Sink): SinkObject {
  if (typeof sink === "function") return { deliver: sink };
  if (typeof sink === "object" && sink !== null && typeof sink.deliver === "function") return sink;
  throw new TypeError(`sink must be a function (reply) => void or an object with deliver(reply), got ${sink === null ? "null" : typeof sink}`);
}
