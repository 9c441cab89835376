/**
 * People answer OpenCode's requests through the daemon as its users run it: the
 * built CLI's `serve` (token required) in front of a real `opencode serve` whose
 * bash permission is `ask`, and the scripted model.
 * - over HTTP: `event: request` frames, a late subscriber, GET /v1/turns/:id,
 *   POST …/requests/:request_id (400/404/409), the turn ends `final`;
 * - in the console (GET /console) driven in real headless Chromium: a live turn,
 *   "Allow once" on a real pending permission, the turn finishes. Screenshots
 *   go to docs/img/. Chromium is Debian's (`npm run setup:browser` installs it);
 *   without it that test is skipped with a loud message.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reply } from "../../src/codec/reply.js";
import { scenario, type Live } from "../support/live.js";
import { callDaemon, follow as followWith, until, type Daemon, startLiveDaemon, stopLiveDaemon } from "./daemon-process.js";
import { IMG, openConsole } from "../support/console.js";

const TOKEN = "e2e-humans-token-3f9a7c21";
const auth = { authorization: `Bearer ${TOKEN}` };

const follow = (d: Daemon, traceId: string) => followWith(d, traceId, auth);

describe("people answer requests through the daemon", () => {
  let live: Live;
  let daemon: Daemon;
  beforeAll(async () => void ({ live, daemon } = await startLiveDaemon(TOKEN, { permission: "ask" })));
  afterAll(() => stopLiveDaemon(daemon, live));

  it("a client sees event: request, a late subscriber sees it pending, it is answered once (409 twice), the turn ends final", async () => {
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("permission"), trace_id: "humans-http", permission: "ask" }, auth);
    expect(started.status, started.text).toBe(202);
    const first = follow(daemon, "humans-http");
    const asked = await until(() => first.frames.find((f) => f.event === "request"), "event: request");
    const req = asked.data.request as { request_id: string; kind: string; permission: string; patterns: string[] };
    expect(req).toMatchObject({ kind: "permission", permission: "bash", patterns: ["echo needs-permission"] });
    // Requests are not replies: every reply before it has its own seq, gapless.
    const before = first.frames.filter((f) => f.event === "reply").map((f) => f.data.seq);
    expect(before).toEqual(before.map((_, i) => i));

    const late = follow(daemon, "humans-http");
    await until(() => late.frames.find((f) => f.event === "request"), "the pending request for a late subscriber");

    const turn = await callDaemon(daemon, "GET", "/v1/turns/humans-http", undefined, auth);
    expect(turn.json).toMatchObject({ trace_id: "humans-http", state: "running", permission: "ask", pending_requests: [{ request_id: req.request_id }] });
    const listed = await callDaemon(daemon, "GET", "/v1/turns", undefined, auth);
    expect((listed.json?.turns as { trace_id: string }[]).map((t) => t.trace_id)).toContain("humans-http");

    const path = `/v1/turns/humans-http/requests/${req.request_id}`;
    expect((await callDaemon(daemon, "POST", path, { reply: "sure" }, auth)).status).toBe(400);
    expect((await callDaemon(daemon, "POST", path, { answers: [["Blue"]] }, auth)).status).toBe(400);
    expect((await callDaemon(daemon, "POST", path, "{not json", auth)).status).toBe(400);
    expect((await callDaemon(daemon, "POST", "/v1/turns/humans-http/requests/per_nope", { reply: "once" }, auth)).status).toBe(404);
    expect((await callDaemon(daemon, "POST", `/v1/turns/nope/requests/${req.request_id}`, { reply: "once" }, auth)).status).toBe(404);
    expect((await callDaemon(daemon, "POST", path, { reply: "once" }, {})).status).toBe(401);
    const ok = await callDaemon(daemon, "POST", path, { reply: "once" }, auth);
    expect(ok.status, ok.text).toBe(200);
    expect((await callDaemon(daemon, "POST", path, { reply: "reject" }, auth)).status).toBe(409);

    await first.ended;
    await late.ended;
    const names = first.frames.map((f) => f.event);
    expect(names.filter((n) => n === "request")).toHaveLength(1);
    expect(names.indexOf("request_resolved")).toBeGreaterThan(names.indexOf("request"));
    expect(names.at(-1)).toBe("done");
    const replies = first.frames.filter((f) => f.event === "reply").map((f) => f.data as unknown as Reply);
    expect(replies.find((r) => r.kind === "tool_result")).toMatchObject({ status: "completed", output: "needs-permission\n" });
    expect(replies.at(-1)).toMatchObject({ kind: "final", content: "After the permission decision." });
    expect(replies.map((r) => r.seq)).toEqual(replies.map((_, i) => i));
    expect(first.frames.find((f) => f.event === "request_resolved")?.data).toMatchObject({ by: "host", answer: { reply: "once" } });
    const after = await callDaemon(daemon, "GET", "/v1/turns/humans-http", undefined, auth);
    expect(after.json).toMatchObject({ state: "finished", outcome: "final", pending_requests: [] });
  });

  it("a turn's own permission policy (reject) overrides the daemon's ask: rejected with a message, the model answers", async () => {
    const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("permission"), trace_id: "humans-nobody", permission: "reject" }, auth);
    expect(started.status).toBe(202);
    const s = follow(daemon, "humans-nobody");
    await s.ended;
    const replies = s.frames.filter((f) => f.event === "reply").map((f) => f.data as unknown as Reply);
    const tr = replies.find((r) => r.kind === "tool_result");
    expect(tr?.kind === "tool_result" && tr.error).toMatch(/policy is "reject"/);
    expect(replies.at(-1)).toMatchObject({ kind: "final" });
  });

  it("the console in headless Chromium: sees the live turn, Allow once on a real pending permission, the turn finishes", async (ctx) => {
    const ui = await openConsole(ctx, daemon.url, TOKEN, { width: 1100, height: 640 });
    if (!ui) return;
    const { page, problems } = ui;
    try {
      const started = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("permission", "Console demo: run a command that needs permission."), trace_id: "humans-console", permission: "ask" }, auth);
      expect(started.status).toBe(202);
      await page.locator(".turn", { hasText: "humans-console" }).click({ timeout: 20_000 });
      const allow = page.getByRole("button", { name: "Allow once" });
      await allow.waitFor({ timeout: 30_000 });
      await expect(page.locator(".request").first().textContent()).resolves.toContain("echo needs-permission");
      mkdirSync(IMG, { recursive: true });
      await page.screenshot({ path: join(IMG, "console-permission.png") });
      await allow.click();
      await page.getByText("Turn finished (final).").waitFor({ timeout: 30_000 });
      await expect(page.locator(".tool.completed").first().textContent()).resolves.toContain("needs-permission");
      await page.screenshot({ path: join(IMG, "console-finished.png") });
      expect(problems).toEqual([]);
      const after = await callDaemon(daemon, "GET", "/v1/turns/humans-console", undefined, auth);
      expect(after.json).toMatchObject({ state: "finished", outcome: "final" });
    } finally {
      await ui.close();
    }
  });
});
