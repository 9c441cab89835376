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
  /** What `GET /session/:id/message` answers once the turn is written (JSON text); `[]` if not given. */
  readonly record?: string;
}

export interface Standin {
  readonly url: string;
  /** Session id → `performance.now()` when its turn's first frame was written. */
  readonly writtenAt: Map<string, number>;
  /** Serves these turns from now on (the next `POST /session` answers the first); forgets the previous ones. */
  load(turns: readonly StandinTurn[]): void;
  close(): Promise<void>;
}

/** The `messageID` a prompt body asks for (the adapter chooses its user message's id), if any. */
function messageIdOf(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { messageID?: unknown }).messageID;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The turn as a server would send it for a prompt with this `messageID`: the
 * captured user message's id replaced by it everywhere (the user message, its
 * parts, the assistant messages' `parentID`). Both ids are 30 characters, so
 * no frame changes length.
 */
function withUserMessageId(t: StandinTurn, id: string): StandinTurn {
  const user = t.frames
    .map((f) => /"type":"message\.updated","properties":\{.*?"info":\{"id":"(msg_[^"]+)","role":"user"/.exec(f)?.[1])
    .find((x) => x !== undefined);
  if (user === undefined) throw new Error(`stand-in: no user message in the turn of ${t.sessionId}`);
  return { ...t, frames: t.frames.map((f) => f.replaceAll(user, id)), record: t.record?.replaceAll(user, id) };
}

export async function startStandin(turns: readonly StandinTurn[], version = "1.18.33"): Promise<Standin> {
  let queue = [...turns];
  let bySession = new Map(turns.map((t) => [t.sessionId, t]));
  const writtenAt = new Map<string, number>();
  /** Session id → the turn as written (with the prompt's user message id), for its record. */
  const prompted = new Map<string, StandinTurn>();
  const load = (next: readonly StandinTurn[]) => {
    queue = [...next];
    bySession = new Map(next.map((t) => [t.sessionId, t]));
    writtenAt.clear();
    prompted.clear();
  };
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
    const body: Buffer[] = [];
    req.on("data", (b: Buffer) => body.push(b));
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
      if (parts[0] === "session" && parts[2] === "message" && req.method === "GET") {
        const record = prompted.get(parts[1] ?? "")?.record;
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(record ?? "[]");
      }
      if (parts[0] === "session" && parts[2] === "prompt_async" && req.method === "POST") {
        res.writeHead(204).end();
        const t = bySession.get(parts[1] ?? "");
        if (t) {
          const id = messageIdOf(Buffer.concat(body).toString("utf8"));
          const turn = id === undefined ? t : withUserMessageId(t, id);
          prompted.set(turn.sessionId, turn);
          setImmediate(() => send(turn));
        }
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
    load,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
