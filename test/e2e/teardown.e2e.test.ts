/**
 * A test run leaves nothing behind, even when its tests do: a run of a careless
 * test file (test/support/leaky) that starts an `opencode serve` without a
 * reaper and a detached helper, stops neither, and times out, ends with both
 * killed by the global teardown and its temp directories removed.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ROOT } from "../support/host.js";
import { isRunning, killGroup, runGroup } from "../support/processes.js";

it("a run whose test leaks processes and times out leaves no process and no temp directory", async () => {
  const report = join(await mkdtemp(join(tmpdir(), "leak-report-")), "report.json");
  const r = await runGroup(
    process.execPath,
    [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "--config", join(ROOT, "test", "support", "leaky", "vitest.config.ts")],
    { cwd: ROOT, env: { ...process.env, LEAK_REPORT: report }, timeoutMs: 110_000 },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  expect(r.timedOut, out.slice(-3000)).toBe(false);
  // The careless file failed (its second test timed out)...
  expect(r.status, out.slice(-3000)).toBe(1);
  expect(out).toMatch(/Test timed out in 1000ms/);
  // ...after starting a server and a helper that nothing stopped.
  const leaked = JSON.parse(readFileSync(report, "utf8")) as { pids: number[]; dirs: string[]; tmp: string };
  try {
    expect(leaked.pids).toHaveLength(2);
    expect(out).toMatch(/global teardown: killed \d+ process\(es\) the tests left running/);
    expect(leaked.pids.filter(isRunning)).toEqual([]);
    expect(leaked.tmp).toContain("ocb-run-");
    expect([...leaked.dirs, leaked.tmp].filter((d) => existsSync(d))).toEqual([]);
  } finally {
    // This run's own teardown would not find them: they carry the inner run's marker.
    for (const pid of leaked.pids) killGroup(pid);
  }
}, 120_000);
