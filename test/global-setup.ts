/**
 * The test run's setup and teardown.
 *
 * Setup installs the OpenCode versions the end-to-end tests run against, the 1.x
 * one and the pinned 2.x (once; they are cached in the per-user cache,
 * <cache>/opencode/<version>), so that `npm test` needs nothing but npm.
 * It then gives the run a marker and a temporary root, both through the
 * environment every test process and everything it starts inherits:
 * `OPENCODE_BRIDGE_TEST_RUN` names the run, and `TMPDIR` points into the run's own
 * directory, so that every `mkdtemp(tmpdir())` of a test lands there.
 *
 * Teardown, after every test file has ended however it ended (failed, timed out,
 * a hook that never ran), kills every process that still carries the run's marker
 * — an `opencode serve`, a spawned CLI, a host script — together with its process
 * group, says which, and removes the run's directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureOpencode, PINNED_OPENCODE2_VERSION } from "../src/server/install.js";
import { ensureAgent } from "../src/acp/install.js";
import { E2E_VERSION } from "./support/live.js";
import { killRunLeftovers } from "./support/leftovers.js";
import { RUN_MARKER } from "./support/processes.js";

export default async function setup(): Promise<() => Promise<void>> {
  const started = Date.now();
  const bin = await ensureOpencode(E2E_VERSION);
  const took = Date.now() - started;
  if (took > 1000) console.log(`installed opencode ${E2E_VERSION} (${bin}) in ${took} ms`);
  // The 2.x line too (only its platform package): the 2.x tests run against it.
  const started2 = Date.now();
  const bin2 = await ensureOpencode(PINNED_OPENCODE2_VERSION);
  if (Date.now() - started2 > 1000) console.log(`installed opencode ${PINNED_OPENCODE2_VERSION} (${bin2}) in ${Date.now() - started2} ms`);
  // The ACP agents the acp end-to-end tests drive (test/e2e/acp.e2e.test.ts), into the same cache.
  for (const agent of ["claude", "codex"] as const) await ensureAgent(agent);

  // Beside, not inside, a run directory an earlier project's setup made (each vitest
  // project runs this setup), and a short name: Chromium's socket paths under TMPDIR
  // must stay within the 107 bytes a Unix socket path may have.
  const base = (process.env.OPENCODE_BRIDGE_TEST_TMP_BASE ??= tmpdir());
  const root = mkdtempSync(join(base, "ocb-run-"));
  const run = `${process.pid}-${started}`;
  process.env[RUN_MARKER] = run;
  process.env.TMPDIR = root;
  return async () => {
    const killed = await killRunLeftovers(run);
    if (killed.length > 0) {
      console.warn(
        `global teardown: killed ${killed.length} process(es) the tests left running:\n${killed.map((k) => `  ${k.pid} ${k.command}`).join("\n")}`,
      );
    }
    rmSync(root, { recursive: true, force: true });
  };
}
