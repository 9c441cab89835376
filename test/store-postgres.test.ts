/**
 * The PostgreSQL store against a real PostgreSQL (test/support/postgres.ts):
 * claims, leases, fencing, gapless replies, change notifications, keyed sessions.
 * Several `PgStore` clients on one database stand for several daemons.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedError, PgStore, type NewTurn } from "../src/daemon/store/postgres.js";
import { freshDatabase, startPostgres, type PostgresServer } from "./support/postgres.js";

let server: PostgresServer;
const stores: PgStore[] = [];

beforeAll(async () => {
  server = await startPostgres();
}, 120_000);

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server?.stop();
});

async function daemons(n: number, leaseMs = 10_000): Promise<PgStore[]> {
  const url = await freshDatabase(server);
  const made = Array.from({ length: n }, (_, i) => new PgStore(url, { owner: `d${i}`, leaseMs, poolSize: 4 }));
  stores.push(...made);
  for (const s of made) await s.open();
  return made;
}

const turn = (traceId = randomUUID()): NewTurn => ({
  id: randomUUID(),
  traceId,
  sessionId: "ses_x",
  directory: "/tmp",
  request: { text: "hi" },
  requestHash: "h1",
  acceptedMs: Date.now(),
});

const reply = (seq: number, who = "a") => ({ seq, json: JSON.stringify({ kind: "delta", seq, content: `${who}${seq}` }) });

/** Makes every running turn's lease run out now (instead of sleeping through it). */
const expireAll = (s: PgStore) => s.pool.query("UPDATE bridge_turns SET lease_until = now() - interval '1 ms' WHERE state = 'running'");

describe("PgStore", () => {
  it("accepting is idempotent on trace_id: the second daemon gets the stored turn", async () => {
    const [a, b] = await daemons(2);
    const t = turn();
    const first = await a!.accept(t);
    expect(first.created).toBe(true);
    const again = await b!.accept({ ...t, id: randomUUID() });
    expect(again.created).toBe(false);
    if (!again.created) {
      expect(again.existing.id).toBe(t.id);
      expect(again.existing.owner).toBe("d0");
      expect(again.existing.request).toEqual({ text: "hi" });
    }
  });

  it("daemons racing to claim expired turns: each turn gets exactly one owner", async () => {
    const ds = await daemons(3);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const t = turn();
      await ds[0]!.accept(t);
      ids.push(t.id);
    }
    await expireAll(ds[0]!);
    const claims = await Promise.all(ds.map((d) => Promise.all([d.claim(15), d.claim(15), d.claim(15)])));
    const claimed = claims.flat(2);
    expect(claimed.map((c) => c.id).sort()).toEqual([...ids].sort());
    expect(new Set(claimed.map((c) => c.fence)).size).toBe(40);
    // Nothing left to claim while the new leases run.
    expect((await Promise.all(ds.map((d) => d.claim(100)))).flat()).toEqual([]);
  });

  it("an expired lease is taken over; until then the owner still writes, after it its writes, end and renewal are refused", async () => {
    const [a, b] = await daemons(2, 400);
    const t = turn();
    const acc = await a!.accept(t);
    if (!acc.created) throw new Error("not created");
    await a!.append(t.id, acc.fence, [reply(0), reply(1)]);
    // Lease lapsed (its owner stalled), nobody has claimed yet: the fence, not the clock, decides — the
    // owner still drives the turn and may write; a turn one daemon drives correctly is not given up.
    await expireAll(a!);
    await a!.append(t.id, acc.fence, [reply(2)]);
    await expireAll(a!);
    const [taken] = await b!.claim(10);
    expect(taken?.id).toBe(t.id);
    expect(taken?.owner).toBe("d1");
    expect(taken?.previousOwner).toBe("d0");
    expect(BigInt(taken!.fence)).toBeGreaterThan(BigInt(acc.fence));
    // Its renewal does not resurrect it.
    expect(await a!.renew([{ id: t.id, fence: acc.fence }])).toEqual(new Set());
    await expect(a!.append(t.id, acc.fence, [reply(3)])).rejects.toThrow(/taken over/);
    await expect(a!.end(t.id, acc.fence, "final")).rejects.toBeInstanceOf(FencedError);
    await b!.append(t.id, taken!.fence, [reply(3, "b")]);
    expect(await b!.renew([{ id: t.id, fence: taken!.fence }])).toEqual(new Set([t.id]));
    await b!.end(t.id, taken!.fence, "final");
    expect((await a!.replies(t.id)).map((r) => r.json)).toEqual([reply(0).json, reply(1).json, reply(2).json, reply(3, "b").json]);
    expect((await a!.byId(t.id))?.outcome).toBe("final");
  });

  it("replies stay gapless and unique: a gap, a repeat or an overlap is refused", async () => {
    const [a] = await daemons(1);
    const t = turn();
    const acc = await a!.accept(t);
    if (!acc.created) throw new Error("not created");
    await a!.append(t.id, acc.fence, [reply(0), reply(1), reply(2)]);
    await expect(a!.append(t.id, acc.fence, [reply(5)])).rejects.toBeInstanceOf(FencedError);
    await expect(a!.append(t.id, acc.fence, [reply(2)])).rejects.toBeInstanceOf(FencedError);
    // Two writers racing with the same next seq: exactly one batch lands.
    const results = await Promise.allSettled([a!.append(t.id, acc.fence, [reply(3, "x"), reply(4, "x")]), a!.append(t.id, acc.fence, [reply(3, "y")])]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const seqs = (await a!.replies(t.id)).map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i));
  });

  it("a takeover racing an owner that is writing: no write of the old owner lands after the new owner's first", async () => {
    const [a, b] = await daemons(2);
    const t = turn();
    const acc = await a!.accept(t);
    if (!acc.created) throw new Error("not created");
    let seq = 0;
    let refused = false;
    const writer = (async () => {
      while (seq < 5_000) {
        try {
          await a!.append(t.id, acc.fence, [reply(seq)]);
          seq++;
        } catch (err) {
          expect(err).toBeInstanceOf(FencedError);
          refused = true;
          return;
        }
      }
    })();
    while (seq < 20) await new Promise((r) => setTimeout(r, 5));
    await expireAll(b!);
    const [taken] = await b!.claim(1);
    expect(taken?.id).toBe(t.id);
    const next = (await b!.replies(t.id)).length;
    await b!.append(t.id, taken!.fence, [reply(next, "b")]);
    await writer;
    expect(refused).toBe(true);
    const rows = await b!.replies(t.id);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
    expect(rows[rows.length - 1]!.json).toBe(reply(next, "b").json);
  });

  it("other daemons are told of new replies and of a turn's end", async () => {
    const [a, b] = await daemons(2);
    const seen: string[] = [];
    b!.onChange((id) => seen.push(id));
    const t = turn();
    const acc = await a!.accept(t);
    if (!acc.created) throw new Error("not created");
    await a!.append(t.id, acc.fence, [reply(0)]);
    await a!.end(t.id, acc.fence, "final");
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([t.id, t.id]);
  });

  it("acknowledgements only move forward; keyed sessions are shared; ended turns are pruned beyond the bound", async () => {
    const [a, b] = await daemons(2);
    const t = turn();
    const acc = await a!.accept(t);
    if (!acc.created) throw new Error("not created");
    await a!.ack(t.id, "webhook", 4);
    await b!.ack(t.id, "webhook", 2);
    expect(await b!.acks(t.id)).toEqual(new Map([["webhook", 4]]));
    await a!.sessions().set("dir\u0000k", { sessionId: "ses_1", configHash: "c" });
    expect(await b!.sessions().get("dir\u0000k")).toEqual({ sessionId: "ses_1", configHash: "c" });
    await a!.end(t.id, acc.fence, "final");
    for (let i = 0; i < 3; i++) {
      const u = turn();
      const x = await a!.accept(u);
      if (x.created) await a!.end(u.id, x.fence, "final");
    }
    expect(await a!.prune(2)).toBe(2);
    expect(await a!.byId(t.id)).toBeUndefined();
  });
});
