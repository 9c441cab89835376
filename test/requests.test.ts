/**
 * Permission and question requests (src/adapter/requests.ts) on a real captured
 * permission turn, replayed by a loopback server, with an injected clock: who
 * answers under each policy, what the sink sees, deadlines paused while a
 * request waits, the answer timeout, answers given twice or elsewhere.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { OpencodeAdapter } from "../src/adapter/adapter.js";
import type { AdapterConfigInput } from "../src/adapter/config.js";
import type { BridgeRequest, RequestEvent } from "../src/codec/requests.js";
import { contractViolations, type Reply } from "../src/codec/reply.js";
import { loadFixtures } from "./support/fixtures.js";
import { framesOf, ManualClock, startReplayServer, type ReplayServer } from "./support/replay-server.js";
import { isRequestEvent, type SinkMessage } from "../src/sink/types.js";

const perm = loadFixtures().find((x) => x.name === "1.18.33/permission");
if (!perm) throw new Error("no fixture 1.18.33/permission");
const frames = framesOf(perm.sse);
const sessionId = perm.golden[0]?.session_id ?? "";
const askedAt = frames.findIndex((f) => f.includes('"type":"permission.asked"'));
const repliedAt = frames.findIndex((f) => f.includes('"type":"permission.replied"'));
const requestId = /"id":"(per_[^"]+)"/.exec(frames[askedAt] ?? "")?.[1] ?? "";

let servers: ReplayServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** The permission turn, held right after `permission.asked` (or after `holdAfter`). */
async function setup(cfg: Partial<AdapterConfigInput>, holdAfter = askedAt + 1) {
  const srv = await startReplayServer([{ sessionId, frames, holdAfter }]);
  servers.push(srv);
  const clock = new ManualClock();
  const replies: Reply[] = [];
  const events: RequestEvent[] = [];
  /** Everything the sink saw, in order: replies by kind, request events by type. */
  const order: string[] = [];
  const sink = {
    requests: true,
    deliver: (m: SinkMessage) => (isRequestEvent(m) ? void (events.push(m), order.push(m.type)) : void (replies.push(m), order.push(m.kind))),
  };
  const adapter = new OpencodeAdapter(
    { baseUrl: srv.url, directory: "/tmp/project-under-test", clock, idleTimeoutMs: 1_000, turnTimeoutMs: 5_000, watchdogMs: 10_000_000, ...cfg },
    sink,
  );
  const answers = () => srv.requests.filter((r) => r.path.includes("/permission/")).map((r) => JSON.parse(r.body) as unknown);
  return { srv, clock, replies, events, order, adapter, answers };
}

describe("requests", () => {
  it("ask with nobody able to answer: rejected at once with a message that says why", async () => {
    const t = await setup({ permission: "ask" });
    const pending = t.adapter.prompt("needs permission", { traceId: "trace-permission" });
    // Bounded by the answer's arrival (a loaded machine may take over a second to connect and prompt).
    await vi.waitFor(() => expect(t.answers()).toHaveLength(1), { timeout: 15_000 });
    expect(t.answers()[0]).toEqual({ reply: "reject", message: expect.stringMatching(/policy is "ask" but nobody can answer/) });
    t.srv.release(sessionId);
    const result = await pending;
    expect(result.status).toBe("final");
    expect(t.events.map((e) => e.type)).toEqual(["request", "request_resolved"]);
    expect(t.events[1]).toMatchObject({ request_id: requestId, request_kind: "permission", by: "nobody" });
    // Requests are not replies: the replies are exactly the fixture's, seq untouched.
    expect(t.replies).toEqual(perm.golden);
    expect(contractViolations(t.replies)).toEqual([]);
    await t.adapter.close();
  });

  it("the default reject policy rejects with a message naming the policy", async () => {
    const t = await setup({});
    const pending = t.adapter.prompt("needs permission");
    await vi.waitFor(() => expect(t.answers()).toHaveLength(1));
    expect(t.answers()[0]).toEqual({ reply: "reject", message: expect.stringMatching(/permission policy is "reject"/) });
    t.srv.release(sessionId);
    await pending;
    await t.adapter.close();
  });

  it("a hook that answers later: both deadlines pause while it waits; answered once, twice is refused", async () => {
    const seen: BridgeRequest[] = [];
    let signal: AbortSignal | undefined;
    const t = await setup({
      permission: "ask",
      onRequest: (req, s) => {
        seen.push(req);
        signal = s;
      },
    });
    const pending = t.adapter.prompt("needs permission", { traceId: "trace-ask" });
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(seen[0]).toMatchObject({
      kind: "permission",
      request_id: requestId,
      trace_id: "trace-ask",
      session_id: sessionId,
      permission: "bash",
      patterns: ["echo needs-permission"],
      metadata: { command: "echo needs-permission" },
    });
    expect(t.adapter.pendingRequests().map((r) => r.request_id)).toEqual([requestId]);
    t.clock.advance(60_000); // far past the idle (1 s) and turn (5 s) deadlines
    expect(t.srv.requests.some((r) => r.path.endsWith("/abort"))).toBe(false);
    expect(await t.adapter.replyPermission("per_nope", "once")).toMatchObject({ status: "unknown" });
    expect(await t.adapter.answer(requestId, { answers: [["x"]] })).toMatchObject({ status: "invalid" });
    expect(await t.adapter.replyPermission(requestId, "maybe" as never)).toMatchObject({ status: "invalid" });
    expect(await t.adapter.replyPermission(requestId, "reject", "not in this repo")).toEqual({ status: "answered" });
    expect(signal?.aborted).toBe(true);
    expect(await t.adapter.replyPermission(requestId, "once")).toMatchObject({ status: "already_answered" });
    expect(t.answers()).toEqual([{ reply: "reject", message: "not in this repo" }]);
    expect(t.adapter.pendingRequests()).toEqual([]);
    t.srv.release(sessionId);
    const result = await pending;
    expect(result.status).toBe("final");
    expect(t.events[1]).toMatchObject({ type: "request_resolved", by: "host", answer: { reply: "reject", message: "not in this repo" } });
    // The request sits between the replies before and after it.
    const firstRequest = t.order.indexOf("request");
    expect(firstRequest).toBeGreaterThan(0);
    expect(t.order.at(-1)).toBe("final");
    await t.adapter.close();
  });

  it("the turn deadline counts only the time nobody was waiting for an answer", async () => {
    const t = await setup({ permission: "ask", onRequest: () => undefined, turnTimeoutMs: 5_000 });
    const pending = t.adapter.prompt("needs permission");
    await vi.waitFor(() => expect(t.adapter.pendingRequests()).toHaveLength(1));
    t.clock.advance(100_000);
    await t.adapter.replyPermission(requestId, "once");
    // The turn goes on with what was left of its 5 s; the stream stays held, so it then expires.
    t.clock.advance(900); // under the idle deadline of 1 s
    expect(t.srv.requests.some((r) => r.path.endsWith("/abort"))).toBe(false);
    t.clock.advance(5_000);
    await vi.waitFor(() => expect(t.srv.requests.some((r) => r.path.endsWith("/abort"))).toBe(true));
    t.clock.advance(5_000); // settle
    const result = await pending;
    expect(result.error).toMatchObject({ code: "timeout" });
    await t.adapter.close();
  });

  it("a hook that returns the answer; a hook that throws means reject with its reason", async () => {
    const t = await setup({ permission: "ask", onRequest: async () => ({ reply: "always" }) });
    const p1 = t.adapter.prompt("needs permission");
    await vi.waitFor(() => expect(t.answers()).toEqual([{ reply: "always" }]));
    t.srv.release(sessionId);
    await p1;
    await t.adapter.close();

    const u = await setup({
      permission: "ask",
      onRequest: () => {
        throw new Error("hook broke");
      },
    });
    const p2 = u.adapter.prompt("needs permission");
    await vi.waitFor(() => expect(u.answers()).toHaveLength(1));
    expect(u.answers()[0]).toEqual({ reply: "reject", message: expect.stringContaining("hook broke") });
    u.srv.release(sessionId);
    await p2;
    await u.adapter.close();
  });

  it("nobody answers within answerTimeoutMs: rejected with a message, and the turn ends by itself", async () => {
    const t = await setup({ permission: "ask", onRequest: () => new Promise(() => {}), answerTimeoutMs: 30_000 });
    const pending = t.adapter.prompt("needs permission");
    await vi.waitFor(() => expect(t.adapter.pendingRequests()).toHaveLength(1));
    t.clock.advance(29_999);
    expect(t.answers()).toEqual([]);
    t.clock.advance(1);
    await vi.waitFor(() => expect(t.answers()).toHaveLength(1));
    expect(t.answers()[0]).toEqual({ reply: "reject", message: expect.stringMatching(/nobody answered .* within 30000 ms/) });
    expect(t.events[1]).toMatchObject({ type: "request_resolved", by: "timeout" });
    t.srv.release(sessionId);
    expect((await pending).status).toBe("final");
    await t.adapter.close();
  });

  it("a request answered elsewhere (permission.replied) is settled and never answered again", async () => {
    const t = await setup({ permission: "ask", onRequest: () => undefined }, repliedAt + 1);
    const pending = t.adapter.prompt("needs permission");
    await vi.waitFor(() => expect(t.events.map((e) => e.type)).toEqual(["request", "request_resolved"]));
    expect(t.events[1]).toMatchObject({ by: "elsewhere" });
    expect(await t.adapter.replyPermission(requestId, "once")).toMatchObject({ status: "already_answered" });
    t.srv.release(sessionId);
    expect((await pending).status).toBe("final");
    expect(t.answers()).toEqual([]);
    await t.adapter.close();
  });
});

describe("requests as each OpenCode line sends them (real captures)", () => {
  for (const version of ["1.2.27", "1.15.13", "1.18.33"]) {
    it(`${version}: a question reaches the hook typed, and its answer goes to POST /question/:id/reply`, async () => {
      const fx = loadFixtures().find((x) => x.name === `${version}/question-answer`);
      if (!fx) throw new Error(`no fixture ${version}/question-answer`);
      const qFrames = framesOf(fx.sse);
      const at = qFrames.findIndex((f) => f.includes('"type":"question.asked"'));
      const srv = await startReplayServer([{ sessionId: fx.golden[0]?.session_id ?? "", frames: qFrames, holdAfter: at + 1 }]);
      servers.push(srv);
      const seen: BridgeRequest[] = [];
      const adapter = new OpencodeAdapter(
        { baseUrl: srv.url, directory: "/tmp/project-under-test", question: "ask", watchdogMs: 10_000_000, onRequest: (req) => (seen.push(req), { answers: [["Blue"]] }) },
        () => {},
      );
      const pending = adapter.prompt("ask me");
      await vi.waitFor(() => expect(srv.requests.some((r) => r.path.includes("/question/"))).toBe(true));
      expect(seen[0]).toMatchObject({
        kind: "question",
        questions: [{ question: "Which colour should the button be?", header: "Button colour", options: [{ label: "Blue", description: "Calm and familiar" }, { label: "Red" }] }],
        tool: { call_id: "call_question_1" },
      });
      const reply = srv.requests.find((r) => r.path.includes("/question/"));
      expect(reply?.path).toMatch(/^\/question\/que_[^/]+\/reply$/);
      expect(JSON.parse(reply?.body ?? "{}")).toEqual({ answers: [["Blue"]] });
      srv.release(fx.golden[0]?.session_id ?? "");
      expect((await pending).status).toBe("final");
      await adapter.close();
    });
  }
});
