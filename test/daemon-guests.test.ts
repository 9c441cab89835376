/**
 * Guests (src/daemon/guests.ts): connections without the token, bounded in
 * number and time. Real sockets on loopback; the clock of the grace is ours.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Guests } from "../src/daemon/guests.js";

let server: Server;
let port: number;
let accepted: Socket[];
let clients: Socket[];
let guests: Guests | undefined;

beforeEach(async () => {
  accepted = [];
  clients = [];
  server = createServer((s) => {
    accepted.push(s);
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});

afterEach(async () => {
  guests?.stop();
  for (const s of [...clients, ...accepted]) s.destroy();
  await new Promise((r) => server.close(r));
});

/** `n` client connections; resolves with the server's side of each, in order. */
async function open(n: number, admit: (s: Socket) => void): Promise<Socket[]> {
  const start = accepted.length;
  for (let i = 0; i < n; i++) {
    const c = connect(port, "127.0.0.1");
    c.on("error", () => {});
    clients.push(c);
  }
  while (accepted.length < start + n) await new Promise((r) => setTimeout(r, 5));
  const mine = accepted.slice(start, start + n);
  mine.forEach(admit);
  return mine;
}

const closed = (s: Socket) => s.destroyed;
const until = async (ok: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("guests", () => {
  it("a burst larger than the cap is not evicted within its grace", async () => {
    let now = 0;
    guests = new Guests(4, 60_000, 1_000, () => now);
    const g = guests;
    const burst = await open(10, (s) => g.admit(s));
    expect(burst.filter(closed)).toHaveLength(0);
    expect(guests.size).toBe(10);
    // Once the grace is over, the next connection closes the oldest down to the cap.
    now = 1_500;
    const [late] = await open(1, (s) => g.admit(s));
    expect(burst.slice(0, 7).every(closed)).toBe(true);
    expect(burst.slice(7).some(closed)).toBe(false);
    expect(closed(late!)).toBe(false);
    expect(guests.size).toBe(4);
    expect(guests.closed.crowded).toBe(7);
  });

  it("the sweep trims guests beyond the cap with no new connection (a full house admits none)", async () => {
    guests = new Guests(3, 60_000, 100);
    const g = guests;
    const all = await open(8, (s) => g.admit(s));
    await until(() => g.size <= 3);
    expect(all.filter(closed).length).toBeGreaterThanOrEqual(5);
    expect(guests.closed.crowded).toBeGreaterThanOrEqual(5);
  });

  it("an authenticated connection is never closed for room or by the deadline", async () => {
    let now = 0;
    guests = new Guests(2, 300, 0, () => now);
    const g = guests;
    const [member] = await open(1, (s) => g.admit(s));
    g.authenticated(member!);
    now = 10;
    const others = await open(5, (s) => g.admit(s));
    await until(() => others.every(closed));
    expect(closed(member!)).toBe(false);
    expect(guests.closed.deadline + guests.closed.crowded).toBe(5);
  });

  it("a guest past its deadline in the middle of an answer is closed after the answer, not during it", async () => {
    guests = new Guests(64, 50, 1_000);
    const g = guests;
    const [s] = await open(1, (x) => g.admit(x));
    const listeners: Array<() => void> = [];
    g.request(s!, { once: (_e, f) => listeners.push(f) });
    await new Promise((r) => setTimeout(r, 150));
    expect(closed(s!)).toBe(false);
    expect(g.closed.deadline).toBe(1);
    for (const f of listeners) f();
    expect(closed(s!)).toBe(true);
  });
});
