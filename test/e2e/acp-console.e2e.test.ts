/**
 * A permission request of each real ACP agent — `opencode acp` (1.x and 2.x), Claude Code, Codex,
 * each behind its own `serve --acp` daemon process, offline — answered by a person
 * in the console (headless Chromium): the waiting turn opens by itself, "Allow
 * once" is clicked, the tool runs and the turn ends `final`, its replies keeping
 * the contract. Without Chromium (`npm run setup:browser`) the test skips loudly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations } from "../../src/codec/reply.js";
import { startLiveAgent, type LiveAgent, type LiveAgentName } from "../support/acp.js";
import { callDaemon, startDaemon, turnEvents, type Daemon } from "./daemon-process.js";
import { openConsole } from "../support/console.js";

const TOKEN = "acp-console-token-5c1f0a9e";
const auth = { authorization: `Bearer ${TOKEN}` };

describe.each<LiveAgentName>(["opencode", "opencode2", "claude", "codex"])("the console answers %s's permission request", { timeout: 240_000 }, (name) => {
  let live: LiveAgent;
  let daemon: Daemon;
  beforeAll(async () => {
    live = await startLiveAgent(name, "ask");
    daemon = await startDaemon(["--acp", live.agent.command.join(" "), "--directory", live.agent.dir, "--permission", "ask"], {
      ...live.agent.env,
      BRIDGE_TOKEN: TOKEN,
    });
  });
  afterAll(async () => {
    if (daemon && daemon.child.exitCode === null) {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    }
    await live?.stop();
  });

  it("the waiting turn opens by itself; Allow once runs the tool; the turn ends final", async (ctx) => {
    const ui = await openConsole(ctx, daemon.url, TOKEN, { width: 1100, height: 700 });
    if (!ui) return;
    const { page, problems } = ui;
    try {
      const trace = `console-${name}`;
      const started = await callDaemon(daemon, "POST", "/v1/turns", { text: "[scenario:tool] Do as the scenario says.", trace_id: trace }, auth);
      expect(started.status, started.text).toBe(202);
      const events = turnEvents(daemon, trace, auth);
      await page.locator("#view h1", { hasText: trace }).waitFor({ timeout: 120_000 });
      const allow = page.getByRole("button", { name: "Allow once" });
      await allow.waitFor({ timeout: 120_000 });
      await allow.click();
      const { replies, done } = await events;
      expect(done?.outcome).toBe("final");
      expect(contractViolations(replies)).toEqual([]);
      const result = replies.find((r) => r.kind === "tool_result");
      expect(result).toMatchObject({ status: "completed" });
      expect(JSON.stringify(result)).toContain("bridge-tool-ok");
      await page.getByText("Turn finished (final).").waitFor({ timeout: 10_000 });
      await expect(page.locator(".request .said").textContent()).resolves.toMatch(/^Allowed once/);
      expect(problems).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
