/**
 * The journal's `coalesce` (src/daemon/journal.ts): a tick's reply records go
 * to the file in one write(2), yet nothing of a reply leaves the process before
 * its record is in the file — checked where it leaves: when an SSE subscriber on
 * loopback receives reply k, when a plain output (a callback) is handed reply k,
 * and when a webhook receiver on loopback gets reply k, the journal file (read by
 * the test, as a restarted daemon would) already holds reply k — checked at the
 * moment the bytes are handed on (the socket write, the callback, undici's dispatch). Each burst starts
 * with a request event, whose SSE frame is scheduled before the replies of the
 * same tick are journaled: without `beforeWrite` the subscriber would get them first.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Agent, type Dispatcher } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import type { RequestEvent } from "../src/codec/requests.js";
import { Journal } from "../src/daemon/journal.js";
import { Metrics } from "../src/daemon/metrics.js";
import { ReplyPath } from "../src/daemon/reply-path.js";
import { streamTurn, SubscriberBudget } from "../src/daemon/sse.js";
import { TurnStore } from "../src/daemon/turns.js";
import { FanoutSink, type NamedSink } from "../src/sink/fanout.js";
import { WebhookSink } from "../src/sink/webhook.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The seqs of `trace`'s reply records in the journal file now. */
function journaled(file: string, trace: string): Set<number> {
  const seqs = new Set<number>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith('{"t":"reply"')) continue;
    const r = (JSON.parse(line) as { r: Reply }).r;
    if (r.trace_id === trace) seqs.add(r.seq);
  }
  return seqs;
}

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return (server.address() as AddressInfo).port;
};

async function rig(outputs: NamedSink[], late: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "journal-coalesce-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const journal = new Journal(dir, { keepFinished: 10, maxBytes: 1 << 20, syncIntervalMs: 50, coalesce: true, onError: (e) => { throw e; } });
  journal.open();
  cleanups.push(() => journal.close());
  const store = new TurnStore({ maxTurns: 10, maxReplyBytesPerTurn: 1 << 20 });
  const fanout = new FanoutSink(outputs);
  const path = new ReplyPath(store, journal, new Metrics(), fanout, pino({ enabled: false }));
  const budget = new SubscriberBudget(10, 10, 1 << 24);
  const server = createServer((req, res) => {
    const record = store.get("t1");
    if (!record) return void res.writeHead(404).end();
    // Checked where the bytes leave: every reply in a write must already be in the file.
    const write = res.write.bind(res) as (chunk: string) => boolean;
    (res as unknown as { write: (chunk: string) => boolean }).write = (chunk: string) => {
      const have = journaled(journal.file, "t1");
      for (const m of String(chunk).matchAll(/^id: (\d+)\n/gm)) if (!have.has(Number(m[1]))) late.push(`subscriber sent ${m[1]} before the journal`);
      return write(chunk);
    };
    void streamTurn(req, res, store, record, { heartbeatMs: 60_000, maxBufferedBytes: 1 << 22, drainTimeoutMs: 10_000, budget, log: pino({ enabled: false }), beforeWrite: () => journal.flush() });
  });
  const port = await listen(server);
  return { journal, store, path, port, fanout };
}

const delta = (seq: number): Reply => ({ kind: "delta", trace_id: "t1", session_id: "ses_1", seq, content: `piece ${seq} `, part_id: "prt_1" });
const askFor = (n: number): RequestEvent => ({
  type: "request",
  trace_id: "t1",
  session_id: "ses_1",
  request: { kind: "permission", request_id: `per_${n}`, trace_id: "t1", session_id: "ses_1", permission: "bash", patterns: ["ls"], always: ["ls *"], metadata: {} },
});

/**
 * Ten bursts of 20 replies in one tick each (after a request event with `ask`), then the
 * final; `between` runs after each burst (the webhook test waits until the sink is idle, so
 * that the next burst's first reply is posted at once, inside `deliver`).
 */
function drive(path: ReplyPath, journal: Journal, store: TurnStore, ask?: (n: number) => RequestEvent, between: () => Promise<unknown> = () => new Promise((r) => setImmediate(r))): Promise<void> {
  return (async () => {
    let seq = 0;
    for (let b = 0; b < 10; b++) {
      if (ask) void path.sink.deliver(ask(b));
      for (let i = 0; i < 20; i++) void path.sink.deliver(delta(seq++));
      await between();
    }
    void path.sink.deliver({ kind: "final", trace_id: "t1", session_id: "ses_1", seq, content: "done" });
    journal.end("id-1", "final");
    store.finish(store.get("t1")!, "final");
  })();
}

describe("journal coalesce: one write per tick, nothing out before it is journaled", () => {
  it("an SSE subscriber gets reply k only once the file holds it, though a request event's frame was due first", async () => {
    const late: string[] = [];
    const { journal, store, path, port } = await rig([], late);
    const file = journal.file;
    journal.turn("id-1", "t1", "ses_1", "/p", 1);
    store.create("t1", "ses_1", "/p", 0, "id-1");
    const got: number[] = [];
    const sse = new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/" }, (res) => {
        let buf = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          buf += c;
          for (const m of buf.matchAll(/^id: (\d+)\n/gm)) got.push(Number(m[1]));
          buf = buf.slice(buf.lastIndexOf("\n\n") + 2);
        });
        res.on("end", resolve);
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
    // Until the subscriber is in (the stream's headers are out before it subscribes).
    while (store.get("t1")!.subscribers.size === 0) await new Promise((r) => setImmediate(r));
    await drive(path, journal, store, askFor);
    await sse;
    expect(late).toEqual([]);
    expect(got).toEqual(Array.from({ length: 201 }, (_, i) => i));
    // The file whole and in order.
    expect([...journaled(file, "t1")]).toEqual(got);
  });

  it("an output that is not bound (a callback) is handed reply k only once the file holds it", async () => {
    const late: string[] = [];
    const seen: number[] = [];
    let file = "";
    const { journal, store, path } = await rig(
      [
        {
          name: "callback",
          sink: (r: Reply) => {
            seen.push(r.seq);
            if (!journaled(file, "t1").has(r.seq)) late.push(`output got ${r.seq} before the journal`);
          },
        },
      ],
      late,
    );
    file = journal.file;
    journal.turn("id-1", "t1", "ses_1", "/p", 1);
    store.create("t1", "ses_1", "/p", 0, "id-1");
    await drive(path, journal, store);
    expect(late).toEqual([]);
    expect(seen).toEqual(Array.from({ length: 201 }, (_, i) => i));
  });

  it("a webhook receiver gets reply k only once the file holds it (the sink calls beforeSend)", async () => {
    let file = "";
    const late: string[] = [];
    const received: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const receiver = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        const parsed = JSON.parse(body) as Reply | RequestEvent;
        if (!("type" in parsed)) {
          received.push(parsed.seq);
          if (parsed.kind === "final") done();
        }
        res.writeHead(204).end();
      });
    });
    const hookPort = await listen(receiver);
    // Checked where the POST leaves: when the sink hands it to undici, its replies must already be in the file.
    const agent = new Agent();
    cleanups.push(() => agent.close());
    const dispatcher = Object.assign(Object.create(agent) as Agent, {
      dispatch: (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => {
        const parsed = JSON.parse(String(opts.body)) as Reply | RequestEvent;
        if (!("type" in parsed) && !journaled(file, "t1").has(parsed.seq)) late.push(`webhook sent ${parsed.seq} before the journal`);
        return agent.dispatch(opts, handler);
      },
    });
    const webhook = new WebhookSink({ url: `http://127.0.0.1:${hookPort}/hook`, dispatcher });
    cleanups.push(() => webhook.close());
    const { journal, store, path } = await rig([{ name: "webhook", sink: webhook }], late);
    file = journal.file;
    journal.turn("id-1", "t1", "ses_1", "/p", 1);
    store.create("t1", "ses_1", "/p", 0, "id-1");
    await drive(path, journal, store, undefined, () => webhook.flush());
    await all;
    expect(late).toEqual([]);
    expect(received).toEqual(Array.from({ length: 201 }, (_, i) => i));
  });
});
