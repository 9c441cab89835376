/**
 * The daemon's outputs (webhook, JSON Lines …) at their own pace.
 *
 * A turn's replies reach its record and SSE subscribers as the adapter produces
 * them; the outputs get them through one lane per turn: a queue emptied in order,
 * one reply handed on after the outputs took the previous one. So a slow webhook
 * delays the webhook, not the turn or its subscribers.
 *
 * Invariants: per turn, the outputs see every reply, in the order pushed; a lane
 * holds at most `maxLag` replies — at that bound `push` returns a promise that
 * resolves when there is room (the adapter waits, as it used to wait for the
 * webhook's own queue), so memory stays bounded; a lane is forgotten once empty.
 */

/** What a lane carries: a turn's replies, and (in their place among them) its request events. */
interface Item {
  readonly trace_id: string;
}

interface Lane<T extends Item> {
  readonly traceId: string;
  /** The turn's id, pinned while its replies wait here (its record may be forgotten meanwhile). */
  readonly turnId: string | undefined;
  readonly queue: T[];
  /** `push` calls waiting for room. */
  readonly waiters: (() => void)[];
  running: boolean;
}

export class OutputLanes<T extends Item> {
  private readonly lanes = new Map<string, Lane<T>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    /** Hands one reply to the outputs: undefined when taken synchronously, else a promise that must not reject (the caller logs and counts). */
    private readonly deliver: (item: T) => void | Promise<void>,
    private readonly maxLag: number,
  ) {}

  /**
   * Hands the reply on now when nothing of its turn waits and the outputs take it
   * synchronously (the common case: no lane, no promise); else queues it on the
   * turn's lane. Returns a promise only when the lane is full.
   */
  push(reply: T, turnId: string | undefined): void | Promise<void> {
    let lane = this.lanes.get(reply.trace_id);
    if (!lane) {
      const pending = this.deliver(reply);
      if (pending === undefined) return undefined;
      lane = { traceId: reply.trace_id, turnId, queue: [reply], waiters: [], running: true };
      this.lanes.set(reply.trace_id, lane);
      void this.pump(lane, pending);
      return undefined;
    }
    lane.queue.push(reply);
    if (!lane.running) void this.pump(lane);
    if (lane.queue.length < this.maxLag) return undefined;
    const l = lane;
    return new Promise<void>((resolve) => l.waiters.push(resolve));
  }

  /** The turn id pinned by a lane that still holds replies of this trace. */
  turnIdOf(traceId: string): string | undefined {
    return this.lanes.get(traceId)?.turnId;
  }

  /** Replies waiting across all lanes. */
  get waiting(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queue.length;
    return n;
  }

  /** Resolves when every lane has handed all its replies to the outputs. */
  idle(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Empties the lane in order; `first` is the delivery of `queue[0]` already under way. */
  private async pump(lane: Lane<T>, first?: Promise<void>): Promise<void> {
    lane.running = true;
    let pending: void | Promise<void> = first;
    while (lane.queue.length > 0) {
      if (pending === undefined) pending = this.deliver(lane.queue[0] as T);
      if (pending !== undefined) await pending;
      pending = undefined;
      lane.queue.shift();
      if (lane.queue.length < this.maxLag) for (const w of lane.waiters.splice(0)) w();
    }
    lane.running = false;
    this.lanes.delete(lane.traceId);
    if (this.lanes.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
