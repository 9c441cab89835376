/**
 * Event subscribers that never read cannot grow the daemon's memory past its
 * bounds. A real HTTP server streams a finished 8 MiB turn to raw loopback
 * sockets that are paused from the start (they never read a byte). The turn is
 * larger than what the kernel's socket buffers take on loopback (about 4 MiB
 * here), so what is left must wait in the process — or, as it should, not be
 * taken from the turn at all until the subscriber reads.
 */
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import { SOCKET_HIGH_WATER, streamTurn, SubscriberBudget } from "../src/daemon/sse.js";
import { TurnStore, type TurnRecord } from "../src/daemon/turns.js";

const MiB = 1024 * 1024;
const forceGc = (globalThis as { gc?: () => void }).gc;

/** A finished turn whose kept replies total about `bytes`. */
function bigTurn(store: TurnStore, bytes: number): TurnRecord {
  const t = store.create("big", "ses_big", "/", 0);
  const chunk = "x".repeat(8 * 1024);
  let seq = 0;
  for (let total = 0; total < bytes; total += chunk.length) {
    const r: Reply = { kind: "delta", trace_id: "big", session_id: "ses_big", seq: seq++, content: chunk, part_id: "prt_big" };
    store.add(r);
  }
  store.add({ kind: "final", trace_id: "big", session_id: "ses_big", seq, content: "done" });
  store.finish(t, "final");
  return t;
}

interface Bench {
  readonly server: Server;
  readonly budget: SubscriberBudget;
  /** Each subscriber's stream, resolved when it ended (finished, left or cut off). */
  readonly streams: Promise<void>[];
  /** Resolves once `n` requests have been handled (each subscriber has been served what its socket takes). */
  served(n: number): Promise<void>;
  readonly port: number;
}

async function bench(turn: TurnRecord, store: TurnStore, opts: { perSubscriber: number; total: number; drainMs: number }): Promise<Bench> {
  const budget = new SubscriberBudget(10_000, 10_000, opts.total);
  const streams: Promise<void>[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    streams.push(
      streamTurn(req, res, store, turn, {
        heartbeatMs: 60_000,
        maxBufferedBytes: opts.perSubscriber,
        drainTimeoutMs: opts.drainMs,
        budget,
        log: pino({ enabled: false }),
      }),
    );
    for (const w of waiters.filter((w) => streams.length >= w.n)) w.resolve();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
    budget,
    streams,
    port: (server.address() as AddressInfo).port,
    served: (n) => (streams.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

/** `n` subscribers that send their request and never read. */
function nonReaders(port: number, n: number): Socket[] {
  return Array.from({ length: n }, () => {
    const s = connect(port, "127.0.0.1");
    s.pause();
    s.on("error", () => {});
    s.write("GET /v1/turns/big/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    return s;
  });
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function memory(): number {
  forceGc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

describe("event subscribers that never read", () => {
  it("40 of them on a finished 8 MiB turn hold a socket's worth each, not the turn", async () => {
    const store = new TurnStore({ maxTurns: 10, maxReplyBytesPerTurn: 16 * MiB });
    const turn = bigTurn(store, 8 * MiB);
    const before = memory();
    const b = await bench(turn, store, { perSubscriber: 16 * MiB, total: 256 * MiB, drainMs: 60_000 });
    const sockets = nonReaders(b.port, 40);
    cleanup.push(() => new Promise<void>((r) => b.server.close(() => r())), () => sockets.forEach((s) => s.destroy()), () => b.server.closeAllConnections());
    await b.served(40);
    expect(b.budget.subscribers).toBe(40);
    // Each holds at most the socket high-water mark plus one frame; kept replies in its queue are shared with the turn.
    expect(b.budget.bytes).toBeLessThanOrEqual(40 * (SOCKET_HIGH_WATER + 16 * 1024));
    // Before the fix each held what the kernel did not take of the turn: 40 × about 4 MiB.
    expect(memory() - before).toBeLessThan(40 * MiB);
    expect(b.budget.dropped).toEqual({ buffer: 0, total: 0, stalled: 0 });
  });

  it("past the shared byte budget the subscriber that would exceed it is cut off", async () => {
    const store = new TurnStore({ maxTurns: 10, maxReplyBytesPerTurn: 16 * MiB });
    const turn = bigTurn(store, 8 * MiB);
    // Live replies the turn does not keep count fully; here the queued ones are shared, so the socket buffers count.
    const b = await bench(turn, store, { perSubscriber: 16 * MiB, total: 256 * 1024, drainMs: 60_000 });
    const sockets = nonReaders(b.port, 10);
    cleanup.push(() => new Promise<void>((r) => b.server.close(() => r())), () => sockets.forEach((s) => s.destroy()), () => b.server.closeAllConnections());
    await b.served(10);
    expect(b.budget.dropped.total).toBeGreaterThan(0);
    expect(b.budget.bytes).toBeLessThanOrEqual(256 * 1024);
  });

  it("a subscriber that takes nothing until the drain deadline is cut off, and the budget is given back", async () => {
    const store = new TurnStore({ maxTurns: 10, maxReplyBytesPerTurn: 16 * MiB });
    const turn = bigTurn(store, 8 * MiB);
    const b = await bench(turn, store, { perSubscriber: 16 * MiB, total: 256 * MiB, drainMs: 50 });
    const sockets = nonReaders(b.port, 20);
    cleanup.push(() => new Promise<void>((r) => b.server.close(() => r())), () => sockets.forEach((s) => s.destroy()));
    await b.served(20);
    await Promise.all(b.streams);
    expect(b.budget.dropped.stalled).toBe(20);
    expect(b.budget).toMatchObject({ subscribers: 0, bytes: 0 });
  });

  it("the caps on subscribers, per turn and in total, refuse the next one", () => {
    const store = new TurnStore({ maxTurns: 10, maxReplyBytesPerTurn: MiB });
    const a = store.create("a", "ses", "/", 0);
    const c = store.create("c", "ses", "/", 0);
    const budget = new SubscriberBudget(3, 2, MiB);
    budget.join(a);
    const leave = budget.join(a);
    expect(budget.refusal(a)).toMatch(/per turn/);
    expect(budget.refusal(c)).toBeUndefined();
    budget.join(c);
    expect(budget.refusal(c)).toMatch(/3 event subscribers/);
    leave();
    leave();
    expect(budget.refusal(a)).toBeUndefined();
  });
});
