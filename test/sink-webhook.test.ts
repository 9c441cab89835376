/**
 * The webhook sink against a real recorder on loopback that fails deliveries on
 * purpose: 503/500, 429 with Retry-After, dropped connections, lost
 * acknowledgements and requests that are never answered.
 */
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { contractViolations, type Reply } from "../src/codec/reply.js";
import { FanoutSink } from "../src/sink/fanout.js";
import { WebhookSink, type WebhookOptionsInput } from "../src/sink/webhook.js";
import { parseRetryAfter } from "../src/sink/webhook-post.js";
import type { Clock } from "../src/util/clock.js";
import { flakyPlan, startRecorder, turn, type Recorder, type RecorderPlan } from "./support/recorder.js";

/** Delivers as the adapter does: one reply at a time, each awaited. */
async function produce(sink: WebhookSink, replies: Reply[]): Promise<void> {
  for (const r of replies) await sink.deliver(r);
}

/** Captures pino output as parsed lines. */
function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString("utf8").split("\n")) if (l.trim() !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

/** A clock that never waits: sleeps are recorded and advance `now`. */
function fakeClock(start = Date.UTC(2030, 0, 1)) {
  let now = start;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout: () => {
      throw new Error("the webhook sink sets no timers through its clock");
    },
    clearTimeout: () => {},
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
  return { clock, sleeps, start };
}

const fast: Partial<WebhookOptionsInput> = { initialDelayMs: 1, maxDelayMs: 20, requestTimeoutMs: 5_000 };

/** A macrotask turn, to let anything that is ready happen (used only to show that something did not). */
const ticks = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe("WebhookSink", () => {
  let recorder: Recorder | undefined;
  let sink: WebhookSink | undefined;
  afterEach(async () => {
    await sink?.close();
    await recorder?.close();
    sink = undefined;
    recorder = undefined;
  });

  const start = async (plan: RecorderPlan, opts: Partial<WebhookOptionsInput> = {}) => {
    recorder = await startRecorder(plan);
    sink = new WebhookSink({ url: recorder.url, ...fast, ...opts });
    return { recorder, sink };
  };

  it("delivers every reply of every turn, in order, through 5xx, 429, dropped connections and lost acks", async () => {
    const { recorder, sink } = await start(flakyPlan, { headers: { authorization: "Bearer recorder-secret" } });
    const turns = ["t-a", "t-b", "t-c"].map((t) => turn(t, 13));
    await Promise.all(turns.map((rs) => produce(sink, rs)));
    await sink.flush();

    expect(recorder.malformed).toEqual([]);
    for (const rs of turns) {
      const traceId = rs[0]?.trace_id ?? "";
      // Deduplicated by Idempotency-Key, the recorder holds exactly the turn, in order.
      expect(recorder.replies(traceId)).toEqual(rs);
      expect(contractViolations(recorder.replies(traceId))).toEqual([]);
      // seq n+1 was never sent before n had been acknowledged.
      const mine = recorder.attempts.filter((a) => a.traceId === traceId);
      const acked = new Set<number>();
      for (const a of mine) {
        if (a.seq > 0) expect(acked.has(a.seq - 1), `${traceId}: seq ${a.seq} sent before ${a.seq - 1} was acknowledged`).toBe(true);
        if (a.action !== "drop" && a.action !== "drop-after-record" && a.action !== "hang" && a.action.status === 200) acked.add(a.seq);
      }
    }
    // Every failure kind happened, and a lost acknowledgement produced a duplicate the key identifies.
    const actions = recorder.attempts.map((a) => (typeof a.action === "string" ? a.action : a.action.status));
    expect(new Set(actions)).toEqual(new Set([200, 503, 429, 500, "drop", "drop-after-record"]));
    expect(recorder.attempts.some((a) => a.duplicate)).toBe(true);
    expect(recorder.attempts.every((a) => a.headers.authorization === "Bearer recorder-secret")).toBe(true);
    expect(recorder.attempts.every((a) => a.headers["content-type"] === "application/json")).toBe(true);

    const stats = sink.stats();
    expect(stats.delivered).toBe(39);
    expect(stats.failures).toBe(0);
    expect(stats.givenUp).toBe(0);
    // Seqs 1-5 and 7-11 of each turn failed once: 10 retries per turn.
    expect(stats.retries).toBe(30);
    expect(recorder.attempts.length).toBe(39 + 30);
    expect(sink.pending).toBe(0);
  });

  it("honours Retry-After in seconds and as an HTTP date, caps it, and backs off exponentially otherwise", async () => {
    const { clock, sleeps, start: t0 } = fakeClock();
    const plan: RecorderPlan = ({ seq, attempt }) => {
      if (seq === 0 && attempt === 1) return { status: 429, retryAfter: "3" };
      // Sent at t0+3 s: the date says t0+8 s, so 5 s from then.
      if (seq === 0 && attempt === 2) return { status: 503, retryAfter: new Date(t0 + 8_000).toUTCString() };
      if (seq === 1 && attempt === 1) return { status: 503, retryAfter: "3600" };
      if (seq === 2 && attempt <= 3) return { status: 502 };
      return { status: 200 };
    };
    const { recorder, sink } = await start(plan, {
      clock,
      random: () => 1,
      initialDelayMs: 100,
      backoffFactor: 3,
      maxDelayMs: 10_000,
      maxElapsedMs: 600_000,
    });
    await produce(sink, turn("t-ra", 4));
    await sink.flush();
    // 3 s, 5 s (the date), the cap instead of an hour, then 100, 300, 900 ms of backoff.
    expect(sleeps).toEqual([3_000, 5_000, 10_000, 100, 300, 900]);
    expect(recorder.replies("t-ra").map((r) => r.seq)).toEqual([0, 1, 2, 3]);
    expect(sink.stats()).toMatchObject({ delivered: 4, retries: 6, failures: 0 });
  });

  it("jitter keeps each backoff delay within [d/2, d]", async () => {
    const { clock, sleeps } = fakeClock();
    const { sink } = await start(({ attempt }) => (attempt <= 3 ? { status: 503 } : { status: 200 }), {
      clock,
      random: () => 0,
      initialDelayMs: 1_000,
      maxDelayMs: 60_000,
    });
    await produce(sink, turn("t-j", 1));
    await sink.flush();
    expect(sleeps).toEqual([500, 1_000, 2_000]);
  });

  it("gives up after maxAttempts: the turn's remaining replies are dropped, counted and logged once; other turns are unaffected", async () => {
    const { logger, lines } = captureLogs();
    const { recorder, sink } = await start(({ traceId }) => (traceId === "doomed" ? { status: 503 } : { status: 200 }), {
      maxAttempts: 3,
      logger,
      headers: { authorization: "Bearer recorder-secret" },
    });
    await Promise.all([produce(sink, turn("doomed", 5)), produce(sink, turn("fine", 6))]);
    await sink.flush();

    const doomed = recorder.attempts.filter((a) => a.traceId === "doomed");
    expect(doomed.map((a) => a.seq)).toEqual([0, 0, 0]);
    expect(recorder.replies("fine")).toEqual(turn("fine", 6));
    expect(sink.stats()).toEqual({ delivered: 6, retries: 2, failures: 5, givenUp: 1 });

    const gaveUp = lines.filter((l) => typeof l.msg === "string" && l.msg.includes("gave up"));
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]).toMatchObject({ level: 50, trace_id: "doomed", seq: 0, attempts: 3, url: new URL(recorder.url).origin });
    expect(String(gaveUp[0]?.cause)).toMatch(/HTTP 503; 3 attempts is the limit/);
    expect(JSON.stringify(lines)).not.toContain("recorder-secret");
    // Nothing of the doomed turn is kept once its terminal reply has been dropped.
    expect(sink.pending).toBe(0);
  });

  it("gives up when the next attempt would pass maxElapsedMs", async () => {
    const { clock, sleeps } = fakeClock();
    const { logger, lines } = captureLogs();
    const { recorder, sink } = await start(() => ({ status: 500 }), {
      clock,
      random: () => 1,
      logger,
      maxAttempts: 100,
      maxElapsedMs: 1_000,
      initialDelayMs: 300,
      maxDelayMs: 10_000,
    });
    await produce(sink, turn("t-el", 2));
    await sink.flush();
    expect(sleeps).toEqual([300, 600]);
    expect(recorder.attempts).toHaveLength(3);
    expect(sink.stats()).toMatchObject({ delivered: 0, failures: 2, givenUp: 1 });
    const line = lines.find((l) => l.trace_id === "t-el" && l.level === 50);
    expect(String(line?.cause)).toMatch(/retrying in 1200 ms would pass the 1000 ms limit/);
  });

  it("does not retry a reply the receiver rejects with a 4xx", async () => {
    const { recorder, sink } = await start(() => ({ status: 400 }));
    await produce(sink, turn("t-400", 3));
    await sink.flush();
    expect(recorder.attempts).toHaveLength(1);
    expect(sink.stats()).toEqual({ delivered: 0, retries: 0, failures: 3, givenUp: 1 });
  });

  it("a turn whose receiver hangs does not hold up another turn", async () => {
    const { recorder, sink } = await start(({ traceId, seq, attempt }) =>
      traceId === "stuck" && seq === 0 && attempt === 1 ? "hang" : { status: 200 },
    );
    const stuck = produce(sink, turn("stuck", 4));
    const quick = turn("quick", 8);
    await produce(sink, quick);
    await recorder.waitFor(() => recorder.replies("quick").length === 8, 10_000, "the quick turn");
    expect(recorder.replies("quick")).toEqual(quick);
    // The stuck turn sent its first reply only, and nothing after it.
    expect(recorder.attempts.filter((a) => a.traceId === "stuck").map((a) => a.seq)).toEqual([0]);
    recorder.release(200);
    await stuck;
    await sink.flush();
    expect(recorder.replies("stuck")).toEqual(turn("stuck", 4));
  });

  it("holds at most maxQueuedPerTurn replies of a turn: deliver waits for room at the bound", async () => {
    const { recorder, sink } = await start(({ seq, attempt }) => (seq === 0 && attempt === 1 ? "hang" : { status: 200 }), {
      maxQueuedPerTurn: 2,
    });
    const rs = turn("t-bound", 4);
    await sink.deliver(rs[0] as Reply);
    await sink.deliver(rs[1] as Reply);
    let thirdTaken = false;
    // Below the bound deliver takes a reply synchronously; at it, it returns a promise that waits for room.
    const waiting = sink.deliver(rs[2] as Reply);
    expect(waiting).toBeInstanceOf(Promise);
    const third = (waiting as Promise<void>).then(() => (thirdTaken = true));
    await recorder.waitFor(() => recorder.attempts.length === 1, 5_000, "the first request");
    await ticks();
    expect(sink.pending).toBe(2);
    expect(thirdTaken).toBe(false);
    recorder.release(200);
    await third;
    await sink.deliver(rs[3] as Reply);
    await sink.flush();
    expect(recorder.replies("t-bound")).toEqual(rs);
  });

  it("close() waits for queued replies up to closeTimeoutMs, then cancels them; later deliveries are refused", async () => {
    const { logger, lines } = captureLogs();
    const { recorder, sink } = await start(({ traceId }) => (traceId === "late" ? "hang" : { status: 200 }), {
      closeTimeoutMs: 200,
      logger,
    });
    await produce(sink, turn("ok", 2));
    await produce(sink, turn("late", 3));
    await recorder.waitFor(() => recorder.attempts.some((a) => a.traceId === "late"), 5_000, "the hanging request");
    await sink.close();
    expect(recorder.replies("ok")).toHaveLength(2);
    expect(sink.stats()).toMatchObject({ delivered: 2, failures: 3, givenUp: 0 });
    expect(lines.some((l) => l.level === 50 && String(l.msg).includes("cancelled"))).toBe(true);
    await expect(sink.deliver(turn("after", 1)[0] as Reply)).rejects.toThrow(/closed/);
  });

  it("many turns in flight, in backoff or hanging, add no listener to a shared signal, and close() cancels every one", async () => {
    // Node warns at 11 listeners on one signal: each attempt used to add one to the sink's cancel signal.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      // Half the turns hang on their first reply, half are answered 503 for ever (so they sleep in backoff).
      const { recorder, sink } = await start(({ traceId }) => (Number(traceId.slice(2)) % 2 === 0 ? "hang" : { status: 503 }), {
        closeTimeoutMs: 100,
        initialDelayMs: 60_000,
        maxDelayMs: 60_000,
        maxElapsedMs: 600_000,
      });
      const turns = Array.from({ length: 40 }, (_, i) => turn(`t-${i}`, 2));
      for (const rs of turns) for (const r of rs) await sink.deliver(r);
      await recorder.waitFor(() => new Set(recorder.attempts.map((a) => a.traceId)).size === 40, 5_000, "a first attempt of every turn");
      await ticks();
      const started = performance.now();
      await sink.close();
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(sink.stats()).toMatchObject({ delivered: 0, failures: 80 });
      await ticks();
      expect(warnings.filter((w) => w.includes("MaxListeners"))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a trace_id used by two turns never repeats an Idempotency-Key; a host's turn id and acknowledgement hook are used", async () => {
    const { recorder, sink } = await start(() => ({ status: 200 }));
    // Without a host: the sink draws a turn id at each turn's first reply.
    await produce(sink, turn("again", 3));
    await sink.flush();
    await produce(sink, turn("again", 3));
    await sink.flush();
    const keys = recorder.attempts.map((a) => a.key);
    expect(new Set(keys).size).toBe(6);
    expect(new Set(keys.map((k) => k.split(":").at(-1))).size).toBe(2);
    // With a host (the daemon): its turn id, and each acknowledgement reported.
    const acked: number[] = [];
    const bound = new WebhookSink({ url: recorder.url, ...fast });
    bound.bind({ turnIdOf: () => "turn-42", acknowledged: (r) => acked.push(r.seq) });
    await produce(bound, turn("hosted", 3));
    await bound.close();
    expect(recorder.attempts.filter((a) => a.traceId === "hosted").map((a) => a.key)).toEqual(["hosted:0:turn-42", "hosted:1:turn-42", "hosted:2:turn-42"]);
    expect(acked).toEqual([0, 1, 2]);
  });

  it("validates its options, saying what was expected and what it got", () => {
    expect(() => new WebhookSink({ url: "ftp://example.com/x" })).toThrow(/url: url must be an http:\/\/ or https:\/\/ URL \(got "ftp:\/\/example.com\/x"\)/);
    expect(() => new WebhookSink({ url: "http://127.0.0.1:1/", maxAttempts: 0 })).toThrow(/maxAttempts must be at least 1 \(got 0\)/);
    expect(() => new WebhookSink({ url: "http://127.0.0.1:1/", initialDelayMs: "fast" as unknown as number })).toThrow(
      /initialDelayMs must be a number of milliseconds \(got "fast"\)/,
    );
    expect(() => new WebhookSink({ url: "http://127.0.0.1:1/", headers: { a: 1 as unknown as string } })).toThrow(/values not shown/);
  });

  it("parseRetryAfter reads seconds and HTTP dates", () => {
    const now = Date.UTC(2030, 0, 1);
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(new Date(now + 7_000).toUTCString(), now)).toBe(7_000);
    expect(parseRetryAfter(new Date(now - 7_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe("FanoutSink", () => {
  it("gives every reply to every child in order, counts each apart, and names the ones that failed", async () => {
    const a: Reply[] = [];
    const b: Reply[] = [];
    let closed = 0;
    // A child that fails later, out of its own lane, is named to onFailure; one that throws at once, by deliver.
    const failures: string[] = [];
    const fan = new FanoutSink(
      [
        { name: "a", sink: (r) => void a.push(r) },
        {
          name: "b",
          sink: {
            deliver: async (r) => {
              if (r.seq === 1) throw new Error("disk full");
              b.push(r);
            },
            close: async () => void closed++,
          },
        },
        { name: "c", sink: (r) => (r.seq === 2 ? (() => { throw new Error("refused"); })() : undefined) },
      ],
      { onFailure: (err) => failures.push(err.message) },
    );
    const rs = turn("t-fan", 3);
    await fan.deliver(rs[0] as Reply);
    await fan.deliver(rs[1] as Reply);
    await expect(fan.deliver(rs[2] as Reply)).rejects.toThrow(/t-fan:2 \(c: refused\)/);
    await fan.flush();
    expect(failures).toEqual([expect.stringMatching(/t-fan:1 \(b: disk full\)/)]);
    expect(a).toEqual(rs);
    expect(b.map((r) => r.seq)).toEqual([0, 2]);
    expect(fan.entries().map((e) => [e.name, e.counters])).toEqual([
      ["a", { accepted: 3, failures: 0 }],
      ["b", { accepted: 2, failures: 1 }],
      ["c", { accepted: 2, failures: 1 }],
    ]);
    await fan.close();
    expect(closed).toBe(1);
    expect(() => new FanoutSink([{ name: "x", sink: () => {} }, { name: "x", sink: () => {} }])).toThrow(/unique/);
  });
});

describe("webhook: odd receivers", () => {
  it("a 2xx with a body over 64 KiB acknowledges the reply; the connection is dropped and the next reply goes out on a new one", async () => {
    const { createServer } = await import("node:http");
    const seen: { key: string; socket: unknown }[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        seen.push({ key: String(req.headers["idempotency-key"]), socket: req.socket });
        // 1 MiB of answer the sink does not need.
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("x".repeat(1 << 20));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const sink = new WebhookSink({ url: `http://127.0.0.1:${port}/hook?token=q`, maxAttempts: 1, requestTimeoutMs: 5_000 });
    try {
      for (const r of turn("t-big", 3)) await sink.deliver(r);
      await sink.flush();
      expect(sink.stats()).toMatchObject({ delivered: 3, failures: 0, retries: 0 });
      expect(seen.map((s) => s.key.split(":").slice(0, 2).join(":"))).toEqual(["t-big:0", "t-big:1", "t-big:2"]);
      // Each answer was cut short, so each reply came on a connection of its own.
      expect(new Set(seen.map((s) => s.socket)).size).toBe(3);
    } finally {
      await sink.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("an answer that never comes ends the attempt at the deadline, retried, then given up; a 1xx before a 503 is skipped", async () => {
    const { createServer } = await import("node:http");
    let n = 0;
    const server = createServer((req, res) => {
      req.resume();
      // First attempt: an informational 102, then 503 with Retry-After 0; second: never answered.
      if (n++ === 0) {
        res.writeProcessing();
        res.writeHead(503, { "retry-after": "0" }).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const sink = new WebhookSink({ url: `http://127.0.0.1:${port}/`, maxAttempts: 2, requestTimeoutMs: 200, initialDelayMs: 60_000 });
    try {
      const started = performance.now();
      await sink.deliver(turn("t-slow", 1)[0] as Reply);
      await sink.flush();
      // Retry-After 0 replaced the 60 s backoff; the second attempt ended at its 200 ms deadline.
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(sink.stats()).toMatchObject({ delivered: 0, failures: 1, retries: 1, givenUp: 1 });
    } finally {
      await sink.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("webhook: request events", () => {
  it("go to the same URL in the turn's order, told apart by `type`, with their own Idempotency-Key; a refused one does not stop the replies", async () => {
    const { createServer } = await import("node:http");
    const bodies: { key: string; body: Record<string, unknown> }[] = [];
    const server = createServer((req, res) => {
      let text = "";
      req.on("data", (c: Buffer) => (text += c.toString()));
      req.on("end", () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        bodies.push({ key: String(req.headers["idempotency-key"]), body });
        // The first request_resolved is refused for good: it must not take the replies with it.
        res.writeHead(body.type === "request_resolved" ? 400 : 200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const sink = new WebhookSink({ url: `http://127.0.0.1:${port}/hook`, maxAttempts: 1, logger: pino({ enabled: false }) });
    try {
      const replies = turn("t-req", 3);
      const request = {
        kind: "permission" as const, request_id: "per_1", trace_id: "t-req", session_id: "ses_t-req",
        permission: "bash", patterns: ["ls"], always: [], metadata: {},
      };
      await sink.deliver(replies[0] as Reply);
      await sink.deliver({ type: "request", trace_id: "t-req", session_id: "ses_t-req", request });
      await sink.deliver({ type: "request_resolved", trace_id: "t-req", session_id: "ses_t-req", request_id: "per_1", request_kind: "permission", by: "host", answer: { reply: "once" } });
      await sink.deliver(replies[1] as Reply);
      await sink.deliver(replies[2] as Reply);
      await sink.flush();
      expect(bodies.map((b) => b.body.type ?? b.body.kind)).toEqual(["delta", "request", "request_resolved", "delta", "final"]);
      expect(bodies[1]?.key).toMatch(/^t-req:request:per_1:/);
      expect(sink.stats()).toMatchObject({ delivered: 3, failures: 0 });
    } finally {
      await sink.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
