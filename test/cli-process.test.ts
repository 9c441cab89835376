/**
 * The built `opencode-bridge` executable as a real process, where the process
 * boundary is the point: exit statuses, stdout/stderr, a closed stdout. Needs
 * `dist/` (npm run build). Everything else about the CLI: test/cli.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES, loadFixtures } from "./support/fixtures.js";

const CLI = join(import.meta.dirname, "..", "dist", "cli", "main.js");
const scratch = mkdtempSync(join(tmpdir(), "cli-process-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const exe = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: scratch, encoding: "utf8", timeout: 20_000 });
const lines = (s: string) => s.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);

describe("the built executable", () => {
  it("runs a command from any directory, prints help, and reports usage errors with exit 2", () => {
    const f = loadFixtures().find((x) => x.scenario === "tool" && x.version === "1.18.33");
    if (!f) throw new Error("no tool fixture");
    const r = exe(["replay", join(FIXTURES, f.version, "tool.sse"), "--trace-id", "trace-tool"]);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual(f.golden);
    const help = exe(["serve", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: opencode-bridge serve/);
    const bad = exe(["prompt", "--log-level", "verbose", "hi"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('opencode-bridge: --log-level takes one of fatal, error, warn, info, debug, trace, silent, got "verbose"\nsee `opencode-bridge prompt --help`\n');
  });

  it("a closed stdout ends it quietly", () => {
    // 1,200 replies written one by one: the reader is long gone before the last.
    const long = join(FIXTURES, "1.18.33", "long.sse");
    const r = spawnSync("sh", ["-c", `"${process.execPath}" "${CLI}" replay "${long}" | head -1`], { encoding: "utf8", timeout: 20_000 });
    expect(lines(r.stdout)).toHaveLength(1);
    expect(r.stderr).toBe("");
  });
});
