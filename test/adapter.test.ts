/**
 * The adapter's state machine, with an injected clock and dispatcher:
 * - a loopback stand-in that replays real captured turns (test/support/replay-server.ts);
 * - undici's MockAgent for request/response failures (MockAgent delivers a body
 *   in one piece, so it cannot stand in for a live event stream).
 */
import pino from "pino";
import { MockAgent } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { OpencodeAdapter } from "../src/adapter/adapter.js";
import { parseAdapterConfig } from "../src/adapter/config.js";
import { BridgeError } from "../src/adapter/errors.js";
import { contractViolations, type Reply } from "../src/codec/reply.js";
import { MemorySink } from "../src/sink/memory.js";
import {
  fixtureNamed,
  framesOf,
  ManualClock,
  scriptedTurnOf,
  startReplayServer,
  type ReplayServer,
  type ScriptedTurn,
} from "./support/replay-server.js";

const fx = fixtureNamed;
const turnOf = scriptedTurnOf;

let servers: ReplayServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
async function replayServer(turns: ScriptedTurn[], opts?: Parameters<typeof startReplayServer>[1]) {
  const s = await startReplayServer(turns, opts);
  servers.push(s);
  return s;
}
const DIR = "/tmp/project-under-test";

const FAST_RECONNECT = { initialDelayMs: 5, maxDelayMs: 20, growFactor: 2, maxAttempts: 5 };

/**
 * A replayed turn whose stream will drop after `deltas` deltas. The server's record
 * of the session is the fixture's; `extra` shapes the rest (status, frames after the
 * reconnect). Returns the running prompt once those deltas have been delivered.
 */
/** The adapter's log lines, captured through an injected destination: tests wait on what it says it did. */
function captureLogs() {
  const messages: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, said: (msg: string) => messages.filter((m) => m === msg).length };
}

async function turnWithGap(name: string, deltas: number, extra: (t: ScriptedTurn, firstDelta: number) => Partial<ScriptedTurn>) {
  const f = fx(name);
  const t = turnOf(name);
  const firstDelta = t.frames.findIndex((x) => x.includes('"type":"message.part.delta"'));
  const srv = await replayServer([
    { ...t, holdAfter: firstDelta + deltas, record: f.record[t.sessionId] ?? [], status: "busy", ...extra(t, firstDelta) },
  ]);
  const sink = new MemorySink();
  const logs = captureLogs();
  const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, reconnect: FAST_RECONNECT, logger: logs.logger }, sink);
  const pending = adapter.prompt("go", { traceId: `trace-${f.scenario}` });
  await vi.waitFor(() => expect(sink.replies.filter((r) => r.kind === "delta").length).toBe(deltas));
  const last = f.golden[f.golden.length - 1];
  return { t, srv, sink, adapter, pending, logs, goldenText: last?.kind === "final" ? last.content : "" };
}

describe("adapter over a replayed real turn", () => {
  it("delivers exactly the replies the codec gives for the captured stream", async () => {
    const srv = await replayServer([turnOf("1.18.33/tool")]);
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR }, sink);
    const result = await adapter.prompt("run the tool", { traceId: "trace-tool" });
    expect(sink.replies).toEqual(fx("1.18.33/tool").golden);
    expect(result).toMatchObject({ status: "final", replies: sink.replies.length, sinkFailures: 0 });
    // Subscribed and connected before the prompt; the directory on every call.
    const paths = srv.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths.indexOf("GET /event")).toBeLessThan(paths.indexOf(`POST /session/${result.sessionId}/prompt_async`));
    expect(JSON.parse(srv.requests.find((r) => r.path.endsWith("prompt_async"))?.body ?? "{}")).toEqual({
      // Issue 13: the turn's own user message id, in OpenCode's ascending format.
      messageID: expect.stringMatching(/^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/),
      parts: [{ type: "text", text: "run the tool" }],
    });
    await adapter.close();
  });

  it("concurrent prompt() calls on one adapter queue: the second starts after the first ended", async () => {
    const srv = await replayServer([turnOf("1.18.33/long"), turnOf("1.15.13/two-tools")]);
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR }, sink);
    const [a, b] = await Promise.all([
      adapter.prompt("first", { traceId: "trace-long" }),
      adapter.prompt("second", { traceId: "trace-two-tools" }),
    ]);
    expect(a.status).toBe("final");
    expect(b.status).toBe("final");
    expect(sink.turn("trace-long")).toEqual(fx("1.18.33/long").golden);
    expect(sink.turn("trace-two-tools")).toEqual(fx("1.15.13/two-tools").golden);
    const lastOfA = sink.replies.findIndex((r) => r.trace_id === "trace-long" && r.kind === "final");
    const firstOfB = sink.replies.findIndex((r) => r.trace_id === "trace-two-tools");
    expect(lastOfA).toBeLessThan(firstOfB);
    const prompts = srv.requests.filter((r) => r.path.endsWith("prompt_async")).map((r) => JSON.parse(r.body).parts[0].text);
    expect(prompts).toEqual(["first", "second"]);
    expect(srv.requests.filter((r) => r.path === "/event")).toHaveLength(1); // one shared subscription
    await adapter.close();
  });

  it("a drop mid-turn, the turn finishing during the gap: repaired from the record, ends with its true final", async () => {
    const { t, srv, sink, adapter, pending, goldenText } = await turnWithGap("1.18.33/tool", 2, () => ({}));
    srv.update(t.sessionId, { status: "idle" }); // the turn finishes while the stream is down
    srv.dropStreams();
    const result = await pending;
    expect(contractViolations(sink.replies)).toEqual([]);
    expect(result.status).toBe("final");
    expect(result.final?.content).toBe(goldenText);
    expect(sink.replies.filter((r) => r.kind === "tool_call")).toHaveLength(1);
    expect(sink.replies.filter((r) => r.kind === "tool_result")).toMatchObject([{ status: "completed", output: "bridge-tool-ok\n" }]);
    expect(adapter.streamStats.reconnects).toBeGreaterThanOrEqual(1);
    await adapter.close();
  });

  it("a drop mid-turn, the turn going on after the reconnect: nothing twice, nothing missing", async () => {
    // The stream drops after 100 deltas; the server's record (taken at the reconnect) already
    // has all 1,200 words, and the live stream then replays deltas the record includes.
    const { t, srv, sink, adapter, pending, logs, goldenText } = await turnWithGap("1.18.33/long", 100, () => ({}));
    srv.dropStreams();
    await vi.waitFor(() => expect(srv.streams.size).toBe(1)); // reconnected
    await vi.waitFor(() => expect(srv.requests.filter((r) => r.path.endsWith("/message")).length).toBe(1));
    await vi.waitFor(() => expect(logs.said("repaired after a gap")).toBe(1)); // the record is applied
    srv.release(t.sessionId);
    const result = await pending;
    expect(contractViolations(sink.replies)).toEqual([]);
    expect(result.final?.content).toBe(goldenText);
    await adapter.close();
  });

  it("events right behind server.connected on a reconnection wait for the repair (no hole, no duplicate)", async () => {
    // Deltas 100–149 are lost in the gap; 150 onwards arrive in the reconnection's first chunk.
    const { srv, sink, adapter, pending, goldenText } = await turnWithGap("1.18.33/long", 100, (t, first) => ({
      afterReconnect: t.frames.slice(first + 150),
    }));
    srv.dropStreams();
    const result = await pending;
    expect(contractViolations(sink.replies)).toEqual([]);
    expect(result.final?.content).toBe(goldenText);
    await adapter.close();
  });

  it("a gap right after the prompt, the session not yet busy: the turn is not ended empty", async () => {
    const f = fx("1.18.33/text");
    const t = turnOf("1.18.33/text");
    const afterUser = t.frames.findIndex((x) => x.includes('"role":"user"')) + 2;
    const userOnly = (f.record[t.sessionId] ?? []).filter((m) => m.info.role === "user");
    // The record has only the prompt and the status says idle: the run has not started yet.
    const srv = await replayServer([{ ...t, holdAfter: afterUser, record: userOnly }]);
    const sink = new MemorySink();
    const logs = captureLogs();
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, reconnect: FAST_RECONNECT, logger: logs.logger }, sink);
    const pending = adapter.prompt("go", { traceId: "trace-text" });
    await vi.waitFor(() => expect(srv.requests.some((r) => r.path.endsWith("prompt_async"))).toBe(true));
    // The frames up to the prompt (after the stream's own server.connected) have reached the hub.
    await vi.waitFor(() => expect(adapter.streamStats.events).toBe(1 + afterUser));
    srv.dropStreams();
    await vi.waitFor(() => expect(srv.requests.filter((r) => r.path.endsWith("/message")).length).toBe(1));
    await vi.waitFor(() => expect(logs.said("repaired after a gap")).toBe(1)); // repaired; a recheck is scheduled
    srv.release(t.sessionId); // the run starts and streams after all
    srv.update(t.sessionId, { record: f.record[t.sessionId] ?? [] }); // and the server records it
    const result = await pending;
    expect(contractViolations(sink.replies)).toEqual([]);
    const last = f.golden[f.golden.length - 1];
    expect(result.final?.content).toBe(last?.kind === "final" ? last.content : "");
    await adapter.close();
  });

  it("a turn that starts while the stream reconnects waits for it: one connection, nothing delivered twice", async () => {
    const f = fx("1.18.33/long");
    const t = turnOf("1.18.33/long");
    const firstDelta = t.frames.findIndex((x) => x.includes('"type":"message.part.delta"'));
    const srv = await replayServer([
      { ...t, holdAfter: firstDelta + 100, record: f.record[t.sessionId] ?? [], status: "busy" },
      turnOf("1.18.33/text"),
    ], { reconnectDelayMs: 400 });
    // The reconnection attempt starts 300 ms after the drop and takes 400 ms to be answered:
    // a turn opening the stream before that must wait for it, not start a second connection.
    const slowReconnect = { initialDelayMs: 300, maxDelayMs: 300, growFactor: 1, maxAttempts: 5 };
    const sinkA = new MemorySink();
    const sinkB = new MemorySink();
    const a = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, reconnect: slowReconnect }, sinkA);
    const b = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, reconnect: slowReconnect }, sinkB);
    const pendingA = a.prompt("long", { traceId: "trace-long" });
    await vi.waitFor(() => expect(sinkA.replies.filter((r) => r.kind === "delta").length).toBe(100));
    srv.dropStreams();
    await vi.waitFor(() => expect(a.streamStats.drops).toBe(1), { interval: 5 });
    const pendingB = b.prompt("text", { traceId: "trace-text" }); // opens the stream while it reconnects
    await vi.waitFor(() => expect(srv.requests.filter((r) => r.path.endsWith("/message")).length).toBeGreaterThanOrEqual(1));
    srv.release(t.sessionId);
    const [ra, rb] = await Promise.all([pendingA, pendingB]);
    expect(srv.requests.filter((r) => r.path === "/event")).toHaveLength(2); // the first, and one reconnection
    expect(contractViolations(sinkA.replies)).toEqual([]);
    expect(contractViolations(sinkB.replies)).toEqual([]);
    const lastA = f.golden[f.golden.length - 1];
    expect(ra.final?.content).toBe(lastA?.kind === "final" ? lastA.content : "");
    expect(sinkB.replies).toEqual(fx("1.18.33/text").golden);
    expect(rb.status).toBe("final");
    await a.close();
    await b.close();
  });

  it("a frame over the cap (a long answer's final text) is recovered from the record, not a protocol error", async () => {
    const f = fx("1.18.33/long");
    const t = turnOf("1.18.33/long");
    const bigFrames = t.frames.filter((x) => x.length > 4096);
    expect(bigFrames.length).toBeGreaterThan(0); // the part's full text, and the session record updates
    const srv = await replayServer([{ ...t, record: f.record[t.sessionId] ?? [], status: "busy" }]);
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, maxFrameBytes: 4096 }, sink);
    const result = await adapter.prompt("long", { traceId: "trace-long" });
    expect(contractViolations(sink.replies)).toEqual([]);
    const last = f.golden[f.golden.length - 1];
    expect(result.status).toBe("final");
    expect(result.final?.content).toBe(last?.kind === "final" ? last.content : "");
    expect(srv.requests.some((r) => r.path.endsWith("/message"))).toBe(true);
    await adapter.close();
  });

  it("an idle with the failed message never completed: the turn settles after settleTimeoutMs", async () => {
    const t = turnOf("1.18.33/abort");
    const errAt = t.frames.findIndex((x) => x.includes('"type":"session.error"'));
    const idleAt = t.frames.findIndex((x, i) => i > errAt && x.includes('"type":"session.idle"'));
    // The server stops right after its idle: the aborted message is never completed.
    const srv = await replayServer([{ ...t, holdAfter: idleAt + 1 }]);
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, settleTimeoutMs: 100 }, sink);
    const result = await adapter.prompt("slow", { traceId: "trace-abort" });
    expect(result.error).toMatchObject({ code: "aborted" });
    expect(result.error?.error).toContain("MessageAbortedError");
    expect(contractViolations(sink.replies)).toEqual([]);
    expect(srv.requests.some((r) => r.path.endsWith("/abort"))).toBe(false); // nothing to abort: the server ended it
    await adapter.close();
  });

  it("a stream that cannot come back ends the turn with error transport, keeping what streamed", async () => {
    const text = turnOf("1.18.33/text");
    const firstDelta = text.frames.findIndex((f) => f.includes('"type":"message.part.delta"'));
    const srv = await replayServer([{ ...text, holdAfter: firstDelta + 3 }]);
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter(
      { baseUrl: srv.url, directory: DIR, reconnect: { initialDelayMs: 5, maxDelayMs: 10, growFactor: 2, maxAttempts: 2 } },
      sink,
    );
    const pending = adapter.prompt("hi", { traceId: "t" });
    await vi.waitFor(() => expect(sink.replies.some((r) => r.kind === "delta")).toBe(true));
    await srv.close(); // the server is gone: reconnects are refused
    servers = servers.filter((x) => x !== srv);
    const result = await pending;
    expect(result.error).toMatchObject({ code: "transport" });
    expect(result.error?.error).toMatch(/could not reconnect after 2 attempts/);
    expect(sink.replies.filter((r) => r.kind === "delta").length).toBe(3);
    expect(contractViolations(sink.replies)).toEqual([]);
    await adapter.close();
  });

  it("a sink that throws is counted and logged; the turn and the transport carry on", async () => {
    const srv = await replayServer([turnOf("1.18.33/text")]);
    const seen: Reply[] = [];
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR }, async (r) => {
      seen.push(r);
      if (r.seq % 2 === 0) throw new Error("recorder down");
    });
    const result = await adapter.prompt("hi", { traceId: "trace-text" });
    expect(result.status).toBe("final");
    expect(seen).toEqual(fx("1.18.33/text").golden);
    expect(result.sinkFailures).toBe(Math.ceil(seen.length / 2));
    await adapter.close();
  });
});

describe("a slow or stuck sink", () => {
  it("bounds the queue by coalescing text of one part; nothing is lost and seq stays gapless", async () => {
    const srv = await replayServer([turnOf("1.18.33/long")]);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const got: Reply[] = [];
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, maxQueuedReplies: 10 }, async (r) => {
      await gate;
      got.push(r);
    });
    const pending = adapter.prompt("long", { traceId: "t" });
    // The whole turn (after the stream's own server.connected) reaches the hub while the sink is blocked.
    await vi.waitFor(() => expect(adapter.streamStats.events).toBe(1 + turnOf("1.18.33/long").frames.length));
    open();
    const result = await pending;
    expect(contractViolations(got)).toEqual([]);
    const golden = fx("1.18.33/long").golden;
    const final = golden[golden.length - 1];
    expect(result.final?.content).toBe(final?.kind === "final" ? final.content : "");
    expect(got.length).toBeLessThan(golden.length);
    expect(got.length).toBe(result.replies);
    await adapter.close();
  });

  it("a sink call that never settles is timed out and counted; the turn still ends", async () => {
    const srv = await replayServer([turnOf("1.18.33/text")]);
    let calls = 0;
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, sinkTimeoutMs: 30 }, (r) => {
      calls++;
      return r.seq === 0 ? new Promise<void>(() => {}) : undefined;
    });
    const result = await adapter.prompt("hi", { traceId: "trace-text" });
    expect(result.status).toBe("final");
    expect(result.sinkFailures).toBe(1);
    expect(calls).toBe(fx("1.18.33/text").golden.length);
    await adapter.close();
  });
});

describe("liveness with an injected clock", () => {
  it("first-event timeout: aborts the session, waits to settle, ends with timeout", async () => {
    const clock = new ManualClock();
    const srv = await replayServer([turnOf("1.18.33/text", { holdAfter: 0 })]);
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter(
      { baseUrl: srv.url, directory: DIR, clock, firstEventTimeoutMs: 1_000, settleTimeoutMs: 500, watchdogMs: 10_000_000 },
      sink,
    );
    const pending = adapter.prompt("hi");
    await vi.waitFor(() => expect(clock.hasTimerIn(1_000)).toBe(true)); // the first-event timer is armed
    clock.advance(999);
    expect(srv.requests.some((r) => r.path.endsWith("/abort"))).toBe(false);
    clock.advance(1);
    await vi.waitFor(() => expect(srv.requests.some((r) => r.path.endsWith("/abort"))).toBe(true));
    await vi.waitFor(() => expect(clock.hasTimerIn(500)).toBe(true)); // the settle timer
    clock.advance(500);
    const result = await pending;
    expect(result.error).toMatchObject({ code: "timeout" });
    expect(result.error?.error).toContain("no event from OpenCode within 1000 ms");
    expect(contractViolations(sink.replies)).toEqual([]);
    await adapter.close();
  });

  it("the idle clock pauses while a permission request waits for the host, and resumes after", async () => {
    const clock = new ManualClock();
    const perm = turnOf("1.18.33/permission");
    const askedAt = perm.frames.findIndex((f) => f.includes('"type":"permission.asked"'));
    const srv = await replayServer([{ ...perm, holdAfter: askedAt + 1 }]);
    let answer!: (r: "once" | "reject") => void;
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter(
      {
        baseUrl: srv.url,
        directory: DIR,
        clock,
        idleTimeoutMs: 1_000,
        permissionTimeoutMs: 1_000_000,
        watchdogMs: 10_000_000,
        permission: () => new Promise((resolve) => (answer = resolve)),
      },
      sink,
    );
    const pending = adapter.prompt("needs permission", { traceId: "trace-permission" });
    await vi.waitFor(() => expect(answer).toBeTypeOf("function"));
    clock.advance(60_000); // far past the idle timeout: paused
    expect(srv.requests.some((r) => r.path.endsWith("/abort"))).toBe(false);
    answer("reject");
    await vi.waitFor(() => expect(srv.requests.some((r) => r.path.includes("/permission/"))).toBe(true));
    const reply = srv.requests.find((r) => r.path.includes("/permission/"));
    expect(JSON.parse(reply?.body ?? "{}")).toEqual({ reply: "reject" });
    srv.release(perm.sessionId);
    const result = await pending;
    expect(sink.replies).toEqual(fx("1.18.33/permission").golden);
    expect(result.status).toBe("final");
    await adapter.close();
  });

  it("the host's abort: POST abort, the server's own abort events, then error aborted", async () => {
    const aborted = fx("1.18.33/abort");
    const frames = framesOf(aborted.sse);
    const errAt = frames.findIndex((f) => f.includes('"type":"session.error"'));
    const srv = await replayServer([
      { sessionId: aborted.golden[0]?.session_id ?? "", frames, holdAfter: errAt, onAbort: frames.slice(errAt) },
    ]);
    const sink = new MemorySink();
    const ac = new AbortController();
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR }, (r) => {
      sink.deliver(r);
      if (r.kind === "delta" && r.content === "w3 ") ac.abort();
    });
    const result = await adapter.prompt("slow", { traceId: "trace-abort", signal: ac.signal });
    expect(result.error).toMatchObject({ code: "aborted", error: "the turn was aborted by the host" });
    expect(sink.replies.filter((r) => r.kind === "delta").length).toBe(aborted.golden.filter((r) => r.kind === "delta").length);
    expect(contractViolations(sink.replies)).toEqual([]);
    await adapter.close();
  });
});

describe("request failures (undici MockAgent as the dispatcher)", () => {
  const ORIGIN = "http://opencode.mock";
  function agent(setup: (pool: ReturnType<MockAgent["get"]>) => void) {
    const a = new MockAgent();
    a.disableNetConnect();
    setup(a.get(ORIGIN));
    return a;
  }
  const health = (version: string) => (pool: ReturnType<MockAgent["get"]>) =>
    pool.intercept({ path: /^\/global\/health/, method: "GET" }).reply(200, { healthy: true, version });

  it.each(["1.1.9", "3.0.0"])("refuses a server outside the supported range (%s), sending no prompt", async (version) => {
    const a = agent((p) => health(version)(p));
    const sink = new MemorySink();
    const r = await new OpencodeAdapter({ baseUrl: ORIGIN, directory: DIR, dispatcher: a }, sink).prompt("x");
    expect(r.error?.code).toBe("protocol");
    expect(r.error?.error).toContain(`OpenCode ${version} is not supported`);
    expect(sink.replies.map((x) => x.kind)).toEqual(["error"]);
  });

  it("an HTML page instead of an event stream: error protocol, no session created, no prompt", async () => {
    const a = agent((p) => {
      health("1.18.33")(p);
      p.intercept({ path: /^\/event/, method: "GET" }).reply(200, "<html>proxy login</html>", {
        headers: { "content-type": "text/html" },
      });
    });
    const r = await new OpencodeAdapter({ baseUrl: ORIGIN, directory: DIR, dispatcher: a }, new MemorySink()).prompt("x");
    expect(r.error?.code).toBe("protocol");
    expect(r.error?.error).toContain("not an event stream");
    a.assertNoPendingInterceptors();
  });

  it("401 on the event stream: error auth naming the fix", async () => {
    const a = agent((p) => {
      health("1.18.33")(p);
      p.intercept({ path: /^\/event/, method: "GET" }).reply(401, "Unauthorized");
    });
    const r = await new OpencodeAdapter({ baseUrl: ORIGIN, directory: DIR, dispatcher: a }, new MemorySink()).prompt("x");
    expect(r.error).toMatchObject({ code: "auth" });
    expect(r.error?.error).toContain("OPENCODE_SERVER_PASSWORD");
  });

  it("a 401 on /global/health is auth; the password never appears in a reply", async () => {
    const a = agent((p) => p.intercept({ path: /^\/global\/health/, method: "GET" }).reply(401, ""));
    const sink = new MemorySink();
    const r = await new OpencodeAdapter(
      { baseUrl: ORIGIN, directory: DIR, dispatcher: a, password: "hunter2-secret" },
      sink,
    ).prompt("x");
    expect(r.error?.code).toBe("auth");
    expect(JSON.stringify(sink.replies)).not.toContain("hunter2");
  });
});

describe("configuration", () => {
  it("says exactly which field is wrong, and never shows the password", () => {
    const bad = () =>
      parseAdapterConfig(
        { baseUrl: "ftp://x", directory: "relative/dir", idleTimeoutMs: -5, password: 42 as unknown as string },
        {},
      );
    expect(bad).toThrow(BridgeError);
    try {
      bad();
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toContain("baseUrl");
      expect(msg).toContain('directory: directory must be an absolute path (got "relative/dir")');
      expect(msg).toContain("idleTimeoutMs: idleTimeoutMs must be greater than 0 (got -5)");
      expect(msg).toContain("password");
      expect(msg).not.toContain("42");
    }
    expect(() => parseAdapterConfig({ baseUrl: "http://x", directory: "/d", permission: "maybe" as never }, {})).toThrow(
      /permission must be "reject", "allow", "ask" or a function/,
    );
  });

  it("reads the password and username from the environment", () => {
    const c = parseAdapterConfig({ baseUrl: "http://127.0.0.1:1", directory: "/d" }, {
      OPENCODE_SERVER_PASSWORD: "pw",
      OPENCODE_SERVER_USERNAME: "me",
    });
    expect(c).toMatchObject({ password: "pw", username: "me", permission: "reject" });
  });

  it("rejects an empty prompt and a malformed model", async () => {
    const adapter = new OpencodeAdapter({ baseUrl: "http://127.0.0.1:1", directory: "/d" }, () => {});
    await expect(adapter.prompt("  ")).rejects.toThrow(/non-empty string/);
    await expect(adapter.prompt("x", { model: "no-slash" })).rejects.toThrow(/provider\/model/);
  });

  it("a refused call still delivers its one terminal error reply before rejecting", async () => {
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter({ baseUrl: "http://127.0.0.1:1", directory: "/d" }, sink);
    await expect(adapter.prompt("x", { model: "no-slash", traceId: "t-bad", sessionId: "ses_x" })).rejects.toThrow(/provider\/model/);
    await expect(adapter.prompt(" ", { traceId: "t-empty" })).rejects.toThrow(/non-empty/);
    expect(sink.replies.map((r) => [r.trace_id, r.session_id, r.seq, r.kind, r.kind === "error" && r.code])).toEqual([
      ["t-bad", "ses_x", 0, "error", "invalid_request"],
      ["t-empty", "", 0, "error", "invalid_request"],
    ]);
    expect(contractViolations(sink.replies.slice(0, 1))).toEqual([]);
  });
});
