/**
 * One sink made of several: each reply goes to every child, in the order the
 * producer delivers them. Children are independent — one that throws, is slow or
 * stalls never keeps a reply from the others or holds them back — and each is
 * counted apart.
 *
 * Each child keeps its own pace through its own lane per turn (src/util/lane.ts):
 * a child that takes a reply synchronously is called directly (no lane is kept);
 * once it returns a promise, its later replies of that turn wait in its lane
 * until it took the earlier ones, while the other children go on. So JSON Lines
 * never waits behind a slow webhook. At `maxLag` replies held in one child's
 * lane, `deliver` returns a promise that resolves when there is room (the producer
 * waits: memory stays bounded).
 *
 * A failure is counted in the child's counters. A child that throws synchronously
 * makes `deliver` reject naming it (after every child was tried); a failure that
 * comes later, out of a lane, goes to `onFailure` with the same message.
 */
import { Lane } from "../util/lane.js";
import { isRequestEvent, takesRequests, toSinkObject, type Sink, type SinkMessage, type SinkObject } from "./types.js";
import { errorMessage } from "../util/errors.js";

export interface NamedSink {
  /** Names the child in errors and metrics, e.g. "webhook" or "jsonl". */
  readonly name: string;
  readonly sink: Sink;
}

export interface FanoutOptions {
  /** Replies one child's lane holds per turn before `deliver` makes the producer wait (default 10,000). */
  readonly maxLag?: number;
  /** A child failed to take a message after `deliver` returned (its lane). */
  readonly onFailure?: (err: Error, message: SinkMessage) => void;
  /** No child holds anything of this turn any more. */
  readonly onIdle?: (traceId: string) => void;
}

/** What a child did, as the fan-out saw it. */
export interface FanoutCounters {
  /** Replies taken (for a queueing sink such as the webhook: accepted, not yet acknowledged). */
  accepted: number;
  /** Replies whose `deliver` threw or rejected. */
  failures: number;
}

interface Child {
  readonly name: string;
  readonly sink: SinkObject;
  readonly counters: FanoutCounters;
  /** The child's lanes, per trace id, while they hold something. */
  readonly lanes: Map<string, Lane<SinkMessage>>;
}

const isPromise = (v: unknown): v is Promise<void> => typeof (v as { then?: unknown } | undefined)?.then === "function";

/** Names the children that failed, in their order. */
function fanoutError(children: readonly Child[], message: SinkMessage, failed: readonly { readonly child: Child; readonly why: string }[]): Error {
  const named = [...failed].sort((a, b) => children.indexOf(a.child) - children.indexOf(b.child)).map((f) => `${f.child.name}: ${f.why}`);
  const what = isRequestEvent(message) ? `a ${message.type} event` : `reply ${message.trace_id}:${message.seq}`;
  return new Error(`sink failed to take ${what} (${named.join("; ")})`);
}

export class FanoutSink implements SinkObject<SinkMessage> {
  private readonly children: Child[];
  private readonly maxLag: number;
  private readonly idleWaiters: (() => void)[] = [];
  /** True when a child takes request events. */
  readonly requests: boolean;

  constructor(
    children: readonly NamedSink[],
    private readonly opts: FanoutOptions = {},
  ) {
    const names = new Set<string>();
    this.children = children.map(({ name, sink }) => {
      if (names.has(name)) throw new TypeError(`fan-out sink names must be unique, got ${JSON.stringify(name)} twice`);
      names.add(name);
      return { name, sink: toSinkObject(sink), counters: { accepted: 0, failures: 0 }, lanes: new Map() };
    });
    this.maxLag = opts.maxLag ?? 10_000;
    this.requests = this.children.some((c) => takesRequests(c.sink));
  }

  /** The children, for metrics: each with its own sink object and the fan-out's counters of it. */
  entries(): readonly { readonly name: string; readonly sink: SinkObject; readonly counters: Readonly<FanoutCounters> }[] {
    return this.children;
  }

  /** Whether a child's lane still holds something of this turn. */
  holds(traceId: string): boolean {
    return this.children.some((c) => c.lanes.has(traceId));
  }

  /**
   * Hands the message to every child (request events to the children that take
   * them). Synchronous — no promise — unless a child threw (rejects, naming it)
   * or a child's lane is at its bound (resolves when there is room).
   */
  deliver(message: SinkMessage): void | Promise<void> {
    let waits: Promise<void>[] | undefined;
    let failed: { readonly child: Child; readonly why: string }[] | undefined;
    const request = isRequestEvent(message);
    for (const child of this.children) {
      if (request && !takesRequests(child.sink)) continue;
      const lane = child.lanes.get(message.trace_id);
      if (lane !== undefined) {
        const room = lane.push(message);
        if (room !== undefined) (waits ??= []).push(room);
        continue;
      }
      let p: Promise<void> | undefined;
      try {
        p = this.hand(child, message);
      } catch (err) {
        if (!request) child.counters.failures++;
        (failed ??= []).push({ child, why: errorMessage(err) });
        continue;
      }
      if (p !== undefined) this.laneOf(child, message.trace_id).adopt(message, p);
    }
    if (failed !== undefined) return Promise.reject(fanoutError(this.children, message, failed));
    if (waits !== undefined) return Promise.all(waits).then(() => undefined);
    return undefined;
  }

  /** Resolves when no child's lane holds anything. */
  idle(): Promise<void> {
    if (!this.children.some((c) => c.lanes.size > 0)) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Waits for the lanes, then for every child's own flush. */
  async flush(): Promise<void> {
    await this.idle();
    await settleAll(this.children.map((c) => c.sink.flush?.()), "flush");
  }

  async close(): Promise<void> {
    await settleAll(this.children.map((c) => c.sink.close?.()), "close");
  }

  /** Hands a message to the child, counting a reply it took: at once, or once its promise resolves (returned). */
  private hand(child: Child, m: SinkMessage): Promise<void> | undefined {
    const p = (child.sink as SinkObject<SinkMessage>).deliver(m);
    if (isPromise(p)) return isRequestEvent(m) ? p : p.then(() => void child.counters.accepted++);
    if (!isRequestEvent(m)) child.counters.accepted++;
    return undefined;
  }

  private laneOf(child: Child, traceId: string): Lane<SinkMessage> {
    const lane = new Lane<SinkMessage>(
      {
        take: (m) => this.hand(child, m),
        failed: (m, err) => {
          if (!isRequestEvent(m)) child.counters.failures++;
          this.opts.onFailure?.(fanoutError(this.children, m, [{ child, why: errorMessage(err) }]), m);
        },
        idle: () => {
          child.lanes.delete(traceId);
          if (!this.holds(traceId)) this.opts.onIdle?.(traceId);
          if (!this.children.some((c) => c.lanes.size > 0)) for (const w of this.idleWaiters.splice(0)) w();
        },
      },
      { max: this.maxLag, atBound: "wait" },
    );
    child.lanes.set(traceId, lane);
    return lane;
  }
}

async function settleAll(ps: (Promise<void> | undefined)[], what: string): Promise<void> {
  const results = await Promise.allSettled(ps.map((p) => p ?? Promise.resolve()));
  const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} sink(s) failed to ${what}`);
}
