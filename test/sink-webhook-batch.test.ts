/**
 * The webhook's batch mode (src/sink/webhook.ts `sendBatch`) against a real
 * receiver on loopback that checks order and dedupes by key while every third
 * POST's acknowledgement is lost (test/support/batch-receiver.ts).
 */
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import type { RequestEvent } from "../src/codec/requests.js";
import { WebhookSink } from "../src/sink/webhook.js";
import { startBatchReceiver, type BatchReceiver } from "./support/batch-receiver.js";
import { turn } from "./support/recorder.js";

const ask = (traceId: string, id: string): RequestEvent => ({
  type: "request",
  trace_id: traceId,
  session_id: `ses_${traceId}`,
  request: { kind: "permission", request_id: id, trace_id: traceId, session_id: `ses_${traceId}`, permission: "bash", patterns: ["ls"], always: [], metadata: {} },
});

const fast = { initialDelayMs: 1, maxDelayMs: 5, requestTimeoutMs: 5_000, logger: pino({ enabled: false }) };

describe("webhook batch mode", () => {
  let receiver: BatchReceiver | undefined;
  let sink: WebhookSink | undefined;
  afterEach(async () => {
    await sink?.close();
    await receiver?.close();
    sink = receiver = undefined;
  });

  it("every reply once and in order, request events in their place, through a receiver that loses every third acknowledgement", async () => {
    receiver = await startBatchReceiver({ failEvery: 3 });
    sink = new WebhookSink({ url: receiver.url, ...fast, batch: { maxReplies: 10 } });
    const turns = ["b1", "b2", "b3"].map((t) => turn(t, 150));
    // What each turn sends, in order: its replies, with a request event after seq 40 of each.
    const sent = turns.map((rs) => [...rs.slice(0, 41), ask(rs[0]!.trace_id, `per_${rs[0]!.trace_id}`), ...rs.slice(41)]);
    // As the daemon does: handed over as they come, without waiting for acknowledgements.
    for (let i = 0; i < sent[0]!.length; i++) for (const s of sent) await sink.deliver(s[i]!);
    await sink.flush();

    expect(receiver.problems).toEqual([]);
    for (const s of sent) expect(receiver.turns.get(s[0]!.trace_id)).toEqual(s);
    // Batches formed (fewer POSTs than messages), none over the bound; retries repeated keys.
    const fresh = receiver.posts.filter((p) => !p.repeat);
    expect(fresh.length).toBeLessThan(sent.flat().length / 2);
    expect(Math.max(...receiver.posts.map((p) => p.size))).toBeLessThanOrEqual(10);
    expect(receiver.posts.some((p) => p.repeat)).toBe(true);
    expect(sink.stats()).toMatchObject({ delivered: 450, failures: 0, givenUp: 0 });
    expect(sink.stats().retries).toBe(receiver.posts.filter((p) => p.repeat).length);
    // The key names the turn, its first and last message, and the turn's id.
    expect(fresh[0]?.key).toMatch(/^b\d:0\.\.0:[0-9a-f-]{36}$/);
    expect(receiver.posts.map((p) => p.key)).toContainEqual(expect.stringMatching(/^b1:(\d+|request:per_b1)\.\.(\d+|request:per_b1):/));
  });

  it("bounds a batch by bytes too (a message larger than the bound goes alone); a host's turn id is in the key", async () => {
    receiver = await startBatchReceiver();
    const acked: number[] = [];
    sink = new WebhookSink({ url: receiver.url, ...fast, batch: { maxReplies: 1_000, maxBytes: 600 } });
    sink.bind({ turnIdOf: () => "turn-7", acknowledged: (r) => acked.push(r.seq) });
    const rs = turn("bb", 40);
    const big = { ...rs[5]!, content: "x".repeat(2_000) } as Reply;
    rs[5] = big;
    for (const r of rs) await sink.deliver(r);
    await sink.flush();
    expect(receiver.problems).toEqual([]);
    expect(receiver.turns.get("bb")).toEqual(rs);
    for (const p of receiver.posts) if (p.size > 1) expect(p.bytes).toBeLessThanOrEqual(600);
    expect(receiver.posts.some((p) => p.size > 1)).toBe(true);
    expect(receiver.posts.every((p) => p.key.startsWith("bb:") && p.key.endsWith(":turn-7"))).toBe(true);
    expect(acked).toEqual(rs.map((r) => r.seq));
  });

  it("gives up as single mode does: a batch refused for good drops its replies and the rest of the turn; other turns go on", async () => {
    const { createServer } = await import("node:http");
    let posts = 0;
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        posts++;
        const batch = JSON.parse(body) as Reply[];
        res.writeHead(batch.some((r) => r.trace_id === "doomed" && r.seq >= 1) ? 400 : 204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      sink = new WebhookSink({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, ...fast, batch: {} });
      const doomed = turn("doomed", 20);
      const fine = turn("fine", 20);
      for (let i = 0; i < 20; i++) {
        await sink.deliver(doomed[i]!);
        await sink.deliver(fine[i]!);
      }
      await sink.flush();
      const s = sink.stats();
      expect(s).toMatchObject({ givenUp: 1, failures: 19 });
      expect(s.delivered).toBe(21);
      expect(sink.pending).toBe(0);
      expect(posts).toBeGreaterThan(1);
    } finally {
      await sink?.close();
      sink = undefined;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("validates its batch options", () => {
    expect(() => new WebhookSink({ url: "http://127.0.0.1:1/", batch: { maxReplies: 0 } })).toThrow(/batch.maxReplies must be at least 1/);
    expect(() => new WebhookSink({ url: "http://127.0.0.1:1/", batch: { size: 3 } as never })).toThrow(/batch/);
  });
});
