/**
 * What counts as life, and never a false `final` (issue 10 items 2 and 3), on the
 * replay stand-in with real captured 1.18.33 frames and an injected clock:
 * - a subagent's events keep its parent turn alive, without mixing into its replies;
 * - a running tool pauses the idle rule; `toolTimeoutMs` bounds one tool;
 * - a wedged subagent still times out, and the abort reaches its session too;
 * - a `final` waits for the server's record: repaired from it, or `transport` when
 *   the record shows the answer never finished.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { OpencodeAdapter } from "../src/adapter/adapter.js";
import { contractViolations } from "../src/codec/reply.js";
import { MemorySink } from "../src/sink/memory.js";
import type { RecordMessage } from "./support/fixtures.js";
import {
  fixtureNamed,
  ManualClock,
  scriptedTurnOf,
  startReplayServer,
  type ReplayServer,
  type ScriptedTurn,
} from "./support/replay-server.js";

const fx = fixtureNamed;
const turnOf = scriptedTurnOf;

let servers: ReplayServer[] = [];
let adapters: OpencodeAdapter[] = [];
afterEach(async () => {
  await Promise.all(adapters.map((a) => a.close()));
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  adapters = [];
});
async function replayServer(turns: ScriptedTurn[]) {
  const s = await startReplayServer(turns);
  servers.push(s);
  return s;
}
const DIR = "/tmp/project-under-test";
const NO_WATCHDOG = { watchdogMs: 10_000_000 };

function adapterOn(srv: ReplayServer, sink: MemorySink, opts: Record<string, unknown> = {}) {
  const a = new OpencodeAdapter({ baseUrl: srv.url, directory: DIR, ...NO_WATCHDOG, ...opts }, sink);
  adapters.push(a);
  return a;
}

const aborts = (srv: ReplayServer) => srv.requests.filter((r) => r.path.endsWith("/abort")).map((r) => r.path.split("/")[2]);
const frameType = (f: string) => (JSON.parse(f) as { type: string }).type;

describe("a subagent's events are its parent turn's life", () => {
  const sub = turnOf("1.18.33/subagent");
  const child = "ses_e035c4403ffe5DrddW46PNpAYS";
  const childFrames = sub.frames
    .map((f, i) => ({ f, i }))
    .filter(({ f }) => f.includes(`"sessionID":"${child}"`) && frameType(f) !== "session.created");
  /** The frame after the task part names its child and the child's first events. */
  const firstChildWork = childFrames[3]?.i ?? 0;

  it("a subagent working far longer than idleTimeoutMs: no abort, final equal to the golden replies", async () => {
    const clock = new ManualClock();
    const srv = await replayServer([{ ...sub, holdAfter: firstChildWork }]);
    const sink = new MemorySink();
    const adapter = adapterOn(srv, sink, { clock, idleTimeoutMs: 1_000 });
    const pending = adapter.prompt("delegate", { traceId: fx("1.18.33/subagent").golden[0]?.trace_id });
    await vi.waitFor(() => expect(clock.hasTimerIn(1_000)).toBe(true)); // the idle rule runs (the task does not pause it)
    // The child keeps working: one of its events every 900 ms, for 30 idle timeouts.
    const childEvent = sub.frames[firstChildWork - 1] ?? "";
    for (let i = 0; i < 30; i++) {
      clock.advance(900);
      const seen = adapter.streamStats.events;
      srv.broadcast(`data: ${childEvent}\n\n`);
      await vi.waitFor(() => expect(adapter.streamStats.events).toBe(seen + 1));
    }
    expect(aborts(srv)).toEqual([]);
    srv.release(sub.sessionId);
    const result = await pending;
    expect(result.status).toBe("final");
    // Nothing of the child's answer mixed into the parent's replies.
    expect(sink.replies.map(({ seq: _s, ...r }) => r)).toEqual(fx("1.18.33/subagent").golden.map(({ seq: _s, ...r }) => r));
  });

  it("a wedged subagent still times out at idleTimeoutMs, and the abort reaches the child session", async () => {
    const clock = new ManualClock();
    const srv = await replayServer([{ ...sub, holdAfter: firstChildWork }]);
    const sink = new MemorySink();
    const adapter = adapterOn(srv, sink, { clock, idleTimeoutMs: 1_000, settleTimeoutMs: 500 });
    const pending = adapter.prompt("delegate");
    await vi.waitFor(() => expect(clock.hasTimerIn(1_000)).toBe(true));
    clock.advance(999);
    expect(aborts(srv)).toEqual([]);
    clock.advance(1);
    await vi.waitFor(() => expect(aborts(srv).sort()).toEqual([sub.sessionId, child].sort()));
    await vi.waitFor(() => expect(clock.hasTimerIn(500)).toBe(true));
    clock.advance(500);
    const result = await pending;
    expect(result.error).toMatchObject({ code: "timeout", error: "no event from OpenCode for 1000 ms" });
    expect(contractViolations(sink.replies)).toEqual([]);
  });

  it("the child is found from the task part's metadata when its session.created is missing", async () => {
    const clock = new ManualClock();
    const frames = sub.frames.filter((f) => !(frameType(f) === "session.created" && f.includes(`"id":"${child}"`)));
    const hold = frames.indexOf(sub.frames[firstChildWork] ?? "");
    const srv = await replayServer([{ ...sub, frames, holdAfter: hold }]);
    const sink = new MemorySink();
    const adapter = adapterOn(srv, sink, { clock, idleTimeoutMs: 1_000, settleTimeoutMs: 500 });
    const pending = adapter.prompt("delegate");
    await vi.waitFor(() => expect(clock.hasTimerIn(1_000)).toBe(true));
    for (let i = 0; i < 5; i++) {
      clock.advance(900);
      const seen = adapter.streamStats.events;
      srv.broadcast(`data: ${frames[hold - 1] ?? ""}\n\n`);
      await vi.waitFor(() => expect(adapter.streamStats.events).toBe(seen + 1));
    }
    expect(aborts(srv)).toEqual([]);
    clock.advance(1_000);
    await vi.waitFor(() => expect(aborts(srv)).toContain(child));
    // The settle timer starts once every abort has been answered: advance only then.
    await vi.waitFor(() => expect(clock.hasTimerIn(500)).toBe(true));
    clock.advance(500);
    expect((await pending).error?.code).toBe("timeout");
  });
});

describe("a running tool pauses the idle rule", () => {
  const tool = turnOf("1.18.33/tool");
  const runningAt = tool.frames.findIndex((f) => f.includes('"tool":"bash"') && f.includes('"status":"running"'));

  it("a quiet bash running far longer than idleTimeoutMs: no abort, the golden replies", async () => {
    const clock = new ManualClock();
    const srv = await replayServer([{ ...tool, holdAfter: runningAt + 1 }]);
    const sink = new MemorySink();
    const adapter = adapterOn(srv, sink, { clock, idleTimeoutMs: 1_000 });
    const pending = adapter.prompt("run it", { traceId: fx("1.18.33/tool").golden[0]?.trace_id });
    await vi.waitFor(() => expect(sink.replies.some((r) => r.kind === "tool_call")).toBe(true));
    clock.advance(600_000); // ten minutes of silence while the tool runs
    expect(aborts(srv)).toEqual([]);
    srv.release(tool.sessionId);
    const result = await pending;
    expect(result.status).toBe("final");
    expect(sink.replies).toEqual(fx("1.18.33/tool").golden);
  });

  it.each([
    ["the adapter's toolTimeoutMs", { toolTimeoutMs: 5_000 }, {}],
    ["one prompt's timeouts.toolMs (the adapter has none)", {}, { timeouts: { toolMs: 5_000 } }],
    ["one prompt's timeouts.toolMs over the adapter's longer one", { toolTimeoutMs: 60_000 }, { timeouts: { toolMs: 5_000 } }],
  ])("%s bounds one tool: the turn ends timeout, naming the tool", async (_name, adapterOpts, promptOpts) => {
    const clock = new ManualClock();
    const srv = await replayServer([{ ...tool, holdAfter: runningAt + 1 }]);
    const sink = new MemorySink();
    const adapter = adapterOn(srv, sink, { clock, idleTimeoutMs: 1_000, settleTimeoutMs: 500, ...adapterOpts });
    const pending = adapter.prompt("run it", promptOpts);
    await vi.waitFor(() => expect(sink.replies.some((r) => r.kind === "tool_call")).toBe(true));
    clock.advance(4_999);
    expect(aborts(srv)).toEqual([]);
    clock.advance(1);
    await vi.waitFor(() => expect(aborts(srv)).toEqual([tool.sessionId]));
    await vi.waitFor(() => expect(clock.hasTimerIn(500)).toBe(true));
    clock.advance(500);
    const result = await pending;
    expect(result.error).toMatchObject({ code: "timeout", error: "the bash tool ran for longer than 5000 ms (toolTimeoutMs)" });
    expect(contractViolations(sink.replies)).toEqual([]);
  });

  it("after the tool completes, silence is a stall again", async () => {
    const clock = new ManualClock();
    const completedAt = tool.frames.findIndex((f) => f.includes('"tool":"bash"') && f.includes('"status":"completed"'));
    const srv = await replayServer([{ ...tool, holdAfter: completedAt + 1 }]);
    const sink = new MemorySink();
    const adapter = adapterOn(srv, sink, { clock, idleTimeoutMs: 1_000, settleTimeoutMs: 500 });
    const pending = adapter.prompt("run it");
    await vi.waitFor(() => expect(sink.replies.some((r) => r.kind === "tool_result")).toBe(true));
    await vi.waitFor(() => expect(clock.hasTimerIn(1_000)).toBe(true));
    clock.advance(1_000);
    await vi.waitFor(() => expect(aborts(srv)).toEqual([tool.sessionId]));
    await vi.waitFor(() => expect(clock.hasTimerIn(500)).toBe(true));
    clock.advance(500);
    expect((await pending).error?.code).toBe("timeout");
  });
});

describe("never a false final: the server's record is read before it", () => {
  const text = turnOf("1.18.33/text");
  const f = fx("1.18.33/text");
  const record = f.record[text.sessionId] as RecordMessage[];
  /** The record as a restarted server shows it: the answer never finished. */
  const unfinished = record.map((m) =>
    m.info.role === "assistant"
      ? { info: { ...m.info, time: { created: 1 }, finish: undefined }, parts: m.parts.map((p) => ({ ...p, text: "", time: undefined })) }
      : m,
  );

  it("the stream says idle but the record shows the answer never finished, session idle: error transport", async () => {
    const srv = await replayServer([{ ...text, record: unfinished }]);
    const sink = new MemorySink();
    const result = await adapterOn(srv, sink).prompt("hi");
    expect(result.status).toBe("error");
    expect(result.error?.code).toBe("transport");
    expect(result.error?.error).toContain("OpenCode lost the turn");
    expect(contractViolations(sink.replies)).toEqual([]);
    expect(srv.requests.filter((r) => r.path.endsWith("/message"))).toHaveLength(1);
  });

  it("verifyAtEnd: false trusts the stream (no record read)", async () => {
    const srv = await replayServer([{ ...text, record: unfinished }]);
    const sink = new MemorySink();
    const result = await adapterOn(srv, sink, { verifyAtEnd: false }).prompt("hi", { traceId: f.golden[0]?.trace_id });
    expect(result.status).toBe("final");
    expect(sink.replies).toEqual(f.golden);
    expect(srv.requests.filter((r) => r.path.endsWith("/message"))).toHaveLength(0);
  });

  it("part frames the stream silently dropped (connection open) are repaired: final equals the record", async () => {
    const two = turnOf("1.18.33/two-tools");
    const g = fx("1.18.33/two-tools");
    // Keep the first 5 deltas, then lose every message.part.* frame of the turn (an upstream bug of 1.18.25–31).
    let deltas = 0;
    const frames = two.frames.filter((fr) => {
      const t = frameType(fr);
      if (!t.startsWith("message.part.")) return true;
      return t === "message.part.delta" && ++deltas <= 5;
    });
    const srv = await replayServer([{ ...two, frames, record: g.record[two.sessionId] ?? [] }]);
    const sink = new MemorySink();
    const result = await adapterOn(srv, sink).prompt("tools", { traceId: g.golden[0]?.trace_id });
    expect(contractViolations(sink.replies)).toEqual([]);
    expect(result.status).toBe("final");
    const last = g.golden[g.golden.length - 1];
    expect(result.final?.content).toBe(last?.kind === "final" ? last.content : "");
    const calls = (kind: string) => sink.replies.filter((r) => r.kind === kind).map((r) => (r as { call_id: string }).call_id);
    const goldenCalls = (kind: string) => g.golden.filter((r) => r.kind === kind).map((r) => (r as { call_id: string }).call_id);
    expect(calls("tool_call").sort()).toEqual(goldenCalls("tool_call").sort());
    expect(calls("tool_result").sort()).toEqual(goldenCalls("tool_result").sort());
  });

  it("the record says the answer still runs (idle came early): it is checked again, and the final waits for it", async () => {
    const clock = new ManualClock();
    const srv = await replayServer([{ ...text, record: unfinished, status: "busy" }]);
    const sink = new MemorySink();
    const adapter = adapterOn(srv, sink, { clock, settleTimeoutMs: 500 });
    const pending = adapter.prompt("hi", { traceId: f.golden[0]?.trace_id });
    await vi.waitFor(() => expect(srv.requests.filter((r) => r.path === "/session/status")).toHaveLength(1));
    await vi.waitFor(() => expect(clock.hasTimerIn(500)).toBe(true)); // look again after settleTimeoutMs
    srv.update(text.sessionId, { record, status: "idle" }); // the server finishes it
    clock.advance(500);
    const result = await pending;
    expect(result.status).toBe("final");
    expect(sink.replies).toEqual(f.golden);
  });
});
