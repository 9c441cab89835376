/**
 * `opencode-bridge demo` as a user runs it: the built CLI, offline, with the
 * pinned opencode-ai from the per-user cache (installed by the global setup).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { groupAlive } from "../support/processes.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "dist", "cli", "main.js");

// Asynchronous on purpose, and bounded: the demo starts servers of its own.
function demo(args: string[], cwd = ROOT) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.OPENCODE_URL;
    delete env.OPENCODE_SERVER_PASSWORD;
    const child = spawn(process.execPath, [CLI, "demo", ...args], { cwd, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("opencode-bridge demo", () => {
  it("streams text and a tool call readably, exits 0, and leaves nothing behind", async () => {
    // From a directory of its own: the demo finds the cached opencode and writes nothing there.
    const cwd = mkdtempSync(join(tmpdir(), "demo-cwd-"));
    const r = await demo(["--log-level", "info"], cwd);
    expect(readdirSync(cwd)).toEqual([]);
    rmSync(cwd, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("Hello! I am a scripted model running on your machine. Let me look at the project with a tool.");
    expect(r.stdout).toContain("→ bash");
    expect(r.stdout).toContain("✓ bash cat greeting.txt");
    expect(r.stdout).toContain("The file says hello from opencode-bridge.");
    expect(r.stdout).toMatch(/— done/);
    expect(r.stderr).toContain("demo: cleaned up");
    const project = /project (\/\S+)/.exec(r.stderr)?.[1];
    expect(project).toBeDefined();
    expect(existsSync(project as string)).toBe(false);
    const pid = Number(/"pid":(\d+)[^\n]*opencode serve ready/.exec(r.stderr)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(groupAlive(pid)).toBe(false);
  });

  it("--jsonl prints the turn as replies that satisfy the contract", async () => {
    const r = await demo(["--jsonl"]);
    expect(r.status, r.stderr).toBe(0);
    const replies = r.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Reply);
    expect(contractViolations(replies)).toEqual([]);
    expect(replies.find((x) => x.kind === "tool_call")).toMatchObject({ tool: "bash", input: { command: "cat greeting.txt" } });
    expect(replies.find((x) => x.kind === "tool_result")).toMatchObject({ status: "completed", output: "hello from opencode-bridge\n" });
    expect(replies.filter((x) => x.kind === "delta").length).toBeGreaterThan(10);
    expect(replies[replies.length - 1]).toMatchObject({ kind: "final", trace_id: "demo" });
  });

  it("bad usage exits 2", async () => {
    const r = await demo(["--colour"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/colour/);
  });
});
