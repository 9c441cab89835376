/**
 * `opencode-bridge prompt` as a user runs it: the built CLI in a child process,
 * against a real opencode serve (given with --url, or started and owned by the CLI).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { ensureOpencode } from "../../src/server/install.js";
import { E2E_VERSION, scenario, startLive, type Live } from "../support/live.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const lines = (s: string) => s.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Reply);

describe("opencode-bridge prompt", () => {
  let live: Live;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    live = await startLive({ permission: "allow" });
    env = { ...process.env, ...live.project.env, OPENCODE_URL: "", OPENCODE_SERVER_PASSWORD: "" };
    delete env.OPENCODE_URL;
    delete env.OPENCODE_SERVER_PASSWORD;
  });
  afterAll(async () => {
    await live?.stop();
  });
  // Asynchronous on purpose: the scripted model runs in this process, so a
  // synchronous spawn would block the very server the CLI talks to.
  const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd?: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, "prompt", ...args], { env: { ...env, ...extraEnv }, cwd });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
      child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("close", (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });

  it("prints the turn's replies as JSON Lines and exits 0 on final", async () => {
    const r = await cli(["--url", live.url, "--directory", live.directory, "--trace-id", "cli-1", scenario("tool")]);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out.every((x) => x.trace_id === "cli-1")).toBe(true);
    expect(out.map((x) => x.kind)).toContain("tool_result");
    expect(out[out.length - 1]).toMatchObject({ kind: "final" });
  });

  it("--pretty shows a readable view; a provider error exits 1", async () => {
    const ok = await cli(["--pretty", "--url", live.url, "--directory", live.directory, scenario("tool")]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("Let me run a command.");
    expect(ok.stdout).toContain("→ bash");
    // The result line shows the tool's title (the command on 1.18, its description on older servers).
    expect(ok.stdout).toMatch(/✓ bash (echo bridge-tool-ok|Echo a marker)/);
    expect(ok.stdout).toMatch(/— done/);
    const bad = await cli(["--pretty", "--url", live.url, "--directory", live.directory, scenario("provider-error")]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("— error (upstream): APIError (HTTP 401)");
  });

  it("reads OPENCODE_URL from the environment", async () => {
    const r = await cli(["--directory", live.directory, scenario("text")], { OPENCODE_URL: live.url });
    expect(r.status).toBe(0);
    expect(lines(r.stdout).pop()).toMatchObject({ kind: "final", content: "Hello from the scripted model. This is plain text." });
  });

  it("without --url it starts its own opencode serve with a generated password, and stops it", async () => {
    const bin = await ensureOpencode(E2E_VERSION);
    const r = await cli(["--directory", live.directory, "--log-level", "info", scenario("text")], { OPENCODE_BIN: bin });
    expect(r.status).toBe(0);
    expect(lines(r.stdout).pop()).toMatchObject({ kind: "final" });
    const logs = r.stderr;
    expect(logs).toContain("opencode serve ready");
    const pid = /"pid":(\d+),"msg":"opencode serve ready"/.exec(logs)?.[1] ?? /"pid":(\d+)[^\n]*opencode serve ready/.exec(logs)?.[1];
    expect(pid).toBeDefined();
    // The generated password never shows in the output or the logs.
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/OPENCODE_SERVER_PASSWORD=|"password"/);
    // Nothing of its session runs on (a zombie left for init to reap is not running).
    const alive = spawnSync("ps", ["-o", "pid=,stat=", "-s", String(pid)], { encoding: "utf8" })
      .stdout.split("\n")
      .filter((l) => l.trim() !== "" && !/\bZ/.test(l.trim().split(/\s+/)[1] ?? ""));
    expect(alive).toEqual([]);
  });

  it("Ctrl-C aborts the turn: error aborted, exit 130", async () => {
    const child = spawn(process.execPath, [CLI, "prompt", "--jsonl", "--url", live.url, "--directory", live.directory, scenario("slow")], {
      env,
    });
    let out = "";
    let signalled = false;
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
      if (!signalled && out.split("\n").length > 5) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(130);
    const replies = lines(out);
    expect(replies[replies.length - 1]).toMatchObject({ kind: "error", code: "aborted" });
    expect(contractViolations(replies)).toEqual([]);
  });

  it("--scripted runs a turn with no API key from any directory, writes nothing there, and leaves nothing running", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "cli-scripted-"));
    try {
      const r = await cli(["--scripted", "--scenario", "tool", "--permission", "allow", "--jsonl", "--log-level", "info", "run it"], {}, cwd);
      expect(r.status, r.stderr).toBe(0);
      const out = lines(r.stdout);
      expect(contractViolations(out)).toEqual([]);
      expect(out.find((x) => x.kind === "tool_result")).toMatchObject({ status: "completed", output: "bridge-tool-ok\n" });
      expect(out.pop()).toMatchObject({ kind: "final", content: "Let me run a command.The command printed bridge-tool-ok." });
      expect(readdirSync(cwd)).toEqual([]);
      const pid = Number(/"pid":(\d+)[^\n]*opencode serve ready/.exec(r.stderr)?.[1]);
      expect(pid).toBeGreaterThan(0);
      expect(() => process.kill(-pid, 0)).toThrow();
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it("bad usage exits 2; an unreachable server exits 1 with error transport", async () => {
    expect((await cli([])).status).toBe(2);
    expect((await cli(["--permission", "maybe", "x"])).status).toBe(2);
    expect((await cli(["--idle-timeout", "-1", "x"])).status).toBe(2);
    expect((await cli(["--model", "nomodel", "x"])).status).toBe(2);
    const r = await cli(["--url", "http://127.0.0.1:9", "--directory", live.directory, "hi"]);
    expect(r.status).toBe(1);
    expect(lines(r.stdout).pop()).toMatchObject({ kind: "error", code: "transport" });
  });
});
