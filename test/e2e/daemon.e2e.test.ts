/**
 * `opencode-bridge serve` as a user runs it: the built CLI in a child process,
 * in front of a real `opencode serve` (with a password) and the scripted model,
 * delivering to a recorder that fails deliveries on purpose.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpencodeHttp } from "../../src/adapter/http.js";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { BearerAuth, isLoopbackHost } from "../../src/daemon/auth.js";
import { TurnStore, type TurnSubscriber } from "../../src/daemon/turns.js";
import { flakyPlan, startRecorder, type Recorder } from "../support/recorder.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { callDaemon, startDaemon, tempStateDir, type Daemon } from "./daemon-process.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const call = (d: Daemon, method: string, path: string, body?: unknown, headers: Record<string, string> = auth) => callDaemon(d, method, path, body, headers);
const TOKEN = "e2e-bridge-token-5b0f6a1c9d";
const OPENCODE_PASSWORD = "e2e-opencode-password-77c2";
const auth = { authorization: `Bearer ${TOKEN}` };

interface Done {
  trace_id: string;
  session_id: string;
  outcome: string;
  replies: number;
}

/** Reads a turn's event stream to its end. */
async function events(
  d: Daemon,
  traceId: string,
  opts: { lastEventId?: number; onReply?: (all: Reply[]) => void } = {},
): Promise<{ replies: Reply[]; ids: string[]; names: string[]; done: Done | undefined }> {
  const res = await fetch(`${d.url}/v1/turns/${encodeURIComponent(traceId)}/events`, {
    headers: { ...auth, ...(opts.lastEventId === undefined ? {} : { "last-event-id": String(opts.lastEventId) }) },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const replies: Reply[] = [];
  const ids: string[] = [];
  const names: string[] = [];
  let done: Done | undefined;
  const parser = createParser({
    onEvent: (e) => {
      names.push(e.event ?? "message");
      if (e.event === "reply") {
        replies.push(JSON.parse(e.data) as Reply);
        ids.push(e.id ?? "");
        opts.onReply?.(replies);
      } else if (e.event === "done") {
        done = JSON.parse(e.data) as Done;
      }
    },
  });
  const decoder = new TextDecoder();
  if (!res.body) throw new Error("no body");
  for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
  return { replies, ids, names, done };
}

async function startTurn(d: Daemon, body: Record<string, unknown>): Promise<{ trace_id: string; session_id: string }> {
  const r = await call(d, "POST", "/v1/turns", body);
  expect(r.status, r.text).toBe(202);
  return r.json as { trace_id: string; session_id: string };
}

/** Sample values of a metric family (label set → value). */
function metric(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? "", Number(m[3]));
  }
  return out;
}

describe("opencode-bridge serve", () => {
  let live: Live;
  let recorder: Recorder;
  let daemon: Daemon;
  let http: OpencodeHttp;
  const env = () => ({ BRIDGE_TOKEN: TOKEN, OPENCODE_SERVER_PASSWORD: OPENCODE_PASSWORD });
  const baseArgs = () => ["--opencode-url", live.url, "--directory", live.directory, "--webhook", recorder.url, "--webhook-backoff", "0.01"];

  beforeAll(async () => {
    live = await startLive({ permission: "allow", password: OPENCODE_PASSWORD });
    recorder = await startRecorder(flakyPlan);
    http = new OpencodeHttp({ baseUrl: live.url, directory: live.directory, password: OPENCODE_PASSWORD, requestTimeoutMs: 5_000 });
    daemon = await startDaemon(baseArgs(), env());
  });
  afterAll(async () => {
    daemon?.child.kill("SIGKILL");
    await recorder?.close();
    await live?.stop();
  });

  it("/healthz answers without a token; every other route wants the token and reveals nothing without it", async () => {
    const health = await call(daemon, "GET", "/healthz", undefined, {});
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({
      status: "ok",
      bridge: { draining: false },
      opencode: { mode: "external", healthy: true, version: live.server.version, supported: true },
    });

    const sessionsBefore = ((await http.call("GET", "/session")).body as unknown[]).length;
    const attemptsBefore = recorder.attempts.length;
    const routes: [string, string, unknown][] = [
      ["POST", "/v1/turns", { text: scenario("text") }],
      ["GET", "/v1/turns/anything/events", undefined],
      ["POST", "/v1/turns/anything/abort", undefined],
      ["GET", "/metrics", undefined],
      ["GET", "/no/such/route", undefined],
      ["DELETE", "/v1/turns", undefined],
    ];
    const headerSets: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong-token-wrong-token" },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${Buffer.from(`opencode:${TOKEN}`).toString("base64")}` },
      { authorization: TOKEN },
    ];
    for (const [method, path, body] of routes) {
      for (const headers of headerSets) {
        const r = await call(daemon, method, path, body, headers);
        expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
        expect(Object.keys(r.json ?? {}).sort()).toEqual(["details", "error"]);
        expect(r.json?.error).toBe("missing or wrong bearer token");
      }
    }
    // Nothing happened: no session was created and nothing was delivered.
    expect(((await http.call("GET", "/session")).body as unknown[]).length).toBe(sessionsBefore);
    expect(recorder.attempts.length).toBe(attemptsBefore);
  });

  it("bad requests get 400 with the reason; unknown routes 404; wrong methods 405", async () => {
    const notJson = await call(daemon, "POST", "/v1/turns", "{text: hi");
    expect(notJson.status).toBe(400);
    expect(notJson.json?.error).toBe("the body is not valid JSON");

    const cases: [unknown, string, RegExp][] = [
      [{}, "text", /expected string, received undefined/],
      [{ text: 42 }, "text", /expected string, received number/],
      [{ text: "   " }, "text", /text must not be empty/],
      [{ text: "hi", sessionId: "ses_x" }, "(body)", /Unrecognized key: "sessionId"/],
      [{ text: "hi", directory: "relative/dir" }, "directory", /absolute path/],
      [{ text: "hi", model: "no-slash" }, "model", /provider\/model/],
      [{ text: "hi", trace_id: "has spaces" }, "trace_id", /letters, digits/],
      [[1, 2], "(body)", /expected object, received array/],
    ];
    for (const [body, path, message] of cases) {
      const r = await call(daemon, "POST", "/v1/turns", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(String(r.json?.error)).toMatch(/^invalid turn request: /);
      expect(r.json?.details).toEqual(expect.arrayContaining([{ path, message: expect.stringMatching(message) }]));
    }
    const noDir = await call(daemon, "POST", "/v1/turns", { text: "hi", directory: "/no/such/dir/here" });
    expect(noDir.status).toBe(400);
    expect(noDir.json?.error).toMatch(/does not exist/);
    const noSession = await call(daemon, "POST", "/v1/turns", { text: "hi", session_id: "ses_doesnotexist000" });
    expect(noSession.status).toBe(404);
    expect(noSession.json?.error).toMatch(/no session ses_doesnotexist000/);

    const wrongMethod = await call(daemon, "DELETE", "/v1/turns");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST, GET");
    expect((await call(daemon, "POST", "/healthz", undefined, {})).status).toBe(405);
    expect((await call(daemon, "GET", "/v1/nothing")).status).toBe(404);
    expect((await call(daemon, "GET", "/v1/turns/never-started/events")).status).toBe(404);
    expect((await call(daemon, "POST", "/v1/turns/never-started/abort")).status).toBe(404);
  });

  it("concurrent turns on different sessions stay apart; the flaky recorder gets every reply, in order, deduplicable", async () => {
    const [a, b] = await Promise.all([
      startTurn(daemon, { text: scenario("tool"), trace_id: "e2e-a" }),
      startTurn(daemon, { text: scenario("two-tools"), trace_id: "e2e-b" }),
    ]);
    expect(a.trace_id).toBe("e2e-a");
    expect(a.session_id).toMatch(/^ses_/);
    expect(b.session_id).not.toBe(a.session_id);
    // Two more on a's session at once: they are serialized on it.
    const [c, d] = await Promise.all([
      startTurn(daemon, { text: scenario("text"), trace_id: "e2e-c", session_id: a.session_id }),
      startTurn(daemon, { text: scenario("reasoning"), trace_id: "e2e-d", session_id: a.session_id }),
    ]);
    expect(c.session_id).toBe(a.session_id);
    expect(d.session_id).toBe(a.session_id);
    const duplicate = await call(daemon, "POST", "/v1/turns", { text: "again", trace_id: "e2e-a" });
    expect(duplicate.status).toBe(409);

    const turns = await Promise.all(["e2e-a", "e2e-b", "e2e-c", "e2e-d"].map((t) => events(daemon, t)));
    const sessionOf: Record<string, string> = { "e2e-a": a.session_id, "e2e-b": b.session_id, "e2e-c": a.session_id, "e2e-d": a.session_id };
    for (const t of turns) {
      const traceId = t.done?.trace_id ?? "";
      expect(contractViolations(t.replies)).toEqual([]);
      expect(t.replies.every((r) => r.trace_id === traceId && r.session_id === sessionOf[traceId])).toBe(true);
      expect(t.ids).toEqual(t.replies.map((r) => String(r.seq)));
      expect(t.done).toEqual({ trace_id: traceId, session_id: sessionOf[traceId], outcome: "final", replies: t.replies.length });
      expect(t.names[t.names.length - 1]).toBe("done");
    }
    const [ta, tb] = turns;
    expect(ta?.replies.filter((r) => r.kind === "tool_call")).toHaveLength(1);
    expect(tb?.replies.filter((r) => r.kind === "tool_call")).toHaveLength(2);
    expect(turns[3]?.replies.some((r) => r.kind === "reasoning")).toBe(true);

    // The recorder, deduplicating by Idempotency-Key, holds exactly what the subscribers saw.
    for (const t of turns) {
      const traceId = t.done?.trace_id ?? "";
      await recorder.waitFor(() => recorder.replies(traceId).length >= t.replies.length, 20_000, `${traceId} at the recorder`);
      expect(recorder.replies(traceId)).toEqual(t.replies);
    }
    expect(recorder.malformed).toEqual([]);
    expect(recorder.attempts.some((x) => x.action === "drop")).toBe(true);
    expect(recorder.attempts.some((x) => x.duplicate)).toBe(true);
  });

  it("a subscriber that joins mid-turn gets the whole turn from seq 0, then done; Last-Event-ID resumes", async () => {
    const turn = await startTurn(daemon, { text: scenario("slow"), trace_id: "e2e-slow" });
    let late: Promise<Awaited<ReturnType<typeof events>>> | undefined;
    let joinedAt = 0;
    const early = await events(daemon, turn.trace_id, {
      onReply: (all) => {
        if (late === undefined && all.length >= 10) {
          joinedAt = all.length;
          late = events(daemon, turn.trace_id);
        }
      },
    });
    expect(late).toBeDefined();
    const lateResult = await (late as Promise<Awaited<ReturnType<typeof events>>>);
    expect(joinedAt).toBeGreaterThanOrEqual(10);
    expect(early.replies.length).toBeGreaterThan(joinedAt);
    expect(lateResult.replies[0]?.seq).toBe(0);
    expect(lateResult.replies).toEqual(early.replies);
    expect(lateResult.done).toEqual(early.done);
    expect(early.done?.outcome).toBe("final");
    expect(contractViolations(early.replies)).toEqual([]);

    // After the end: replayed at once, then done.
    const after = await events(daemon, turn.trace_id);
    expect(after.replies).toEqual(early.replies);
    const resumed = await events(daemon, turn.trace_id, { lastEventId: 5 });
    expect(resumed.replies).toEqual(early.replies.slice(6));
    expect(resumed.done?.outcome).toBe("final");
  });

  it("POST /v1/turns/:trace_id/abort aborts a running turn", async () => {
    const turn = await startTurn(daemon, { text: scenario("stall"), trace_id: "e2e-abort" });
    let aborted: Promise<Awaited<ReturnType<typeof call>>> | undefined;
    const seen = await events(daemon, turn.trace_id, {
      onReply: (all) => {
        if (aborted === undefined && all.length >= 1) aborted = call(daemon, "POST", `/v1/turns/${turn.trace_id}/abort`);
      },
    });
    const r = await (aborted as Promise<Awaited<ReturnType<typeof call>>>);
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ trace_id: "e2e-abort", status: "aborting" });
    expect(seen.replies[seen.replies.length - 1]).toMatchObject({ kind: "error", code: "aborted" });
    expect(seen.done?.outcome).toBe("aborted");
    expect(contractViolations(seen.replies)).toEqual([]);
    expect((await call(daemon, "POST", `/v1/turns/${turn.trace_id}/abort`)).status).toBe(409);
  });

  it("/metrics: turns by outcome, replies by kind, sink retries and failures, time to first delta", async () => {
    const r = await call(daemon, "GET", "/metrics");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const turns = metric(r.text, "opencode_bridge_turns_total");
    expect(turns.get('{outcome="final"}')).toBeGreaterThanOrEqual(5);
    expect(turns.get('{outcome="aborted"}')).toBe(1);
    const replies = metric(r.text, "opencode_bridge_replies_total");
    for (const kind of ["delta", "reasoning", "tool_call", "tool_result", "final", "error"]) {
      expect(replies.has(`{kind="${kind}"}`), kind).toBe(true);
    }
    expect(replies.get('{kind="tool_call"}')).toBeGreaterThanOrEqual(3);
    expect(metric(r.text, "opencode_bridge_sink_retries_total").get('{sink="webhook"}')).toBeGreaterThan(0);
    expect(metric(r.text, "opencode_bridge_sink_failures_total").get('{sink="webhook"}')).toBe(0);
    expect(metric(r.text, "opencode_bridge_sink_delivered_total").get('{sink="webhook"}')).toBeGreaterThan(0);
    expect(metric(r.text, "opencode_bridge_time_to_first_delta_seconds_count").get("")).toBeGreaterThanOrEqual(5);
    expect(metric(r.text, "opencode_bridge_time_to_first_delta_seconds_bucket").get('{le="+Inf"}')).toBeGreaterThanOrEqual(5);
    expect(metric(r.text, "opencode_bridge_turns_in_flight").get("")).toBe(0);
    expect(metric(r.text, "opencode_bridge_opencode_up").get("")).toBe(1);
    expect(r.text).toContain("# TYPE opencode_bridge_time_to_first_delta_seconds histogram");
    // Neither secret shows in the daemon's logs.
    expect(daemon.stderr()).not.toContain(TOKEN);
    expect(daemon.stderr()).not.toContain(OPENCODE_PASSWORD);
  });

  it("SIGTERM: new turns get 503, a running turn finishes, one past the grace is aborted, outputs are flushed, exit 0", async () => {
    const d = await startDaemon([...baseArgs(), "--shutdown-grace", "8"], env());
    try {
      const streaming = await startTurn(d, { text: scenario("slow"), trace_id: "term-slow" });
      const stuck = await startTurn(d, { text: scenario("stall"), trace_id: "term-stall" });
      // SIGTERM once both turns are under way: one still streaming, one stalled.
      let seen = { streaming: 0, stuck: 0 };
      let repliesAtSignal = -1;
      const maybeSignal = () => {
        if (repliesAtSignal >= 0 || seen.streaming === 0 || seen.stuck === 0) return;
        repliesAtSignal = seen.streaming;
        d.child.kill("SIGTERM");
      };
      const streamingEvents = events(d, streaming.trace_id, {
        onReply: (all) => {
          seen = { ...seen, streaming: all.length };
          maybeSignal();
        },
      });
      const stuckEvents = events(d, stuck.trace_id, {
        onReply: (all) => {
          seen = { ...seen, stuck: all.length };
          maybeSignal();
        },
      });
      await d.waitForLog(/"msg":"shutting down"/);
      const refused = await call(d, "POST", "/v1/turns", { text: scenario("text") });
      expect(refused.status).toBe(503);
      expect(refused.json?.error).toMatch(/shutting down/);
      const health = await call(d, "GET", "/healthz", undefined, {});
      expect(health.json).toMatchObject({ status: "draining" });

      const [q, s] = await Promise.all([streamingEvents, stuckEvents]);
      // It went on streaming during the drain, and finished.
      expect(q.replies.length).toBeGreaterThan(repliesAtSignal);
      expect(q.done?.outcome).toBe("final");
      expect(s.done?.outcome).toBe("aborted");
      expect(contractViolations(s.replies)).toEqual([]);
      expect(await d.exited).toBe(0);
      // Flushed before exit: the recorder has both turns complete.
      expect(recorder.replies("term-slow")).toEqual(q.replies);
      expect(recorder.replies("term-stall")).toEqual(s.replies);
      expect(d.stderr()).toMatch(/"msg":"stopped"/);
      expect(d.stderr()).not.toContain(TOKEN);
    } finally {
      d.child.kill("SIGKILL");
    }
  });

  it("refuses to listen beyond loopback without a token (exit 2)", async () => {
    const child = spawn(process.execPath, [CLI, "serve", "--host", "0.0.0.0", "--opencode-url", "http://127.0.0.1:9"], {
      env: { ...process.env, BRIDGE_TOKEN: "", XDG_STATE_HOME: tempStateDir() },
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain("a token is required to listen beyond loopback");
  });
});

describe("daemon parts", () => {
  const reply = (traceId: string, seq: number, content: string, kind: "delta" | "final" = "delta"): Reply =>
    kind === "delta"
      ? { kind, trace_id: traceId, session_id: "ses_1", seq, content, part_id: "prt_1" }
      : { kind, trace_id: traceId, session_id: "ses_1", seq, content };

  /** A subscriber that writes down what it is told. */
  const subscriber = () => {
    const got: string[] = [];
    const sub: TurnSubscriber = {
      reply: (r) => got.push(`reply ${r.seq}`),
      truncated: (from, to) => got.push(`truncated ${from}-${to}`),
      done: (t) => got.push(`done ${t.outcome}`),
    };
    return { sub, got };
  };

  it("TurnStore keeps replies up to the byte bound, always keeps the terminal reply, and tells late subscribers what is missing", () => {
    const store = new TurnStore({ maxTurns: 10, maxReplyBytesPerTurn: 400 });
    const t = store.create("tr", "ses_1", "/", 0);
    const live = subscriber();
    store.subscribe(t, live.sub);
    for (let seq = 0; seq < 6; seq++) store.add(reply("tr", seq, "x".repeat(60)));
    // About 150 bytes each: two are kept, the rest only reach live subscribers.
    expect(t.kept.map((r) => r.seq)).toEqual([0, 1]);
    const midway = subscriber();
    store.subscribe(t, midway.sub);
    expect(midway.got).toEqual(["reply 0", "reply 1", "truncated 2-5"]);
    store.add(reply("tr", 6, "x".repeat(60)));
    store.add(reply("tr", 7, "x".repeat(360), "final"));
    store.finish(t, "final");
    expect(live.got).toEqual(["reply 0", "reply 1", "reply 2", "reply 3", "reply 4", "reply 5", "reply 6", "reply 7", "done final"]);
    expect(midway.got.slice(3)).toEqual(["reply 6", "reply 7", "done final"]);
    const late = subscriber();
    store.subscribe(t, late.sub);
    expect(late.got).toEqual(["reply 0", "reply 1", "truncated 2-6", "reply 7", "done final"]);
    const resumed = subscriber();
    store.subscribe(t, resumed.sub, 1);
    expect(resumed.got).toEqual(["reply 1", "truncated 2-6", "reply 7", "done final"]);
  });

  it("TurnStore forgets the turns that finished longest ago beyond maxTurns, never a running one", () => {
    const store = new TurnStore({ maxTurns: 2, maxReplyBytesPerTurn: 10_000 });
    const running = store.create("running", "ses_1", "/", 0);
    const ts = ["a", "b", "c"].map((id) => store.create(id, "ses_1", "/", 0));
    for (const t of ts) store.finish(t, "final");
    expect(store.has("a")).toBe(false);
    expect(store.has("b") && store.has("c") && store.has("running")).toBe(true);
    // The turn that finished longest ago goes, not the one accepted first.
    store.finish(running, "aborted");
    expect(store.has("running")).toBe(true);
    expect(store.has("b")).toBe(false);
    expect(store.size).toBe(2);
  });

  it("BearerAuth accepts exactly the token; loopback hosts are recognized", () => {
    const a = new BearerAuth("a-token-of-some-length");
    expect(a.accepts("Bearer a-token-of-some-length")).toBe(true);
    expect(a.accepts("bearer a-token-of-some-length")).toBe(true);
    expect(a.accepts("Bearer a-token-of-some-lengthX")).toBe(false);
    expect(a.accepts("a-token-of-some-length")).toBe(false);
    expect(a.accepts(undefined)).toBe(false);
    expect(a.accepts("Bearer ")).toBe(false);
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "192.168.1.2", "example.com", "128.0.0.1"]) expect(isLoopbackHost(h), h).toBe(false);
  });
});
