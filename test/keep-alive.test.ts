/**
 * The keep-alive hold, seen from a real process: with a hold open, a process
 * whose only other work is an unref()ed timer stays alive until the hold is
 * released; released holds leave nothing behind. (In the test runner's own
 * process the event loop is always busy, so this runs in child processes.)
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { holdProcess, openHolds } from "../src/adapter/keep-alive.js";
import { runGroup } from "./support/processes.js";

const MODULE = join(import.meta.dirname, "..", "src", "adapter", "keep-alive.ts");

const runScript = (body: string) =>
  runGroup(process.execPath, ["--import", "tsx", "--input-type=module", "-e", `import { holdProcess } from ${JSON.stringify(MODULE)};\n${body}`], {
    timeoutMs: 20_000,
  });

/** Resolves from an unref()ed timer: alone, it does not keep the process alive. */
const UNREFED_WAIT = `await new Promise((resolve) => setTimeout(resolve, 100).unref());`;

describe("holdProcess", () => {
  it("counts holds across callers; releasing twice releases once", () => {
    const before = openHolds();
    const a = holdProcess();
    const b = holdProcess();
    expect(openHolds()).toBe(before + 2);
    a();
    a();
    expect(openHolds()).toBe(before + 1);
    b();
    expect(openHolds()).toBe(before);
  });

  it("without a hold, a top-level await on an unref()ed timer ends the process with status 13", async () => {
    const r = await runScript(`${UNREFED_WAIT}\nconsole.log("reached");`);
    expect(r.status).toBe(13);
    expect(r.stdout).not.toContain("reached");
  });

  it("a hold keeps the process alive until it is released, with two holds until both are", async () => {
    const r = await runScript(
      `const a = holdProcess();\nconst b = holdProcess();\n${UNREFED_WAIT}\na();\n${UNREFED_WAIT}\nconsole.log("reached");\nb();`,
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("reached");
  });

  it("released holds keep nothing: the process ends by itself", async () => {
    const r = await runScript(`const a = holdProcess();\na();\nsetTimeout(() => console.log("still alive"), 5_000).unref();`);
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
  });
});
