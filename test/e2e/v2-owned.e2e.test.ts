/**
 * OpenCode 2.x owned by the bridge, chosen with `--opencode-version`, as users run
 * it: `demo --opencode-version 2.1.2` and `prompt --scripted --opencode-version 2`
 * run a turn to its final from the per-user cache (installed by the global setup);
 * `serve --scripted --opencode-version 2` owns a 2.1.2 that is killed -9 mid-turn:
 * the turn ends error (never a false final), the daemon restarts OpenCode, and the
 * next turn — plugin tags cut across chunks — ends final with the tag-free text.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { scenario } from "../support/live.js";
import { callDaemon, follow, startDaemon, until, type Frame } from "./daemon-process.js";
import { CLI, lines, text } from "./v2-process.js";

function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.OPENCODE_URL;
    delete env.OPENCODE_SERVER_PASSWORD;
    delete env.OPENCODE_BIN;
    const child = spawn(process.execPath, [CLI, ...args], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("--opencode-version 2: the bridge owns an OpenCode 2.1.2", () => {
  it("demo --opencode-version 2.1.2 runs its turn to final: text, the shell tool and its result; it leaves nothing behind", async () => {
    const r = await run(["demo", "--opencode-version", "2.1.2", "--jsonl"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("opencode serve 2.1.2 (OpenCode 2.x) on http://127.0.0.1:");
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    // The demo's script calls bash; the scripted model calls 2.x's shell, the tool the request offers.
    expect(out.filter((x) => x.kind === "tool_call")).toMatchObject([{ tool: "shell", input: { command: "cat greeting.txt" } }]);
    expect(out.filter((x) => x.kind === "tool_result")).toMatchObject([{ tool: "shell", status: "completed", output: "hello from opencode-bridge\n" }]);
    expect(out[out.length - 1]).toMatchObject({
      kind: "final",
      trace_id: "demo",
      content: expect.stringContaining("The file says hello from opencode-bridge."),
    });
    const project = /project (\/\S+)/.exec(r.stderr)?.[1];
    expect(project).toBeDefined();
    expect(existsSync(project as string)).toBe(false);
  });

  it("prompt --scripted --opencode-version 2 --scenario reasoning: the 2.x turn's replies, exit 0", async () => {
    const r = await run(["prompt", "--jsonl", "--scripted", "--opencode-version", "2", "--scenario", "reasoning", "think first"]);
    expect(r.status, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out.some((x) => x.kind === "reasoning")).toBe(true);
    expect(out[out.length - 1]?.kind).toBe("final");
  });
});

describe("serve --scripted --opencode-version 2: OpenCode 2.1.2 killed -9 mid-turn", () => {
  it("the turn ends error, never final; the daemon restarts OpenCode and the next turn (plugin tags) ends final, tag-free", async () => {
    const token = "v2-owned-token-0123456789abcdef";
    const auth = { authorization: `Bearer ${token}` };
    const d = await startDaemon(["--scripted", "--opencode-version", "2", "--permission", "allow", "--log-level", "info"], { BRIDGE_TOKEN: token, OPENCODE_BIN: "" });
    try {
      const health = await callDaemon(d, "GET", "/healthz", undefined, {});
      expect(health.json).toMatchObject({ status: "ok", opencode: { mode: "owned", healthy: true, version: "2.1.2", line: 2 } });
      const pid = Number(/"pid":(\d+),"msg":"opencode serve ready"/.exec(d.stderr())?.[1]);
      expect(pid).toBeGreaterThan(0);

      const started = await callDaemon(d, "POST", "/v1/turns", { text: scenario("slow"), trace_id: "v2-owned-kill" }, auth);
      expect(started.status, started.text).toBe(202);
      const followed = follow(d, "v2-owned-kill", auth);
      const replies = (fs: Frame[]) => fs.filter((f) => f.event === "reply").map((f) => f.data as unknown as Reply);
      // Once the answer streams: OpenCode dies with the turn half done.
      await until(() => (replies(followed.frames).some((r) => r.kind === "delta") ? true : undefined), "a delta of the slow turn", 60_000);
      process.kill(pid, "SIGKILL");
      await followed.ended;
      const out = replies(followed.frames);
      expect(contractViolations(out)).toEqual([]);
      expect(out.some((r) => r.kind === "final")).toBe(false);
      expect(out.at(-1)).toMatchObject({ kind: "error" });
      expect(["transport", "timeout", "server"]).toContain((out.at(-1) as { code: string }).code);
      // The turn's outcome is its error's code.
      expect(followed.frames.find((f) => f.event === "done")?.data).toMatchObject({ outcome: (out.at(-1) as { code: string }).code });

      // The daemon restarts its OpenCode (another port, another pid); a new turn runs on it.
      await d.waitForLog(/"msg":"opencode serve died: restarting it now"/);
      await until(async () => ((await callDaemon(d, "GET", "/healthz", undefined, {})).status === 200 ? true : undefined), "a restarted OpenCode 2.x", 60_000);
      const again = await callDaemon(d, "POST", "/v1/turns", { text: scenario("plugin-tag"), trace_id: "v2-owned-after" }, auth);
      expect(again.status, again.text).toBe(202);
      const next = follow(d, "v2-owned-after", auth);
      await next.ended;
      const out2 = replies(next.frames);
      expect(contractViolations(out2)).toEqual([]);
      expect(text(out2)).toBe("Kept text  and more text.");
      expect(out2.at(-1)).toMatchObject({ kind: "final", content: "Kept text  and more text." });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- daemon stderr ---\n${d.stderr().slice(-4000)}`);
    } finally {
      d.child.kill("SIGTERM");
      await d.exited;
    }
  });
});
