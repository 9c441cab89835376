/**
 * Connections that have not authenticated yet ("guests"). Without the token any
 * local process could hold every connection the daemon allows (idle, or sending
 * its headers a byte at a time) and starve the clients that have it. So, when
 * the daemon has a token:
 * - a guest that has not sent a request with the right token within
 *   GUEST_DEADLINE_MS is closed (a short header deadline of its own);
 * - at most MAX_GUESTS guests at once: a new connection closes the oldest guest.
 * A connection that sends the token once is a guest no more. A guest whose
 * deadline passes while one of its requests is being answered is closed once the
 * answer is sent (never mid-answer). `/healthz` and
 * `/console` need no token, so their connections stay guests (and are closed
 * after the deadline, which costs them a reconnect).
 */
import type { Socket } from "node:net";

export const GUEST_DEADLINE_MS = 10_000;
export const MAX_GUESTS = 64;

export class Guests {
  /** Oldest first (a Map keeps insertion order). */
  private readonly waiting = new Map<Socket, NodeJS.Timeout>();
  /** Guests with a request being answered now, and how many. */
  private readonly inFlight = new Map<Socket, number>();
  /** Guests closed, by why (for logs and tests). */
  readonly closed = { deadline: 0, crowded: 0 };

  constructor(
    private readonly max = MAX_GUESTS,
    private readonly deadlineMs = GUEST_DEADLINE_MS,
  ) {}

  /** A new connection. */
  admit(socket: Socket): void {
    if (this.waiting.size >= this.max) {
      const oldest = this.waiting.keys().next().value;
      if (oldest !== undefined) {
        this.closed.crowded++;
        this.close(oldest);
      }
    }
    const timer = setTimeout(() => {
      this.closed.deadline++;
      this.close(socket);
    }, this.deadlineMs);
    timer.unref();
    this.waiting.set(socket, timer);
    socket.once("close", () => this.authenticated(socket));
  }

  /** A request arrived on `socket`; `done` when its answer is over. */
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

  /** Guests past their deadline, to be closed when their answer is sent. */
  private readonly overdue = new Set<Socket>();

  /** The connection sent the right token (or closed): no longer a guest. */
  authenticated(socket: Socket): void {
    const timer = this.waiting.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.waiting.delete(socket);
    this.overdue.delete(socket);
  }

  get size(): number {
    return this.waiting.size;
  }

  private close(socket: Socket): void {
    const busy = this.inFlight.has(socket);
    this.authenticated(socket);
    if (busy) this.overdue.add(socket);
    else socket.destroy();
  }
}
