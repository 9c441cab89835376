/**
 * `opencode-bridge replay` as a user runs it: the built CLI in a child process.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, loadFixtures } from "./support/fixtures.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli", "main.js");

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lines = (s: string) => s.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);

describe("opencode-bridge replay", () => {
  const fixtures = loadFixtures();

  it.each(fixtures.map((f) => [f.name, f] as const))("%s prints the golden replies as JSON Lines", (_n, f) => {
    const r = cli(["replay", join(FIXTURES, f.version, `${f.scenario}.sse`), "--trace-id", `trace-${f.scenario}`]);
    expect(lines(r.stdout)).toEqual(f.golden);
    const last = f.golden[f.golden.length - 1];
    expect(r.code).toBe(last?.kind === "final" ? 0 : 1);
  });

  it("--session selects another session of the stream", () => {
    const f = fixtures.find((x) => x.scenario === "interleaved");
    if (!f) throw new Error("no interleaved fixture");
    const sessions = Object.keys(f.record);
    for (const s of sessions) {
      const r = cli(["replay", join(FIXTURES, f.version, "interleaved.sse"), "--session", s]);
      const out = lines(r.stdout);
      expect(out.length).toBeGreaterThan(1);
      expect(new Set(out.map((x) => x.session_id))).toEqual(new Set([s]));
      expect(out.map((x) => x.trace_id)[0]).toBe("replay");
    }
  });

  it("bad usage exits 2 with a message on stderr", () => {
    expect(cli([]).code).toBe(2);
    const missing = cli(["replay", "no/such/file.sse"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no such file: no/such/file.sse");
    const unknownFlag = cli(["replay", "--bogus", "x.sse"]);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/bogus/);
    const unknownCmd = cli(["frobnicate"]);
    expect(unknownCmd.code).toBe(2);
    expect(unknownCmd.stderr).toContain("unknown command: frobnicate");
  });
});
