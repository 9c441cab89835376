/**
 * The console an operator can trust, driven in real headless Chromium against
 * the daemon as its users run it (the built CLI's `serve`, token required) in
 * front of a real `opencode serve` whose bash permission is `ask`:
 * - a second turn that starts waiting opens by itself, the tab title counts it,
 *   the request card says what "always" grants;
 * - Abort ends a turn (`aborted`), and the answer is said in words;
 * - a turn that started and ended before the page looked again is listed (the
 *   list is a stream), with its duration, model and usage;
 * - the page sends no inline script (CSP `script-src 'self'`) and `nosniff`;
 * - usable at 420 px: the turn's pane gets most of the width.
 * Screenshots go to docs/img/. Without Chromium (`npm run setup:browser`) the
 * test skips with a loud message.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenario, type Live } from "../support/live.js";
import { callDaemon, rawRequest, turnEvents, type Daemon, startLiveDaemon, stopLiveDaemon } from "./daemon-process.js";
import { IMG, openConsole } from "../support/console.js";

const TOKEN = "e2e-console-token-2d8e5b13";
const auth = { authorization: `Bearer ${TOKEN}` };

describe("the console in headless Chromium", () => {
  let live: Live;
  let daemon: Daemon;
  beforeAll(async () => void ({ live, daemon } = await startLiveDaemon(TOKEN, { permission: "ask" })));
  afterAll(() => stopLiveDaemon(daemon, live));

  it("serves no inline script and nosniff", async () => {
    const page = await rawRequest(daemon, "GET", "/console", {});
    expect(page.headers["content-security-policy"]).toMatch(/script-src 'self'/);
    expect(page.headers["content-security-policy"]).not.toMatch(/unsafe-inline'[^;]*;?\s*$|script-src[^;]*unsafe-inline/);
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    expect(page.text).not.toMatch(/<script>(?!<\/script>)/);
    expect(page.text).toContain('<script src="/console.js"></script>');
    const js = await rawRequest(daemon, "GET", "/console.js", {});
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(js.headers["x-content-type-options"]).toBe("nosniff");
    expect((await rawRequest(daemon, "GET", "/v1/turns", auth)).headers["x-content-type-options"]).toBe("nosniff");
  });

  it("a second waiting turn opens by itself, Abort ends it, a quick turn is listed with its numbers; desktop and 420 px", async (ctx) => {
    const ui = await openConsole(ctx, daemon.url, TOKEN, { width: 1100, height: 700 });
    if (!ui) return;
    const { page, problems } = ui;
    try {
      mkdirSync(IMG, { recursive: true });
      // A turn that starts and ends while the page only listens: it is listed, with its numbers.
      const quick = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("text"), trace_id: "console-quick" }, auth);
      expect(quick.status).toBe(202);
      expect((await turnEvents(daemon, "console-quick", auth)).done?.outcome).toBe("final");
      const quickRow = page.locator(".turn", { hasText: "console-quick" });
      await quickRow.waitFor({ timeout: 10_000 });
      await expect(quickRow.textContent()).resolves.toMatch(/took [\d.]+ m?s · scripted\/scripted-model · \d+ in \/ \d+ out tokens/);

      // A running turn is followed; then a second turn starts waiting for a person: it opens by itself.
      expect((await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("quiet-tool"), trace_id: "console-busy", permission: "allow" }, auth)).status).toBe(202);
      await page.locator("#view h1", { hasText: "console-busy" }).waitFor({ timeout: 20_000 });
      expect((await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("permission"), trace_id: "console-waits" }, auth)).status).toBe(202);
      await page.locator("#view h1", { hasText: "console-waits" }).waitFor({ timeout: 30_000 });
      await page.getByRole("button", { name: "Allow once" }).waitFor({ timeout: 10_000 });
      await expect(page.title()).resolves.toBe("(1 waiting) opencode-bridge console");
      await expect(page.locator("#banner").textContent()).resolves.toContain("console-waits");
      await expect(page.locator(".request .always").textContent()).resolves.toContain("echo *");
      await page.screenshot({ path: join(IMG, "console-waiting.png") });

      // Abort the waiting turn from the page: it ends aborted, its request settled in words.
      await page.getByRole("button", { name: "Abort" }).click();
      await page.getByText(/Turn ended: aborted/).waitFor({ timeout: 30_000 });
      await expect(page.locator(".request .said").textContent()).resolves.toMatch(/^Rejected \(the turn was stopped\)|^Settled: the turn ended first\./);
      await expect(page.title()).resolves.toBe("opencode-bridge console");
      const after = await callDaemon(daemon, "GET", "/v1/turns/console-waits", undefined, auth);
      expect(after.json).toMatchObject({ state: "finished", outcome: "aborted" });

      // Phone width: the list folds above the turn, whose pane takes the width.
      await page.setViewportSize({ width: 420, height: 800 });
      const main = await page.locator("#main").boundingBox();
      expect(main?.width).toBeGreaterThanOrEqual(380);
      await page.screenshot({ path: join(IMG, "console-420px.png"), fullPage: true });
      expect((await turnEvents(daemon, "console-busy", auth)).done?.outcome).toBe("final");
      expect(problems).toEqual([]);
    } finally {
      await ui.close();
    }
  }, 180_000);
});
