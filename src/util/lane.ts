/**
 * The bridge's one per-turn queue. Delivery (src/adapter/delivery.ts), each
 * asynchronous output of a fan-out (src/sink/fanout.ts) and the webhook
 * (src/sink/webhook.ts) each keep one `Lane` per turn.
 *
 * Invariants:
 * - Order: items are taken in the order pushed, one at a time; the next is taken
 *   only once the previous take settled (or, with `timeoutMs`, was left behind).
 * - Fast path: an item pushed to an idle, empty lane is taken during `push`; a
 *   take that returns no promise costs no promise, closure or timer, and a lane
 *   whose taker keeps up never holds anything.
 * - Bound: `held` (waiting plus the one being taken) is at most `max` under the
 *   chosen policy — `"wait"`: `push` returns a promise that resolves when there
 *   is room again (the producer waits); a merge function: the item is merged into
 *   the waiting tail when it can be (text of one part: larger pieces, nothing
 *   lost), else queued; and whatever the policy, `giveUp()` drops what waits and
 *   every later push (the webhook, once a reply cannot be delivered).
 * - The taker's failures (a throw, a rejection) are reported, never thrown: one
 *   bad item never stops the lane.
 * - Timeout, counted here and nowhere else: a take unsettled after `timeoutMs`
 *   is reported `late` and the lane moves on; how it settles later is still
 *   reported (`arrived` or `failed`), so a slow taker whose items all arrive
 *   has no failure counted; `lateUnsettled` is what is still out.
 */
import { realClock, type Clock } from "./clock.js";

export interface LaneHandler<T> {
  /** Takes one item: nothing when taken synchronously, else a promise settled once taken. */
  take(item: T): unknown;
  /** Several waiting items at once (`batch` set): `items` is the lane's own array, read it before returning. */
  takeBatch?(items: readonly T[]): unknown;
  /** A take threw or rejected. */
  failed?(item: T, err: unknown): void;
  /** A take did not settle within `timeoutMs`; the lane moved on. */
  late?(item: T): void;
  /** A late take resolved after all. */
  arrived?(item: T): void;
  /** An item pushed after `giveUp()`. */
  dropped?(item: T): void;
  /** The lane holds nothing and takes nothing. */
  idle?(): void;
}

export interface LaneOptions<T> {
  /** Items held (waiting plus the one being taken) before the policy applies. */
  readonly max: number;
  /** At the bound: the producer waits for room, or the item merges into the waiting tail (`merge` returns true when it did). */
  readonly atBound: "wait" | ((tail: T, item: T) => boolean);
  /** A take not settled by then is `late`; the lane moves on (default: waits for ever). */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  /** Hand waiting items to `takeBatch`, at most `count` per call (and, with `size`, at most `bytes`; one item always goes). */
  readonly batch?: { readonly count: number; readonly bytes?: number; readonly size?: (item: T) => number };
}

const isPromise = (v: unknown): v is Promise<unknown> => typeof (v as { then?: unknown } | undefined)?.then === "function";

export class Lane<T> {
  /**
   * Waiting items: `queue[head]` up to `queue[tail - 1]`. Indices rather than
   * `push`/`shift`: both ends go back to 0 whenever the lane empties, so a taker
   * that keeps up reuses the same few slots (no new backing store per item).
   */
  private queue: (T | undefined)[] = [];
  private head = 0;
  private tail = 0;
  /** Items being taken (1, or a batch's length). */
  private inFlight = 0;
  private busy = false;
  private roomWaiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private batchItems: T[] = [];
  /** Set by giveUp(): every later push is dropped. */
  givenUp = false;
  /** Late takes not settled yet. */
  lateUnsettled = 0;

  constructor(
    private readonly handler: LaneHandler<T>,
    private readonly opts: LaneOptions<T>,
  ) {}

  /** Waiting plus being taken. */
  get held(): number {
    return this.tail - this.head + this.inFlight;
  }

  /** Nothing held, nothing being taken, no producer waiting for room. */
  get isIdle(): boolean {
    return !this.busy && this.head === this.tail && this.roomWaiters.length === 0;
  }

  /**
   * Queues the item (taken at once when the lane is idle). Under "wait", at the
   * bound the item is not taken in: the promise returned queues it once there is
   * room, and resolves then (later pushes queue behind it, in order).
   */
  push(item: T): void | Promise<void> {
    if (this.givenUp) {
      this.handler.dropped?.(item);
      return undefined;
    }
    if (!this.busy && this.head === this.tail && this.roomWaiters.length === 0) {
      this.busy = true;
      if (this.takeOne(item)) this.pump();
      return undefined;
    }
    const atBound = this.held >= this.opts.max;
    if (this.opts.atBound === "wait") {
      if (atBound || this.roomWaiters.length > 0) return new Promise<void>((resolve) => this.roomWaiters.push(() => (this.enter(item), resolve())));
    } else if (atBound && this.head < this.tail && this.opts.atBound(this.queue[this.tail - 1] as T, item)) {
      return undefined;
    }
    this.queue[this.tail++] = item;
    if (!this.busy) {
      this.busy = true;
      this.pump();
    }
    return undefined;
  }

  /** A producer's turn came (room, or the lane gave up): its item joins the queue, or is dropped. */
  private enter(item: T): void {
    if (this.givenUp) this.handler.dropped?.(item);
    else this.queue[this.tail++] = item;
  }

  /**
   * `item` was taken by the caller itself (the fast path of a fan-out, which keeps
   * no lane for a turn whose output keeps up) and its take is under way: the lane
   * is started with it, and items pushed from now on wait behind it.
   */
  adopt(item: T, pending: Promise<unknown>): void {
    this.busy = true;
    this.inFlight = 1;
    void this.follow(pending, item);
  }

  /** Resolves once nothing waits and nothing is being taken (late takes are not waited for). */
  drain(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** Drops what waits (returned, in order) and every later push; producers waiting for room go on. */
  giveUp(): T[] {
    this.givenUp = true;
    const dropped = this.queue.slice(this.head, this.tail) as T[];
    this.queue = [];
    this.head = 0;
    this.tail = 0;
    // Producers waiting for room go on; their items are dropped.
    this.releaseRoom();
    return dropped;
  }

  /** Takes what waits, in order, until a take returns a promise (then `follow` resumes here). `busy` is set. */
  private pump(): void {
    for (;;) {
      while (this.head < this.tail) {
        const batch = this.opts.batch;
        const more = batch !== undefined && this.handler.takeBatch !== undefined ? this.takeBatch(batch) : this.takeOne(this.next());
        if (!more) return;
        this.releaseRoom();
      }
      // Producers waiting for room queue their items now; take those too.
      this.releaseRoom();
      if (this.head === this.tail) break;
    }
    this.busy = false;
    // No array per item on the fast path: waiters are let go only when there are some.
    if (this.drainWaiters.length > 0) for (const w of this.drainWaiters.splice(0)) w();
    this.handler.idle?.();
  }

  private next(): T {
    const item = this.queue[this.head] as T;
    this.queue[this.head++] = undefined;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else if (this.head > 1024 && this.head * 2 > this.tail) {
      this.queue = this.queue.slice(this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    return item;
  }

  /** Takes one item; false when its take is under way (`follow` goes on from there). */
  private takeOne(item: T): boolean {
    let pending: unknown;
    try {
      pending = this.handler.take(item);
    } catch (err) {
      this.handler.failed?.(item, err);
      return true;
    }
    if (!isPromise(pending)) return true;
    this.inFlight = 1;
    void this.follow(pending, item);
    return false;
  }

  private takeBatch(b: NonNullable<LaneOptions<T>["batch"]>): boolean {
    const items = this.batchItems;
    items.length = 0;
    let bytes = 0;
    while (this.head < this.tail && items.length < b.count) {
      const size = b.size?.(this.queue[this.head] as T) ?? 0;
      if (items.length > 0 && b.bytes !== undefined && bytes + size > b.bytes) break;
      bytes += size;
      items.push(this.next());
    }
    let pending: unknown;
    try {
      pending = this.handler.takeBatch?.(items);
    } catch (err) {
      for (const item of items) this.handler.failed?.(item, err);
      return true;
    }
    if (!isPromise(pending)) return true;
    this.inFlight = items.length;
    void this.follow(pending, items[0] as T);
    return false;
  }

  /** Waits for a take (bounded by `timeoutMs`), then takes the rest. */
  private async follow(pending: Promise<unknown>, item: T): Promise<void> {
    const t = this.opts.timeoutMs;
    if (t === undefined) {
      await pending.then(undefined, (err: unknown) => this.handler.failed?.(item, err));
    } else {
      const c = this.opts.clock ?? realClock;
      let handle: unknown;
      let state: "pending" | "settled" | "late" = "pending";
      const settled = pending.then(
        () => {
          if (state === "late") {
            this.lateUnsettled--;
            this.handler.arrived?.(item);
          }
          state = "settled";
        },
        (err: unknown) => {
          if (state === "late") this.lateUnsettled--;
          state = "settled";
          this.handler.failed?.(item, err);
        },
      );
      await Promise.race([settled, new Promise<void>((resolve) => (handle = c.setTimeout(resolve, t)))]);
      c.clearTimeout(handle);
      if (state === "pending") {
        state = "late";
        this.lateUnsettled++;
        this.handler.late?.(item);
      }
    }
    this.inFlight = 0;
    this.releaseRoom();
    this.pump();
  }

  /** Lets waiting producers in, in order, while there is room (all of them once the lane gave up). */
  private releaseRoom(): void {
    while (this.roomWaiters.length > 0 && (this.givenUp || this.held < this.opts.max)) this.roomWaiters.shift()?.();
  }
}
