/**
 * A batch-mode webhook receiver as docs/daemon.md describes one, on loopback
 * port 0: each POST body is a JSON array of replies and request events of one
 * turn, in order; the `Idempotency-Key` names the batch. It keeps the first copy
 * of each key, checks that a key seen again carries the very same body (a batch
 * is retried whole), and checks order per turn: replies come with `seq` 0, 1, 2 …
 *
 * `failEvery`: every n-th POST (counting all) is stored, then answered 503 — an
 * acknowledgement lost on its way back — so the sender retries a batch the
 * receiver already has, and the dedupe is what keeps each reply once.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Reply } from "../../src/codec/reply.js";
import type { RequestEvent } from "../../src/codec/requests.js";

export interface BatchReceiver {
  readonly url: string;
  /** Per trace id, what was kept, in arrival order (after dedupe). */
  readonly turns: Map<string, (Reply | RequestEvent)[]>;
  /** Every POST: its key, how many messages, and whether it was a key seen before. */
  readonly posts: { key: string; size: number; bytes: number; repeat: boolean }[];
  /** Broken promises: out-of-order replies, a repeated key with another body, a body that is not an array. */
  readonly problems: string[];
  close(): Promise<void>;
}

export async function startBatchReceiver(opts: { failEvery?: number } = {}): Promise<BatchReceiver> {
  const turns = new Map<string, (Reply | RequestEvent)[]>();
  const posts: BatchReceiver["posts"] = [];
  const problems: string[] = [];
  const bodies = new Map<string, string>();
  const nextSeq = new Map<string, number>();
  let n = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c));
    req.on("end", () => {
      const key = String(req.headers["idempotency-key"]);
      const count = ++n;
      const seen = bodies.get(key);
      let batch: unknown;
      try {
        batch = JSON.parse(body);
      } catch {
        problems.push(`POST ${count}: not JSON`);
      }
      if (!Array.isArray(batch)) {
        problems.push(`POST ${count} (${key}): not an array`);
        return void res.writeHead(400).end();
      }
      posts.push({ key, size: batch.length, bytes: Buffer.byteLength(body), repeat: seen !== undefined });
      if (seen !== undefined) {
        if (seen !== body) problems.push(`key ${key} came again with another body`);
      } else {
        bodies.set(key, body);
        for (const m of batch as (Reply | RequestEvent)[]) {
          const list = turns.get(m.trace_id) ?? [];
          turns.set(m.trace_id, list);
          list.push(m);
          if ("kind" in m) {
            const want = nextSeq.get(m.trace_id) ?? 0;
            if (m.seq !== want) problems.push(`${m.trace_id}: seq ${m.seq} where ${want} was due`);
            nextSeq.set(m.trace_id, m.seq + 1);
          }
        }
      }
      // Stored (or already had it); every n-th answer is "lost".
      res.writeHead(opts.failEvery !== undefined && count % opts.failEvery === 0 ? 503 : 204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    turns,
    posts,
    problems,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
