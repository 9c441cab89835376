/**
 * `serve --tool-timeout S` from the outside: the built CLI's daemon in a child
 * process, in front of a real `opencode serve` and the scripted model, driven over
 * HTTP. A bash step quiet for 8 s (scenario quiet-tool) under a 2 s bound ends the
 * turn `error` `timeout` naming the tool; the daemon stays healthy and runs the
 * next turns; a turn's own `timeouts.tool_ms` overrides the daemon's bound; SIGTERM
 * then shuts it down cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations } from "../../src/codec/reply.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { callDaemon, startDaemon, turnEvents, type Daemon } from "./daemon-process.js";

const TOKEN = "e2e-tool-timeout-token-3f9a1c";
const auth = { authorization: `Bearer ${TOKEN}` };

describe("serve --tool-timeout", () => {
  let live: Live | undefined;
  let daemon: Daemon | undefined;

  beforeAll(async () => {
    live = await startLive({ permission: "allow" });
    daemon = await startDaemon(["--opencode-url", live.url, "--directory", live.directory, "--tool-timeout", "2"], { BRIDGE_TOKEN: TOKEN });
  });
  afterAll(async () => {
    // Whatever happened: the daemon is stopped (SIGKILL if SIGTERM is not enough), then OpenCode and the model.
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill("SIGKILL");
      await daemon.exited;
    }
    await live?.stop();
  });

  async function turn(body: Record<string, unknown>) {
    const d = daemon as Daemon;
    const r = await callDaemon(d, "POST", "/v1/turns", body, auth);
    expect(r.status, r.text).toBe(202);
    const traceId = (r.json as { trace_id: string }).trace_id;
    return { traceId, ...(await turnEvents(d, traceId, auth)) };
  }

  it("a tool running longer than the bound ends the turn error timeout, naming the tool; the daemon stays healthy", async () => {
    const slow = await turn({ text: scenario("quiet-tool") });
    expect(slow.done?.outcome).toBe("timeout");
    expect(slow.replies.at(-1)).toMatchObject({
      kind: "error",
      trace_id: slow.traceId,
      code: "timeout",
      error: "the bash tool ran for longer than 2000 ms (toolTimeoutMs)",
    });
    expect(slow.replies.some((r) => r.kind === "tool_call")).toBe(true);
    expect(slow.replies.some((r) => r.kind === "final")).toBe(false);
    expect(contractViolations(slow.replies)).toEqual([]);
    // Ended by the bound, not by the tool finishing (it sleeps 8 s, then prints quiet-done): the abort's result at most
    // (OpenCode reports the aborted command "completed" with "User aborted the command").
    expect(slow.replies.some((r) => r.kind === "tool_result" && String((r as { output?: unknown }).output ?? "").includes("quiet-done"))).toBe(false);

    const health = await callDaemon(daemon as Daemon, "GET", "/healthz", undefined, {});
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: "ok", opencode: { healthy: true } });

    const next = await turn({ text: scenario("text") });
    expect(next.done?.outcome).toBe("final");
    expect(next.replies.at(-1)).toMatchObject({ kind: "final", trace_id: next.traceId });

    const metrics = await callDaemon(daemon as Daemon, "GET", "/metrics", undefined, auth);
    expect(metrics.text).toMatch(/^opencode_bridge_turns_total\{outcome="timeout"\} 1$/m);
  }, 60_000);

  it("a turn's timeouts.tool_ms overrides the daemon's bound: the same quiet tool now finishes, final", async () => {
    const r = await turn({ text: scenario("quiet-tool"), timeouts: { tool_ms: 30_000 } });
    expect(r.done?.outcome).toBe("final");
    expect(r.replies.at(-1)).toMatchObject({ kind: "final", content: "The quiet command finished." });
    expect(r.replies.filter((x) => x.kind === "tool_result")).toMatchObject([{ status: "completed", output: expect.stringContaining("quiet-done") }]);
  }, 60_000);

  it("then SIGTERM shuts the daemon down cleanly: exit 0", async () => {
    const d = daemon as Daemon;
    d.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
  }, 30_000);
});
