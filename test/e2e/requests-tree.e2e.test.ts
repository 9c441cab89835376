/**
 * Requests from anywhere in a turn's tree, and `ask` that waits for a person,
 * through the daemon as its users run it (the built CLI's `serve` in a child
 * process) in front of a real `opencode serve` whose bash permission is `ask`:
 * - a subagent's (`task` child session's) permission reaches a client labelled
 *   with the subagent, is answered over HTTP, its command runs, the turn ends
 *   `final`; under `reject` it is refused at once; an abort settles it;
 * - a client that subscribes 1.5 s after starting an `ask` turn still answers;
 * - `--answer-timeout` bounds a request nobody answers (`by: "timeout"`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reply } from "../../src/codec/reply.js";
import { scenario, type Live } from "../support/live.js";
import { callDaemon, follow, until, type Daemon, type Frame, startLiveDaemon, stopLiveDaemon } from "./daemon-process.js";

const TOKEN = "e2e-requests-tree-token-5b21";
const auth = { authorization: `Bearer ${TOKEN}` };
const replies = (frames: Frame[]) => frames.filter((f) => f.event === "reply").map((f) => f.data as unknown as Reply);

interface Asked {
  request_id: string;
  session_id: string;
  permission: string;
  patterns: string[];
  always: string[];
  subagent?: { session_id: string; description?: string; agent?: string };
}

describe("requests from a turn's subagents, and ask that waits", () => {
  let live: Live;
  let daemon: Daemon;
  /** OpenCode's own view: what it still holds as pending, and what a session's messages say. */
  const oc = async (path: string) => {
    const res = await fetch(`${live.url}${path}${path.includes("?") ? "&" : "?"}directory=${encodeURIComponent(live.directory)}`);
    return (await res.json()) as unknown;
  };
  beforeAll(async () => void ({ live, daemon } = await startLiveDaemon(TOKEN, { permission: "ask" })));
  afterAll(() => stopLiveDaemon(daemon, live));

  it("a subagent's permission reaches the client labelled with the subagent, is answered over HTTP, the command runs, the turn ends final", async () => {
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("subagent-permission"), trace_id: "tree-ask" }, auth);
    expect(started.status, started.text).toBe(202);
    const parentSession = started.json?.session_id as string;
    const s = follow(daemon, "tree-ask", auth);
    const asked = (await until(() => s.frames.find((f) => f.event === "request"), "the subagent's request")).data.request as Asked;
    // What "always" would grant is OpenCode's own wider pattern, carried with the request.
    expect(asked.always).toEqual(["echo *"]);
    expect(asked).toMatchObject({ permission: "bash", patterns: ["echo needs-permission"], subagent: { description: "Run a guarded command", agent: "general" } });
    expect(asked.session_id).not.toBe(parentSession);
    expect(asked.subagent?.session_id).toBe(asked.session_id);
    // The daemon lists it as the turn's pending request, as OpenCode does for the child session.
    const turn = await callDaemon(daemon, "GET", "/v1/turns/tree-ask", undefined, auth);
    expect(turn.json).toMatchObject({ state: "running", pending_requests: [{ request_id: asked.request_id, subagent: { session_id: asked.session_id } }] });
    const ok = await callDaemon(daemon, "POST", `/v1/turns/tree-ask/requests/${asked.request_id}`, { reply: "once" }, auth);
    expect(ok.status, ok.text).toBe(200);
    await s.ended;
    expect(s.frames.find((f) => f.event === "request_resolved")?.data).toMatchObject({ request_id: asked.request_id, by: "host", answer: { reply: "once" } });
    expect(replies(s.frames).at(-1)).toMatchObject({ kind: "final", content: "The subagent reported back." });
    expect(s.frames.at(-1)).toMatchObject({ event: "done", data: { outcome: "final" } });
    // The subagent's command really ran, in its own session.
    const msgs = (await oc(`/session/${asked.session_id}/message`)) as { parts: { type: string; tool?: string; state?: { status: string; output?: string } }[] }[];
    const bash = msgs.flatMap((m) => m.parts).find((p) => p.type === "tool" && p.tool === "bash");
    expect(bash?.state).toMatchObject({ status: "completed", output: "needs-permission\n" });
  });

  it("under reject a subagent's permission is refused at once: the turn ends final long before any deadline", async () => {
    const t0 = performance.now();
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("subagent-permission"), trace_id: "tree-reject", permission: "reject" }, auth);
    expect(started.status, started.text).toBe(202);
    const s = follow(daemon, "tree-reject", auth);
    await s.ended;
    const asked = s.frames.find((f) => f.event === "request")?.data.request as Asked | undefined;
    expect(asked?.subagent).toMatchObject({ description: "Run a guarded command" });
    expect(s.frames.find((f) => f.event === "request_resolved")?.data).toMatchObject({ by: "policy", answer: { reply: "reject" } });
    expect(replies(s.frames).at(-1)).toMatchObject({ kind: "final", content: "The subagent reported back." });
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it("an abort settles a subagent's waiting request: by ended, the turn ends aborted, OpenCode holds nothing pending", async () => {
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("subagent-permission"), trace_id: "tree-abort" }, auth);
    expect(started.status, started.text).toBe(202);
    const s = follow(daemon, "tree-abort", auth);
    const asked = (await until(() => s.frames.find((f) => f.event === "request"), "the subagent's request")).data.request as Asked;
    expect(asked.subagent).toBeDefined();
    expect((await callDaemon(daemon, "POST", "/v1/turns/tree-abort/abort", undefined, auth)).status).toBe(202);
    await s.ended;
    expect(s.frames.find((f) => f.event === "request_resolved")?.data).toMatchObject({ request_id: asked.request_id, by: "ended", answer: { reply: "reject" } });
    expect(replies(s.frames).at(-1)).toMatchObject({ kind: "error", code: "aborted" });
    const pending = (await oc("/permission")) as { id: string }[];
    expect(pending.map((p) => p.id)).not.toContain(asked.request_id);
  });

  it("ask means ask: a client that subscribes 1.5 s after starting the turn gets the request, answers it, and the tool runs", async () => {
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("permission"), trace_id: "tree-late", permission: "ask" }, auth);
    expect(started.status, started.text).toBe(202);
    await new Promise((r) => setTimeout(r, 1_500));
    const s = follow(daemon, "tree-late", auth);
    const asked = (await until(() => s.frames.find((f) => f.event === "request"), "the pending request")).data.request as Asked;
    expect(s.frames.some((f) => f.event === "request_resolved")).toBe(false);
    const ok = await callDaemon(daemon, "POST", `/v1/turns/tree-late/requests/${asked.request_id}`, { reply: "once" }, auth);
    expect(ok.status, ok.text).toBe(200);
    await s.ended;
    expect(replies(s.frames).find((r) => r.kind === "tool_result")).toMatchObject({ status: "completed", output: "needs-permission\n" });
    expect(replies(s.frames).at(-1)).toMatchObject({ kind: "final" });
  });

  it("question answers that do not fit the question get 400 (two labels for one choice, none, an empty one); a fitting one is taken", async () => {
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("question"), trace_id: "tree-question", question: "ask" }, auth);
    expect(started.status, started.text).toBe(202);
    const s = follow(daemon, "tree-question", auth);
    const asked = (await until(() => s.frames.find((f) => f.event === "request"), "the question")).data.request as { request_id: string };
    const path = `/v1/turns/tree-question/requests/${asked.request_id}`;
    const two = await callDaemon(daemon, "POST", path, { answers: [["Blue", "Red"]] }, auth);
    expect(two.status).toBe(400);
    expect(two.json?.error).toMatch(/one choice only/);
    expect((await callDaemon(daemon, "POST", path, { answers: [[]] }, auth)).status).toBe(400);
    expect((await callDaemon(daemon, "POST", path, { answers: [[""]] }, auth)).status).toBe(400);
    const ok = await callDaemon(daemon, "POST", path, { answers: [["Red"]] }, auth);
    expect(ok.status, ok.text).toBe(200);
    await s.ended;
    expect(s.frames.find((f) => f.event === "request_resolved")?.data).toMatchObject({ by: "host", answer: { answers: [["Red"]] } });
    expect(replies(s.frames).at(-1)).toMatchObject({ kind: "final", content: "I need to ask you something.Thanks for answering." });
  });
});

describe("serve --answer-timeout", () => {
  let live: Live;
  let daemon: Daemon;
  beforeAll(async () => void ({ live, daemon } = await startLiveDaemon(TOKEN, { permission: "ask" }, ["--answer-timeout", "2"])));
  afterAll(() => stopLiveDaemon(daemon, live));

  it("a request nobody answers is rejected after the deadline (by timeout, logged so), and the model answers", async () => {
    const t0 = performance.now();
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("permission"), trace_id: "deadline" }, auth);
    expect(started.status, started.text).toBe(202);
    // Subscribed from the start (a subscriber that does not answer is still nobody answering): one that
    // joins after the deadline would race the request_resolved notice, which late subscribers do not get.
    const s = follow(daemon, "deadline", auth);
    await daemon.waitForLog(/"by":"timeout"/, 30_000);
    const waited = performance.now() - t0;
    await s.ended;
    expect(s.frames.find((f) => f.event === "request_resolved")?.data).toMatchObject({ by: "timeout", answer: { reply: "reject" } });
    expect(replies(s.frames).find((r) => r.kind === "tool_result")).toMatchObject({ status: "error" });
    expect(replies(s.frames).at(-1)).toMatchObject({ kind: "final" });
    expect(waited).toBeGreaterThan(2_000);
    expect(daemon.stderr()).not.toMatch(/"by":"nobody"/);
  });
});
