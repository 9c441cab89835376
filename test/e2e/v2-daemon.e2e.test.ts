/**
 * The daemon (`opencode-bridge serve --opencode-url`, spawned as users run it) in
 * front of a real OpenCode 2.1.2 with the scripted model: its health names the 2.x
 * line, a subagent outlives a 3 s idle timeout, and a permission and a question are
 * answered over HTTP exactly as on 1.x,
 * and in the console (real headless Chromium: "Allow once", then the question's option).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import { scenario, type Live } from "../support/live.js";
import { callDaemon, pendingRequest, startLiveDaemon, stopLiveDaemon, turnEvents, type Daemon } from "./daemon-process.js";
import { openConsole } from "../support/console.js";

const TOKEN = "v2-daemon-token-0123456789abcdef";
const auth = { authorization: `Bearer ${TOKEN}` };

describe("the daemon in front of OpenCode 2.1.2", () => {
  let live: Live;
  let daemon: Daemon;
  beforeAll(async () => void ({ live, daemon } = await startLiveDaemon(TOKEN, { version: PINNED_OPENCODE2_VERSION, permission: "ask" })));
  afterAll(() => stopLiveDaemon(daemon, live));

  it("/healthz names the line and the version", async () => {
    const health = await callDaemon(daemon, "GET", "/healthz", undefined, {});
    expect(health.json).toMatchObject({ status: "ok", opencode: { mode: "external", healthy: true, version: "2.1.2", line: 2, supported: true } });
  });

  it("a permission answered over HTTP: the tool runs, the turn ends final", async () => {
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("permission"), trace_id: "v2-perm", permission: "ask" }, auth);
    expect(started.status, started.text).toBe(202);
    // A client follows the turn (with nobody to answer, the daemon would reject at once).
    const events = turnEvents(daemon, "v2-perm", auth);
    const req = await pendingRequest(daemon, "v2-perm", auth, 30_000);
    expect(req.kind).toBe("permission");
    const path = `/v1/turns/v2-perm/requests/${req.request_id}`;
    const ok = await callDaemon(daemon, "POST", path, { reply: "once" }, auth);
    expect(ok.status, ok.text).toBe(200);
    expect((await callDaemon(daemon, "POST", path, { reply: "reject" }, auth)).status).toBe(409);
    const { replies, done } = await events;
    expect(done).toMatchObject({ outcome: "final" });
    expect(replies.find((r) => r.kind === "tool_result")).toMatchObject({ tool: "shell", status: "completed", output: "needs-permission\n" });
    expect(replies.at(-1)).toMatchObject({ kind: "final", content: "After the permission decision." });
    expect(replies.map((r) => r.seq)).toEqual(replies.map((_, i) => i));
  });

  it("a subagent working longer than the turn's idle timeout (~8 s against 3 s): final with the parent's text", async () => {
    // A fresh server's first prompt can outlast a 3 s idle clock: warmed with the default one.
    expect((await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("text"), trace_id: "v2-warm" }, auth)).status).toBe(202);
    expect((await turnEvents(daemon, "v2-warm", auth)).done).toMatchObject({ outcome: "final" });
    const body = { text: scenario("slow-subagent"), trace_id: "v2-slow-subagent", permission: "allow", timeouts: { idle_ms: 3_000 } };
    const started = await callDaemon(daemon, "POST", "/v1/turns", body, auth);
    expect(started.status, started.text).toBe(202);
    const { replies, done } = await turnEvents(daemon, "v2-slow-subagent", auth);
    expect(done).toMatchObject({ outcome: "final" });
    expect(replies.filter((r) => r.kind === "tool_result")).toMatchObject([{ tool: "subagent", status: "completed" }]);
    expect(replies.at(-1)).toMatchObject({ kind: "final", content: "The slow subagent finished its work." });
    expect(live.model.requests.some((q) => q.scenario === "slow-child")).toBe(true);
  });

  it("a question answered over HTTP: the chosen label reaches the tool, the turn ends final", async () => {
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("question"), trace_id: "v2-question", question: "ask" }, auth);
    expect(started.status, started.text).toBe(202);
    const events = turnEvents(daemon, "v2-question", auth);
    const req = await pendingRequest(daemon, "v2-question", auth, 30_000);
    expect(req.kind).toBe("question");
    const ok = await callDaemon(daemon, "POST", `/v1/turns/v2-question/requests/${req.request_id}`, { answers: [["Blue"]] }, auth);
    expect(ok.status, ok.text).toBe(200);
    const { replies, done } = await events;
    expect(done).toMatchObject({ outcome: "final" });
    const result = replies.find((r) => r.kind === "tool_result");
    expect(result).toMatchObject({ tool: "question", status: "completed" });
    expect(JSON.stringify(result)).toContain('=\\"Blue\\"');
    expect(replies.at(-1)?.kind).toBe("final");
  });

  it("in the console (headless Chromium): Allow once on the 2.x permission, then the question's option; both turns end final", async (ctx) => {
    const ui = await openConsole(ctx, daemon.url, TOKEN, { width: 1100, height: 640 });
    if (!ui) return;
    const { page, problems } = ui;
    try {
      const perm = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("permission"), trace_id: "v2-console-perm", permission: "ask" }, auth);
      expect(perm.status, perm.text).toBe(202);
      await page.locator(".turn", { hasText: "v2-console-perm" }).click({ timeout: 20_000 });
      const allow = page.getByRole("button", { name: "Allow once" });
      await allow.waitFor({ timeout: 30_000 });
      // 2.x's shell tool asks with the command, as 1.x's bash does.
      await expect(page.locator(".request").first().textContent()).resolves.toContain("echo needs-permission");
      await allow.click();
      await page.getByText("Turn finished (final).").waitFor({ timeout: 30_000 });
      await expect(page.locator(".tool.completed").first().textContent()).resolves.toContain("needs-permission");
      expect((await callDaemon(daemon, "GET", "/v1/turns/v2-console-perm", undefined, auth)).json).toMatchObject({ state: "finished", outcome: "final" });

      const q = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("question"), trace_id: "v2-console-question", question: "ask" }, auth);
      expect(q.status, q.text).toBe(202);
      await page.locator(".turn", { hasText: "v2-console-question" }).click({ timeout: 20_000 });
      const blue = page.locator(".request").getByRole("button", { name: "Blue", exact: true });
      await blue.waitFor({ timeout: 30_000 });
      await blue.click();
      await page.getByText("Turn finished (final).").waitFor({ timeout: 30_000 });
      const after = await callDaemon(daemon, "GET", "/v1/turns/v2-console-question", undefined, auth);
      expect(after.json).toMatchObject({ state: "finished", outcome: "final" });
      const { replies } = await turnEvents(daemon, "v2-console-question", auth);
      expect(JSON.stringify(replies.find((r) => r.kind === "tool_result"))).toContain('=\\"Blue\\"');
      expect(problems).toEqual([]);
    } finally {
      await ui.close();
    }
  }, 180_000);
});
