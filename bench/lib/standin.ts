/**
 * A stand-in `opencode serve` for the daemon benchmark: the routes the adapter
 * calls, and one `/event` stream on which each prompted session's turn — real
 * captured frames with fresh ids (bench/lib/frames.ts) — is written as soon as
 * `prompt_async` arrives, as fast as the socket takes it. It records when it
 * wrote each turn (`performance.now()`), so a consumer in the same process can
 * tell how long after the server's write it received each reply.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Frame } from "./frames.js";

export interface StandinTurn {
  readonly sessionId: string;
  readonly frames: readonly Frame[];
}

export interface Standin {
  readonly url: string;
  /** Session id → `performance.now()` when its turn's first frame was written. */
  readonly writtenAt: Map<string, number>;
  close(): Promise<void>;
}

export async function startStandin(turns: readonly StandinTurn[], version = "1.18.33"): Promise<Standin> {
  const queue = [...turns];
  const bySession = new Map(turns.map((t) => [t.sessionId, t]));
  const writtenAt = new Map<string, number>();
  const streams = new Set<ServerResponse>();
  /** Writes are chained so that turns prompted together do not interleave mid-frame, and wait for drain. */
  let chain = Promise.resolve();
  const send = (t: StandinTurn) => {
    chain = chain.then(async () => {
      writtenAt.set(t.sessionId, performance.now());
      const text = t.frames.map((f) => `${f}\n\n`).join("");
      for (const s of streams) if (!s.write(text)) await new Promise((r) => s.once("drain", r));
    });
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const parts = path.split("/").filter(Boolean);
      if (req.method === "GET" && path === "/global/health") return json(res, 200, { healthy: true, version });
      if (req.method === "GET" && path === "/event") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write('data: {"type":"server.connected","properties":{}}\n\n');
        streams.add(res);
        res.on("close", () => streams.delete(res));
        return;
      }
      if (req.method === "POST" && path === "/session") {
        const next = queue.shift();
        return next ? json(res, 200, { id: next.sessionId }) : json(res, 500, { error: "no turn left" });
      }
      if (req.method === "GET" && path === "/session/status") return json(res, 200, {});
      if (parts[0] === "session" && parts[2] === "message" && req.method === "GET") return json(res, 200, []);
      if (parts[0] === "session" && parts[2] === "prompt_async" && req.method === "POST") {
        res.writeHead(204).end();
        const t = bySession.get(parts[1] ?? "");
        if (t) setImmediate(() => send(t));
        return;
      }
      if (parts[0] === "session" && parts[2] === "abort" && req.method === "POST") return json(res, 200, true);
      json(res, 404, { error: `no route ${req.method} ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writtenAt,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
