/**
 * A session recorder for webhook tests: a real `http.createServer` on loopback
 * port 0 that takes replies POSTed as JSON, deduplicates them by
 * `Idempotency-Key`, and fails deliveries as a plan says (503, 429 with
 * Retry-After, dropped connections, lost acknowledgements, no answer at all).
 */
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ReplySchema, type Reply } from "../../src/codec/reply.js";

export type RecorderAction =
  /** Answer with this status (the reply is recorded when it is 2xx). */
  | { readonly status: number; readonly retryAfter?: string }
  /** Destroy the connection before recording anything. */
  | "drop"
  /** Record the reply, then destroy the connection: the sender never sees the acknowledgement. */
  | "drop-after-record"
  /** Never answer (until `release()` or `close()`). */
  | "hang";

export interface AttemptInfo {
  readonly key: string;
  readonly traceId: string;
  readonly seq: number;
  /** 1 for the first request with this key, 2 for the second, … */
  readonly attempt: number;
  /** 1-based index of the request across the recorder. */
  readonly n: number;
  readonly headers: IncomingMessage["headers"];
}

export type RecorderPlan = (a: AttemptInfo) => RecorderAction;

export interface Attempt extends AttemptInfo {
  readonly action: RecorderAction;
  /** Whether the key had already been recorded (a duplicate delivery). */
  readonly duplicate: boolean;
}

export interface Recorder {
  readonly url: string;
  /** Every request, in arrival order. */
  readonly attempts: Attempt[];
  /** Requests whose body was not a reply, or whose Idempotency-Key did not match it. */
  readonly malformed: string[];
  /** The turn's replies as recorded: deduplicated by key, in the order first recorded. */
  replies(traceId: string): Reply[];
  /** Trace ids seen, in order of their first recorded reply. */
  traces(): string[];
  /** Resolves when `cond()` holds (checked after every request); rejects after `timeoutMs`. */
  waitFor(cond: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Answer every hanging request with this status. */
  release(status?: number): void;
  close(): Promise<void>;
}

/** Fails every kind of way on a reply's first attempt, by seq, then accepts. */
export const flakyPlan: RecorderPlan = ({ seq, attempt }) => {
  if (attempt > 1) return { status: 200 };
  switch (seq % 6) {
    case 1:
      return { status: 503 };
    case 2:
      return { status: 429, retryAfter: "0" };
    case 3:
      return "drop";
    case 4:
      return "drop-after-record";
    case 5:
      return { status: 500 };
    default:
      return { status: 200 };
  }
};

export async function startRecorder(plan: RecorderPlan = () => ({ status: 200 })): Promise<Recorder> {
  const attempts: Attempt[] = [];
  const malformed: string[] = [];
  const recorded = new Map<string, Reply>();
  const order = new Map<string, string[]>();
  const perKey = new Map<string, number>();
  /** Requests held without an answer, with what they carried. */
  const hanging = new Map<ServerResponse, [string, Reply]>();
  const changed = new EventEmitter();
  changed.setMaxListeners(0);

  const record = (key: string, reply: Reply) => {
    if (recorded.has(key)) return;
    recorded.set(key, reply);
    const list = order.get(reply.trace_id) ?? [];
    list.push(key);
    order.set(reply.trace_id, list);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let reply: Reply;
      try {
        reply = ReplySchema.parse(JSON.parse(text));
      } catch (err) {
        malformed.push(`body: ${(err as Error).message}`);
        res.writeHead(400).end();
        changed.emit("change");
        return;
      }
      const key = String(req.headers["idempotency-key"] ?? "");
      if (!key.startsWith(`${reply.trace_id}:${reply.seq}:`) || req.method !== "POST") {
        malformed.push(`${req.method} with Idempotency-Key ${JSON.stringify(key)} for ${reply.trace_id}:${reply.seq}`);
      }
      const attempt = (perKey.get(key) ?? 0) + 1;
      perKey.set(key, attempt);
      const info: AttemptInfo = { key, traceId: reply.trace_id, seq: reply.seq, attempt, n: attempts.length + 1, headers: req.headers };
      const action = plan(info);
      attempts.push({ ...info, action, duplicate: recorded.has(key) });
      if (action === "drop") {
        req.socket.destroy();
      } else if (action === "drop-after-record") {
        record(key, reply);
        req.socket.destroy();
      } else if (action === "hang") {
        hanging.set(res, [key, reply]);
        res.on("close", () => hanging.delete(res));
      } else {
        if (action.status >= 200 && action.status < 300) record(key, reply);
        res.writeHead(action.status, action.retryAfter === undefined ? {} : { "retry-after": action.retryAfter });
        res.end();
      }
      changed.emit("change");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/replies`,
    attempts,
    malformed,
    replies: (traceId) => (order.get(traceId) ?? []).map((k) => recorded.get(k) as Reply),
    traces: () => [...order.keys()],
    waitFor: (cond, timeoutMs = 20_000, what = "the recorder condition") =>
      new Promise<void>((resolve, reject) => {
        if (cond()) return resolve();
        const check = () => {
          if (!cond()) return;
          clearTimeout(timer);
          changed.off("change", check);
          resolve();
        };
        const timer = setTimeout(() => {
          changed.off("change", check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        changed.on("change", check);
      }),
    release: (status = 200) => {
      for (const [res, [key, reply]] of [...hanging]) {
        if (status >= 200 && status < 300) record(key, reply);
        res.writeHead(status).end();
      }
      changed.emit("change");
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A well-formed turn of `n` replies: n-1 deltas, then final. */
export function turn(traceId: string, n: number): Reply[] {
  const out: Reply[] = [];
  let text = "";
  for (let seq = 0; seq < n - 1; seq++) {
    const content = `w${seq} `;
    text += content;
    out.push({ kind: "delta", trace_id: traceId, session_id: `ses_${traceId}`, seq, content, part_id: "prt_1" });
  }
  out.push({ kind: "final", trace_id: traceId, session_id: `ses_${traceId}`, seq: n - 1, content: text });
  return out;
}
