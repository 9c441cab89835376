/**
 * `GET /v1/turns/:trace_id/events`: one turn as Server-Sent Events.
 *
 *   id: <seq>            event: reply      data: <reply JSON>
 *   event: truncated     data: {"from": a, "to": b}     (replies the daemon did not keep)
 *   event: request       data: {"type":"request", "request": {kind, request_id, …}}   (a permission/question waits)
 *   event: request_resolved  data: {"type":"request_resolved", "request_id", "by", "answer"?}
 *   event: done          data: {"trace_id", "session_id", "outcome", "replies"}
 *
 * A subscriber that joins late first gets the turn's kept replies from seq 0
 * (or after `Last-Event-ID`), then the requests still waiting, then the rest
 * live (request frames in order between the replies), then `done`, and the stream
 * ends. A comment line is sent every `heartbeatMs` so proxies keep the connection.
 *
 * Memory: frames wait in a per-subscriber queue and go to the socket in slices
 * of at most `SLICE` characters, only while less than `SOCKET_HIGH_WATER` bytes
 * sit in it, so a subscriber that does not read holds at most about 128 KiB in
 * the process, however large a reply. Queued replies the turn keeps anyway share
 * the turn's string (they cost a pointer); the others count as the subscriber's bytes. A subscriber is cut off when its bytes pass
 * `maxBufferedBytes`, when the bytes of all subscribers pass the budget's total,
 * or when it has had bytes waiting and taken none for `drainTimeoutMs`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { StoredReply, TurnRecord, TurnStore, TurnSubscriber } from "./turns.js";

/** Bytes written to a subscriber's socket before waiting for it to drain. */
export const SOCKET_HIGH_WATER = 64 * 1024;
/** The largest piece of a frame written at once (a 3 MB reply is not copied whole per subscriber). */
const SLICE = 64 * 1024;

export type DropReason = "buffer" | "total" | "stalled";

/** What all event subscribers share: their number and the bytes they hold, with the caps. */
export class SubscriberBudget {
  subscribers = 0;
  bytes = 0;
  readonly dropped: Record<DropReason, number> = { buffer: 0, total: 0, stalled: 0 };
  private readonly perTurn = new WeakMap<TurnRecord, number>();

  constructor(
    readonly maxSubscribers: number,
    readonly maxPerTurn: number,
    readonly maxBytesTotal: number,
  ) {}

  /** Why a new subscriber of `turn` is refused, or undefined when it may join. */
  refusal(turn: TurnRecord): string | undefined {
    if (this.subscribers >= this.maxSubscribers) return `${this.maxSubscribers} event subscribers are connected (the limit)`;
    if ((this.perTurn.get(turn) ?? 0) >= this.maxPerTurn) return `${this.maxPerTurn} subscribers follow this turn (the limit per turn)`;
    return undefined;
  }

  join(turn: TurnRecord): () => void {
    this.subscribers++;
    this.perTurn.set(turn, (this.perTurn.get(turn) ?? 0) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.subscribers--;
      this.perTurn.set(turn, (this.perTurn.get(turn) ?? 1) - 1);
    };
  }
}

export interface EventStreamOptions {
  readonly heartbeatMs: number;
  readonly maxBufferedBytes: number;
  readonly drainTimeoutMs: number;
  readonly budget: SubscriberBudget;
  readonly log: Logger;
  /** Called before frames are written to the socket (the journal writes what it held back). */
  readonly beforeWrite?: () => void;
}

/** The seq to resume after, from `Last-Event-ID` (0 without one). */
export function resumeFrom(req: IncomingMessage): number {
  const raw = req.headers["last-event-id"];
  const v = Array.isArray(raw) ? raw[0] : raw;
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) + 1 : 0;
}

/** A frame waiting for the socket, in parts (a reply's JSON is shared, not copied); `own` is the bytes it holds beyond what the turn keeps anyway. */
interface Frame {
  readonly parts: readonly string[];
  readonly own: number;
}

const sizeOf = (f: Frame) => (f.parts.length === 3 ? f.parts[0]!.length + f.parts[1]!.length + f.parts[2]!.length : f.parts.reduce((n, p) => n + p.length, 0));

/** Streams `turn` to `res`; resolves when the stream has ended (the turn ended, the client left or was cut off). */
export function streamTurn(
  req: IncomingMessage,
  res: ServerResponse,
  store: TurnStore,
  turn: TurnRecord,
  opts: EventStreamOptions,
): Promise<void> {
  return new Promise<void>((resolve) => {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
    const budget = opts.budget;
    const leave = budget.join(turn);
    const queue: Frame[] = [];
    let queuedOwn = 0;
    /** This subscriber's share of `budget.bytes`. */
    let accounted = 0;
    let ended = false;
    let closing = false;
    let stallTimer: NodeJS.Timeout | undefined;
    let unsubscribe = () => {};
    /** The frame being written: which part, and how far into it. */
    let current: { frame: Frame; part: number; offset: number } | undefined;
    const heartbeat = setInterval(() => {
      if (queue.length === 0 && current === undefined && res.writableLength === 0) push({ parts: [": keep-alive\n\n"], own: 0 });
    }, opts.heartbeatMs);

    const account = () => {
      const now = ended ? 0 : res.writableLength + queuedOwn;
      budget.bytes += now - accounted;
      accounted = now;
    };
    const finish = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      clearTimeout(stallTimer);
      queue.length = 0;
      current = undefined;
      queuedOwn = 0;
      account();
      unsubscribe();
      leave();
      resolve();
    };
    const cut = (reason: DropReason, why: string) => {
      budget.dropped[reason]++;
      opts.log.warn({ trace_id: turn.traceId, reason, buffered: accounted }, `event subscriber cut off: ${why}`);
      res.destroy();
      finish();
    };
    /** The next slice to write, or undefined when nothing waits. */
    const nextSlice = (): string | undefined => {
      for (;;) {
        if (current === undefined) {
          const frame = queue[0];
          if (frame === undefined) return undefined;
          // Small frames go out joined: one write (one HTTP chunk) for the replies of a whole
          // upstream read, not one per reply (node's http costs ~4 µs a write). Joined only while
          // they surely fit below the high-water mark (≤ 3 bytes per UTF-16 unit), so a subscriber
          // still holds at most the mark plus one frame; a single small frame goes out as before.
          const room = Math.min(SLICE, (SOCKET_HIGH_WATER - res.writableLength) / 3);
          let text = "";
          while (queue.length > 0 && sizeOf(queue[0]!) <= SLICE && (text === "" || text.length + sizeOf(queue[0]!) <= room)) {
            const f = queue.shift()!;
            queuedOwn -= f.own;
            text += f.parts.length === 3 ? f.parts[0]! + f.parts[1]! + f.parts[2]! : f.parts.join("");
          }
          if (text !== "") return text;
          queue.shift();
          current = { frame, part: 0, offset: 0 };
        }
        const text = current.frame.parts[current.part];
        if (text === undefined) {
          queuedOwn -= current.frame.own;
          current = undefined;
          continue;
        }
        let end = Math.min(text.length, current.offset + SLICE);
        // Never split a surrogate pair: each slice is encoded to UTF-8 on its own.
        if (end < text.length && (text.charCodeAt(end - 1) & 0xfc00) === 0xd800) end--;
        const slice = current.offset === 0 && end === text.length ? text : text.slice(current.offset, end);
        if (end >= text.length) {
          current.part++;
          current.offset = 0;
        } else {
          current.offset = end;
        }
        return slice;
      }
    };
    const pump = () => {
      opts.beforeWrite?.();
      while (!ended && res.writableLength < SOCKET_HIGH_WATER) {
        const slice = nextSlice();
        if (slice === undefined) break;
        if (!res.write(slice) && stallTimer === undefined) {
          stallTimer = setTimeout(() => cut("stalled", `it took nothing for ${opts.drainTimeoutMs} ms`), opts.drainTimeoutMs);
        }
      }
      if (ended) return;
      account();
      if (accounted > opts.maxBufferedBytes) return cut("buffer", `more than ${opts.maxBufferedBytes} bytes wait for it`);
      if (budget.bytes > budget.maxBytesTotal) return cut("total", `subscribers together hold more than ${budget.maxBytesTotal} bytes`);
      if (closing && queue.length === 0 && current === undefined) {
        res.end();
        finish();
      }
    };
    /** Frames pushed in this turn of the event loop are written together once it is over (`flush`). */
    let flushing = false;
    const flush = () => {
      flushing = false;
      pump();
    };
    const push = (f: Frame) => {
      if (ended) return;
      queue.push(f);
      queuedOwn += f.own;
      // The bounds hold per frame, as before; only the write waits for the end of this tick
      // (node's http corked it until then anyway: nothing reaches the socket later than it did).
      account();
      if (accounted > opts.maxBufferedBytes) return cut("buffer", `more than ${opts.maxBufferedBytes} bytes wait for it`);
      if (budget.bytes > budget.maxBytesTotal) return cut("total", `subscribers together hold more than ${budget.maxBytesTotal} bytes`);
      if (!flushing) {
        flushing = true;
        process.nextTick(flush);
      }
    };
    res.on("drain", () => {
      clearTimeout(stallTimer);
      stallTimer = undefined;
      pump();
    });
    const sub: TurnSubscriber = {
      reply: (r: StoredReply) => push({ parts: [`id: ${r.seq}\nevent: reply\ndata: `, r.json, "\n\n"], own: r.kept ? 0 : r.json.length }),
      request: (type, json) => push({ parts: [`event: ${type}\ndata: `, json, "\n\n"], own: 0 }),
      truncated: (from, to) => push({ parts: [`event: truncated\ndata: ${JSON.stringify({ from, to })}\n\n`], own: 0 }),
      done: (t) => {
        const data = JSON.stringify({ trace_id: t.traceId, session_id: t.sessionId, outcome: t.outcome, replies: t.total });
        closing = true;
        push({ parts: [`event: done\ndata: ${data}\n\n`], own: 0 });
      },
    };
    res.on("close", finish);
    req.on("close", finish);
    unsubscribe = store.subscribe(turn, sub, resumeFrom(req));
  });
}
