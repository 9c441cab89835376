/**
 * `opencode-bridge prompt` on a pseudo-terminal (util-linux `script` gives it
 * one), as a person runs it: the built CLI with `--scripted` (its own
 * `opencode serve` whose bash permission is `ask`, and the scripted model).
 * The person answers at the terminal; Ctrl-C at the question still aborts.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const SCRIPT = "/usr/bin/script";

/** Runs the CLI under `script` (a pty); `feed` sees the output so far and may type. */
function onPty(args: string[], feed: (out: string, type: (s: string) => void) => void, timeoutMs = 90_000): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn(SCRIPT, ["-qfec", cmd, "/dev/null"], { cwd: ROOT, env: { ...process.env, OPENCODE_URL: "", TERM: "dumb" } });
  let out = "";
  const type = (s: string) => void child.stdin.write(s);
  const take = (c: Buffer) => {
    out += c.toString("utf8");
    feed(out, type);
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    }),
  );
}

describe.skipIf(!existsSync(SCRIPT))("prompt on a terminal", () => {
  it("asks the person about a permission, and obeys: once runs the command", async () => {
    let answered = false;
    const r = await onPty(["prompt", "--scripted", "--scenario", "permission", "run it"], (out, type) => {
      if (!answered && out.includes("Allow? [o]nce, [a]lways, [r]eject:")) {
        answered = true;
        type("o\r");
      }
    });
    expect(r.out).toContain("OpenCode asks permission: bash");
    expect(r.out).toContain("echo needs-permission");
    expect(r.out).toContain("After the permission decision.");
    expect(r.code, r.out).toBe(0);
  });

  it("a subagent's permission is asked at the terminal, labelled, with what always would grant; always runs it", async () => {
    let answered = false;
    const r = await onPty(["prompt", "--scripted", "--scenario", "subagent-permission", "delegate it"], (out, type) => {
      if (!answered && out.includes("Allow? [o]nce, [a]lways, [r]eject:")) {
        answered = true;
        type("a\r");
      }
    });
    expect(r.out).toContain('OpenCode asks permission (from subagent "Run a guarded command", general): bash');
    expect(r.out).toContain("[a]lways would allow from now on: echo *");
    expect(r.out).toContain("The subagent reported back.");
    expect(r.code, r.out).toBe(0);
  });

  it("a rejection with a reason reaches the model; a question is answered by number", async () => {
    let step = 0;
    const r = await onPty(["prompt", "--scripted", "--scenario", "permission", "run it"], (out, type) => {
      if (step === 0 && out.includes("[r]eject:")) {
        step = 1;
        type("r\r");
      } else if (step === 1 && out.includes("Why (told to the model")) {
        step = 2;
        type("not today\r");
      }
    });
    // Once as typed (the echo), once in the tool's error the pretty view prints: the reason reached OpenCode.
    expect(r.out.split("not today").length - 1, r.out).toBeGreaterThanOrEqual(2);
    expect(r.out).toContain("After the permission decision.");
    expect(r.code, r.out).toBe(0);

    let picked = false;
    const q = await onPty(["prompt", "--scripted", "--scenario", "question", "ask me"], (out, type) => {
      if (!picked && out.includes("Your choice")) {
        picked = true;
        type("2\r");
      }
    });
    expect(q.out).toContain("Which colour should the button be?");
    expect(q.out).toContain("1) Blue");
    expect(q.out).toContain("Red");
    expect(q.out).toContain("Thanks for answering.");
    expect(q.code, q.out).toBe(0);
  });

  it("Ctrl-C at the question aborts the turn (exit 130)", async () => {
    let pressed = false;
    const r = await onPty(["prompt", "--scripted", "--scenario", "permission", "run it"], (out, type) => {
      if (!pressed && out.includes("[r]eject:")) {
        pressed = true;
        type("\x03");
      }
    });
    expect(r.out).toContain("aborting the turn");
    expect(r.code, r.out).toBe(130);
  });
});
