/**
 * A careless test file (run only by test/e2e/teardown.e2e.test.ts): it starts an
 * `opencode serve` without a reaper and a detached helper process, makes a temp
 * directory, stops none of them, and then hangs until its test times out.
 * It writes what it started to $LEAK_REPORT.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "vitest";
import { ensureOpencode } from "../../../src/server/install.js";
import { startManagedServer } from "../../../src/server/managed.js";
import { createScriptedProject } from "../../../src/server/scripted-project.js";
import { E2E_VERSION } from "../live.js";

it("starts processes and stops none", async () => {
  const dir = mkdtempSync(join(tmpdir(), "leaky-"));
  const helper = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { detached: true, stdio: "ignore" });
  const project = await createScriptedProject({ modelUrl: "http://127.0.0.1:9/v1" });
  const server = await startManagedServer({
    binary: await ensureOpencode(E2E_VERSION),
    cwd: project.dir,
    env: project.env,
    reaper: false,
    readyTimeoutMs: 50_000,
  });
  writeFileSync(
    process.env.LEAK_REPORT as string,
    JSON.stringify({ pids: [helper.pid, server.pid], dirs: [dir, project.dir], tmp: tmpdir() }),
  );
});

it("hangs until it times out", async () => {
  await new Promise(() => {});
}, 1_000);
