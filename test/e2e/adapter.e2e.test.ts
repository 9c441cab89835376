/**
 * The adapter against a real `opencode serve` and the scripted model on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpencodeAdapter } from "../../src/adapter/adapter.js";
import type { AdapterConfigInput, PermissionRequest } from "../../src/adapter/config.js";
import type { BridgeRequest, RequestEvent } from "../../src/codec/requests.js";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { MemorySink } from "../../src/sink/memory.js";
import { createDialect } from "../../src/adapter/line.js";
import { isRequestEvent, type SinkMessage } from "../../src/sink/types.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { until } from "./daemon-process.js";

function adapterFor(live: Live, extra: Partial<AdapterConfigInput> = {}) {
  const sink = new MemorySink();
  const adapter = new OpencodeAdapter(
    { baseUrl: live.url, directory: live.directory, settleTimeoutMs: 5_000, ...extra },
    sink,
  );
  return { adapter, sink };
}

const kinds = (rs: Reply[]) => rs.map((r) => r.kind);
const text = (rs: Reply[]) => rs.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content).join("");

async function sessionIsIdle(live: Live, sessionId: string): Promise<boolean> {
  const http = createDialect({ baseUrl: live.url, directory: live.directory, requestTimeoutMs: 5_000 });
  for (let i = 0; i < 50; i++) {
    const status = await http.sessionStatus();
    const s = status[sessionId];
    if (s === undefined || s.type === "idle") return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe("adapter, live OpenCode (permission: allow)", () => {
  let live: Live;
  beforeAll(async () => {
    live = await startLive({ permission: "allow" });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it("text: deltas then a final equal to their concatenation", async () => {
    const { adapter, sink } = adapterFor(live);
    const result = await adapter.prompt(scenario("text"), { traceId: "e2e-text" });
    const replies = sink.turn("e2e-text");
    expect(contractViolations(replies)).toEqual([]);
    expect(result.status).toBe("final");
    expect(result.final?.content).toBe("Hello from the scripted model. This is plain text.");
    expect(text(replies)).toBe(result.final?.content);
    expect(result.replies).toBe(replies.length);
    await adapter.close();
  });

  it("reasoning stays out of the answer", async () => {
    const { adapter, sink } = adapterFor(live);
    const result = await adapter.prompt(scenario("reasoning"), { traceId: "e2e-reasoning" });
    const replies = sink.turn("e2e-reasoning");
    const thought = replies.filter((r) => r.kind === "reasoning").map((r) => (r as { content: string }).content).join("");
    expect(thought).toBe("The user wants a greeting. I will think briefly, then answer.");
    expect(result.final?.content).toBe("Here is the answer after thinking.");
    await adapter.close();
  });

  it("a tool call, and a failing tool", async () => {
    const { adapter, sink } = adapterFor(live);
    const ok = await adapter.prompt(scenario("tool"), { traceId: "e2e-tool" });
    const call = sink.turn("e2e-tool").find((r) => r.kind === "tool_call");
    const result = sink.turn("e2e-tool").find((r) => r.kind === "tool_result");
    expect(call).toMatchObject({ tool: "bash", input: { command: "echo bridge-tool-ok" } });
    expect(result).toMatchObject({ status: "completed", output: "bridge-tool-ok\n" });
    expect(ok.final?.content).toContain("The command printed bridge-tool-ok.");

    const bad = await adapter.prompt(scenario("tool-error"), { traceId: "e2e-tool-error" });
    const failed = sink.turn("e2e-tool-error").find((r) => r.kind === "tool_result");
    expect(failed).toMatchObject({ tool: "read", status: "error" });
    expect(failed?.kind === "tool_result" && failed.error).toMatch(/not found/i);
    expect(bad.status).toBe("final");
    await adapter.close();
  });

  it("a provider error (HTTP 401) ends the turn as error upstream with the provider's words", async () => {
    const { adapter } = adapterFor(live);
    const result = await adapter.prompt(scenario("provider-error"));
    expect(result.status).toBe("error");
    expect(result.error).toMatchObject({ code: "upstream" });
    expect(result.error?.error).toContain("Incorrect API key provided");
    await adapter.close();
  });

  it("turns on one adapter run one after another, never interleaved; a session can be resumed", async () => {
    const { adapter, sink } = adapterFor(live);
    const [a, b] = await Promise.all([
      adapter.prompt(scenario("slow"), { traceId: "e2e-q1" }),
      adapter.prompt(scenario("text"), { traceId: "e2e-q2" }),
    ]);
    expect(a.status).toBe("final");
    expect(b.status).toBe("final");
    const order = sink.replies.filter((r) => r.trace_id === "e2e-q1" || r.trace_id === "e2e-q2").map((r) => r.trace_id);
    const firstB = order.indexOf("e2e-q2");
    expect(order.slice(firstB).every((t) => t === "e2e-q2")).toBe(true);
    expect(order.lastIndexOf("e2e-q1")).toBeLessThan(firstB);

    const again = await adapter.prompt(scenario("text", "Once more please."), { traceId: "e2e-q3", sessionId: b.sessionId });
    expect(again.sessionId).toBe(b.sessionId);
    expect(again.final?.content).toBe("Hello from the scripted model. This is plain text.");
    expect(contractViolations(sink.turn("e2e-q3"))).toEqual([]);
    await adapter.close();
  });

  it("two sessions prompted concurrently through one process never mix", async () => {
    const one = adapterFor(live);
    const two = adapterFor(live);
    const [a, b] = await Promise.all([
      one.adapter.prompt(scenario("slow"), { traceId: "e2e-par-a" }),
      two.adapter.prompt(scenario("two-tools"), { traceId: "e2e-par-b" }),
    ]);
    expect(a.sessionId).not.toBe(b.sessionId);
    const ra = one.sink.replies;
    const rb = two.sink.replies;
    expect(new Set(ra.map((r) => r.session_id))).toEqual(new Set([a.sessionId]));
    expect(new Set(rb.map((r) => r.session_id))).toEqual(new Set([b.sessionId]));
    expect(contractViolations(ra)).toEqual([]);
    expect(contractViolations(rb)).toEqual([]);
    expect(text(ra)).toMatch(/^w0 w1 /);
    expect(text(rb)).toBe("Running two commands.Both commands ran.");
    await Promise.all([one.adapter.close(), two.adapter.close()]);
  });

  it("an abort mid-turn ends with error aborted, leaves the session idle, and the next turn runs", async () => {
    const { adapter, sink } = adapterFor(live);
    const ac = new AbortController();
    let deltas = 0;
    const aborting = new OpencodeAdapter({ baseUrl: live.url, directory: live.directory }, (r) => {
      sink.deliver(r);
      if (r.kind === "delta" && ++deltas === 5) ac.abort();
    });
    const result = await aborting.prompt(scenario("slow"), { traceId: "e2e-abort", signal: ac.signal });
    expect(result.status).toBe("error");
    expect(result.error).toMatchObject({ code: "aborted" });
    const replies = sink.turn("e2e-abort");
    expect(contractViolations(replies)).toEqual([]);
    expect(replies.filter((r) => r.kind === "delta").length).toBeGreaterThanOrEqual(5);
    expect(await sessionIsIdle(live, result.sessionId)).toBe(true);
    const next = await aborting.prompt(scenario("text"), { sessionId: result.sessionId, traceId: "e2e-after-abort" });
    expect(next.status).toBe("final");
    await aborting.close();
    await adapter.close();
  });

  it("a model that stalls hits the idle timeout; the session is aborted and idle afterwards", async () => {
    const { adapter, sink } = adapterFor(live, { idleTimeoutMs: 1_500, firstEventTimeoutMs: 30_000 });
    const started = Date.now();
    const result = await adapter.prompt(scenario("stall"), { traceId: "e2e-stall" });
    expect(result.status).toBe("error");
    expect(result.error).toMatchObject({ code: "timeout" });
    expect(result.error?.error).toMatch(/no event from OpenCode for 1500 ms/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(contractViolations(sink.turn("e2e-stall"))).toEqual([]);
    expect(await sessionIsIdle(live, result.sessionId)).toBe(true);
    await adapter.close();
  });

  it("provider retries past the limit end the turn as error upstream with the provider's message", async () => {
    const retries: number[] = [];
    const { adapter } = adapterFor(live, { maxProviderRetries: 0, onRetry: (s) => retries.push(s.attempt) });
    const result = await adapter.prompt(scenario("retry"));
    expect(result.status).toBe("error");
    expect(result.error).toMatchObject({ code: "upstream" });
    expect(result.error?.error).toContain("The server is overloaded, please retry");
    expect(retries[0]).toBe(1);
    expect(await sessionIsIdle(live, result.sessionId)).toBe(true);
    await adapter.close();
  });
});

describe("adapter, live OpenCode (permission: ask)", () => {
  let live: Live;
  beforeAll(async () => {
    live = await startLive({ permission: "ask" });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it("policy reject (the default): the tool shows as a tool_result error and the turn ends", async () => {
    const { adapter, sink } = adapterFor(live);
    const result = await adapter.prompt(scenario("permission"), { traceId: "e2e-perm-reject" });
    const tr = sink.turn("e2e-perm-reject").find((r) => r.kind === "tool_result");
    expect(tr).toMatchObject({ status: "error" });
    expect(tr?.kind === "tool_result" && tr.error).toMatch(/rejected/i);
    expect(result.status).toBe("final");
    await adapter.close();
  });

  it("policy allow: the tool runs", async () => {
    const { adapter, sink } = adapterFor(live, { permission: "allow" });
    const result = await adapter.prompt(scenario("permission"), { traceId: "e2e-perm-allow" });
    const tr = sink.turn("e2e-perm-allow").find((r) => r.kind === "tool_result");
    expect(tr).toMatchObject({ status: "completed", output: "needs-permission\n" });
    expect(result.final?.content).toBe("After the permission decision.");
    await adapter.close();
  });

  it("a host callback decides, and one that never answers is rejected after its timeout", async () => {
    const asked: PermissionRequest[] = [];
    const { adapter, sink } = adapterFor(live, {
      permission: (req) => {
        asked.push(req);
        return "once";
      },
    });
    await adapter.prompt(scenario("permission"), { traceId: "e2e-perm-cb" });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ permission: "bash", tool: { callID: "call_write_1" } });
    expect(sink.turn("e2e-perm-cb").find((r) => r.kind === "tool_result")).toMatchObject({ status: "completed" });
    await adapter.close();

    const slow = adapterFor(live, {
      permission: () => new Promise(() => {}),
      // The request stays unanswered for twice the idle timeout, which must not fire
      // (it is paused while the request is pending). Both are long enough that a loaded
      // machine's natural pauses between events do not reach them.
      permissionTimeoutMs: 8_000,
      idleTimeoutMs: 4_000,
    });
    const r = await slow.adapter.prompt(scenario("permission"), { traceId: "e2e-perm-slow" });
    expect(slow.sink.turn("e2e-perm-slow").find((x) => x.kind === "tool_result")).toMatchObject({ status: "error" });
    expect(r.status).toBe("final");
    await slow.adapter.close();
  });
});

describe("adapter, live OpenCode (bash: ask): people answer requests", () => {
  let live: Live;
  beforeAll(async () => {
    live = await startLive({ permission: "ask" });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it("the onRequest hook allows: the command runs (tool_result completed)", async () => {
    const asked: BridgeRequest[] = [];
    const events: RequestEvent[] = [];
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter(
      { baseUrl: live.url, directory: live.directory, permission: "ask", onRequest: (req) => (asked.push(req), { reply: "once" }) },
      { requests: true, deliver: (m: SinkMessage) => (isRequestEvent(m) ? void events.push(m) : sink.deliver(m)) },
    );
    const result = await adapter.prompt(scenario("permission"), { traceId: "e2e-hook-allow" });
    expect(asked).toEqual([expect.objectContaining({ kind: "permission", permission: "bash", patterns: ["echo needs-permission"], tool: expect.objectContaining({ call_id: "call_write_1" }) })]);
    expect(sink.turn("e2e-hook-allow").find((r) => r.kind === "tool_result")).toMatchObject({ status: "completed", output: "needs-permission\n" });
    expect(result.final?.content).toBe("After the permission decision.");
    expect(events.map((e) => e.type)).toEqual(["request", "request_resolved"]);
    expect(events[1]).toMatchObject({ by: "host", answer: { reply: "once" } });
    expect(contractViolations(sink.turn("e2e-hook-allow"))).toEqual([]);
    await adapter.close();
  });

  it("a rejection with a message: tool_result error carrying it, and the model answers to end the turn", async () => {
    const { adapter, sink } = adapterFor(live, { permission: "ask", onRequest: () => undefined });
    const pending = adapter.prompt(scenario("permission"), { traceId: "e2e-reply-reject" });
    const id = await until(() => adapter.pendingRequests()[0]?.request_id, "a pending request", 20_000);
    expect(await adapter.replyPermission(id, "reject", "not on this machine, please")).toEqual({ status: "answered" });
    expect(await adapter.replyPermission(id, "once")).toMatchObject({ status: "already_answered" });
    const result = await pending;
    const tr = sink.turn("e2e-reply-reject").find((r) => r.kind === "tool_result");
    expect(tr).toMatchObject({ status: "error" });
    expect(tr?.kind === "tool_result" && tr.error).toContain("not on this machine, please");
    expect(result.status).toBe("final");
    expect(result.final?.content).toBe("After the permission decision.");
    await adapter.close();
  });

  it("a question answered with one of its options reaches the model", async () => {
    const asked: BridgeRequest[] = [];
    const { adapter, sink } = adapterFor(live, {
      question: "ask",
      onRequest: (req) => {
        asked.push(req);
        return req.kind === "question" ? { answers: [[req.questions[0]?.options[0]?.label ?? "?"]] } : undefined;
      },
    });
    const before = live.model.requests.filter((r) => r.scenario === "question").length;
    const result = await adapter.prompt(scenario("question"), { traceId: "e2e-question" });
    expect(asked[0]).toMatchObject({
      kind: "question",
      questions: [{ question: "Which colour should the button be?", header: "Button colour", options: [{ label: "Blue" }, { label: "Red" }] }],
    });
    const tr = sink.turn("e2e-question").find((r) => r.kind === "tool_result");
    expect(tr).toMatchObject({ tool: "question", status: "completed" });
    expect(tr?.kind === "tool_result" && tr.output).toContain("Blue");
    // The model was called again, with the tool's output (the answer) in its conversation.
    const steps = live.model.requests.filter((r) => r.scenario === "question").slice(before).map((r) => r.step);
    expect(steps).toContain(1);
    expect(result.final?.content).toContain("Thanks for answering.");
    await adapter.close();
  });

  it("a request nobody answers within answerTimeoutMs is rejected with a message; the turn deadline did not fire meanwhile", async () => {
    // The answer deadline outlasts the turn and idle deadlines (which pause while the request waits);
    // both leave the model time to answer after the rejection on a loaded machine.
    const { adapter, sink } = adapterFor(live, { permission: "ask", onRequest: () => undefined, answerTimeoutMs: 16_000, turnTimeoutMs: 12_000, idleTimeoutMs: 12_000 });
    const result = await adapter.prompt(scenario("permission"), { traceId: "e2e-answer-timeout" });
    const tr = sink.turn("e2e-answer-timeout").find((r) => r.kind === "tool_result");
    expect(tr?.kind === "tool_result" && tr.error).toMatch(/nobody answered this permission request within 16000 ms/);
    expect(result.status).toBe("final");
    await adapter.close();
  });
});

describe("adapter, password-protected and unreachable servers", () => {
  let live: Live;
  beforeAll(async () => {
    live = await startLive({ password: "s3cret-e2e-password" });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it("with the password the turn runs; without it, error auth and no prompt sent", async () => {
    const ok = adapterFor(live, { password: "s3cret-e2e-password" });
    const good = await ok.adapter.prompt(scenario("text"));
    expect(good.status).toBe("final");
    await ok.adapter.close();

    // The prompts that must never reach the model are marked (OpenCode may still ask the model for the
    // first turn's title meanwhile, so a count of all requests would race with it).
    const probe = "auth-probe-never-sent";
    const noPw = new MemorySink();
    const bad = new OpencodeAdapter({ baseUrl: live.url, directory: live.directory, password: "" }, noPw);
    const denied = await bad.prompt(`${scenario("text")} ${probe}`);
    expect(denied.status).toBe("error");
    expect(denied.error).toMatchObject({ code: "auth" });
    expect(kinds(noPw.replies)).toEqual(["error"]);
    expect(JSON.stringify(noPw.replies)).not.toContain("s3cret");
    const wrong = new OpencodeAdapter({ baseUrl: live.url, directory: live.directory, password: "wrong" }, new MemorySink());
    expect((await wrong.prompt(`${scenario("text")} ${probe}`)).error).toMatchObject({ code: "auth" });
    expect(live.model.requests.filter((r) => JSON.stringify(r.userParts).includes(probe))).toEqual([]);
    await bad.close();
    await wrong.close();
  });

  it("an unreachable server gives error transport within seconds", async () => {
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter({ baseUrl: "http://127.0.0.1:9", directory: live.directory }, sink);
    const started = Date.now();
    const r = await adapter.prompt("hello");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.error).toMatchObject({ code: "transport" });
    expect(r.error?.error).toContain("127.0.0.1:9");
    expect(contractViolations(sink.replies)).toEqual([]);
    await adapter.close();
  });
});
