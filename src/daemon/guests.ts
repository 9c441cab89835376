/**
 * Connections that have not authenticated yet ("guests"). Without the token any
 * local process could hold every connection the daemon allows (idle, or sending
 * its headers a byte at a time) and starve the clients that have it. So, when
 * the daemon has a token:
 * - a guest that has not sent a request with the right token within
 *   GUEST_DEADLINE_MS is closed (a short header deadline of its own);
 * - at most MAX_GUESTS guests older than GUEST_GRACE_MS are kept: beyond that the
 *   oldest are closed, when a connection arrives and by a sweep (a full house
 *   of --max-connections admits no new connection to trigger it). A guest
 *   younger than the grace is never closed for room: a burst of clients that
 *   connect at once (300 subscribers opening their streams) are all guests for
 *   the moment before their first request arrives, and must not evict each other.
 * A connection that sends the token once is a guest no more. A guest closed
 * while one of its requests is being answered is closed once the answer is sent
 * (never mid-answer). `/healthz` and `/console` need no token, so their
 * connections stay guests (and are closed after the deadline, which costs them a
 * reconnect).
 */
import type { Socket } from "node:net";

export const GUEST_DEADLINE_MS = 10_000;
export const MAX_GUESTS = 64;
export const GUEST_GRACE_MS = 1_000;

interface Guest {
  readonly since: number;
  readonly timer: NodeJS.Timeout;
}

export class Guests {
  /** Oldest first (a Map keeps insertion order). */
  private readonly waiting = new Map<Socket, Guest>();
  /** Guests with a request being answered now, and how many. */
  private readonly inFlight = new Map<Socket, number>();
  /** Guests closed while answering: closed when their answer is sent. */
  private readonly overdue = new Set<Socket>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Guests closed, by why (for logs, metrics and tests). */
  readonly closed = { deadline: 0, crowded: 0 };

  constructor(
    private readonly max = MAX_GUESTS,
    private readonly deadlineMs = GUEST_DEADLINE_MS,
    private readonly graceMs = GUEST_GRACE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  /** A new connection. */
  admit(socket: Socket): void {
    this.sweep();
    const timer = setTimeout(() => {
      this.closed.deadline++;
      this.close(socket);
    }, this.deadlineMs);
    // The daemon lives on its server; a guest's clock must not hold a process that is closing.
    timer.unref();
    this.waiting.set(socket, { since: this.now(), timer });
    socket.once("close", () => this.authenticated(socket));
    this.scheduleSweep();
  }

  /** A request arrived on `socket`; `res` closes when its answer is over. */
  request(socket: Socket, res: { once(e: "close", f: () => void): unknown }): void {
    if (!this.waiting.has(socket)) return;
    this.inFlight.set(socket, (this.inFlight.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const n = (this.inFlight.get(socket) ?? 1) - 1;
      if (n > 0) this.inFlight.set(socket, n);
      else this.inFlight.delete(socket);
      if (n <= 0 && this.overdue.delete(socket)) socket.destroy();
    });
  }

  /** The connection sent the right token (or closed): no longer a guest. */
  authenticated(socket: Socket): void {
    const guest = this.waiting.get(socket);
    if (guest === undefined) return;
    clearTimeout(guest.timer);
    this.waiting.delete(socket);
  }

  /** The daemon is closing: no timer left behind. */
  stop(): void {
    clearTimeout(this.sweeper);
    for (const guest of this.waiting.values()) clearTimeout(guest.timer);
    this.waiting.clear();
  }

  /** Close the oldest guests past their grace while more than `max` are kept. */
  private sweep(): void {
    const now = this.now();
    for (const [socket, guest] of this.waiting) {
      if (this.waiting.size < this.max || now - guest.since < this.graceMs) break;
      this.closed.crowded++;
      this.close(socket);
    }
  }

  /** Guests beyond the cap that are still in their grace are looked at again when it ends. */
  private scheduleSweep(): void {
    if (this.sweeper !== undefined || this.waiting.size <= this.max) return;
    const oldest = this.waiting.values().next().value;
    const wait = oldest === undefined ? this.graceMs : Math.max(0, oldest.since + this.graceMs - this.now());
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined;
      this.sweep();
      this.scheduleSweep();
    }, wait + 10);
    this.sweeper.unref();
  }

  private close(socket: Socket): void {
    const busy = this.inFlight.has(socket);
    this.authenticated(socket);
    if (busy) this.overdue.add(socket);
    else socket.destroy();
  }
}
