/**
 * Diagnoses in the user's terms, each seen as a user sees it: the built CLI run
 * as a process (against a real `opencode serve` and the scripted model where a
 * server is involved).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Reply } from "../../src/codec/reply.js";
import { serveUntilExit, startDaemon } from "./daemon-process.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const jsonLines = (s: string) => s.split("\n").filter((l) => l.trim().startsWith("{")).map((l) => JSON.parse(l) as Reply);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStderr` sees stderr as it grows and may signal the child. */
function run(args: string[], opts: { env?: NodeJS.ProcessEnv; onStderr?: (err: string, child: ReturnType<typeof spawn>) => void; timeoutMs?: number } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  delete env.OPENCODE_URL;
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
    opts.onStderr?.(stderr, child);
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 90_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe("diagnoses in the user's terms", () => {
  it("--version prints the package's version, and doctor says it too", async () => {
    const v = await run(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toBe(`opencode-bridge ${VERSION}\n`);
    const d = await run(["doctor"]);
    expect(d.stdout).toContain(`opencode-bridge:  ${VERSION}`);
  });

  it("a missing --directory is named, exit 2, for prompt (starting its own opencode) and serve; no spawn error", async () => {
    const p = await run(["prompt", "--directory", "/nonexistent-bridge-dir", "hi"]);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain("--directory /nonexistent-bridge-dir: no such directory");
    expect(p.stderr).not.toMatch(/ENOENT|spawn|install/);
    const s = await serveUntilExit(["--directory", "/nonexistent-bridge-dir", "--no-token"]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("--directory /nonexistent-bridge-dir: no such directory");
    expect(s.stderr).not.toMatch(/ENOENT|spawn/);
  });

  it("serve --host [::1] (a URL's way of writing IPv6) listens there instead of failing with ENOTFOUND", async () => {
    const d = await startDaemon(["--host", "[::1]", "--opencode-url", "http://127.0.0.1:9", "--directory", ROOT], { BRIDGE_TOKEN: "diagnoses-token-0123456789" });
    try {
      expect(d.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await fetch(`${d.url}/healthz`)).status).toBeLessThan(600);
      expect(d.stderr()).not.toMatch(/ENOTFOUND/);
    } finally {
      d.child.kill("SIGKILL");
      await d.exited;
    }
  });

  it("replay's exit status is how the turn ended, also when the reader closed stdout early (as its help says)", async () => {
    const fixture = (name: string) => join(ROOT, "test", "fixtures", "1.18.33", `${name}.sse`);
    const status = (name: string) =>
      new Promise<string>((resolve) => {
        const p = spawn("bash", ["-c", `"${process.execPath}" "${CLI}" replay "${fixture(name)}" | head -1 >/dev/null; echo \${PIPESTATUS[0]}`]);
        let out = "";
        p.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
        p.on("close", () => resolve(out.trim()));
      });
    expect(await status("long")).toBe("0");
    expect(await status("abort")).toBe("1");
    expect((await run(["replay", "--help"])).stdout).toContain("1 it ended error — the same when the reader\nclosed stdout early");
  });

  it("the pretty view is not preceded by a raw JSON log line repeating the error", async () => {
    const r = await run(["prompt", "--pretty", "--url", "http://127.0.0.1:9", "hi"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/error \(transport\)/);
    expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/^\{"level"/m);
    // Asked for, the log is still there.
    const logged = await run(["prompt", "--pretty", "--log-level", "warn", "--url", "http://127.0.0.1:9", "hi"]);
    expect(logged.stderr).toMatch(/^\{"level"/m);
  });

  it("prompt --scripted says what it does while its server starts; the tool scenario under reject says the tool did not run", async () => {
    const r = await run(["prompt", "--scripted", "--scenario", "tool", "--permission", "reject", "hi"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/starting the scripted model and its own opencode serve/);
    expect(r.stderr).toMatch(/opencode serve is ready \(\d+\.\d s\); sending the prompt/);
    const final = jsonLines(r.stdout).at(-1);
    expect(final).toMatchObject({ kind: "final" });
    const content = final?.kind === "final" ? final.content : "";
    expect(content).toContain("did not run");
    expect(content).not.toContain("printed bridge-tool-ok");
  });

  it("Ctrl-C while the server is still starting ends with error aborted and exit 130", async () => {
    let sent = false;
    const r = await run(["prompt", "--scripted", "hi"], {
      onStderr: (err, child) => {
        if (!sent && err.includes("starting the scripted model")) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    const replies = jsonLines(r.stdout);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ kind: "error", code: "aborted", seq: 0 });
  });

  it("scripted-model prints commands that run as printed: its opencode serve starts, its prompt gets the tool's output", async () => {
    const port = await freePort();
    let printed = "";
    const model = spawn(process.execPath, [CLI, "scripted-model"], { cwd: ROOT, env: { ...process.env, OPENCODE_URL: "" } });
    let serve: ReturnType<typeof spawn> | undefined;
    try {
      model.stdout.setEncoding("utf8").on("data", (c: string) => (printed += c));
      const deadline = Date.now() + 30_000;
      while (!/Ctrl-C stops the model/.test(printed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const serveLine = /^ {2}(\(cd .* serve --port 4096\))$/m.exec(printed)?.[1];
      const promptLine = /^ {2}(.* prompt --url http:\/\/127\.0\.0\.1:4096 .*)$/m.exec(printed)?.[1];
      expect(serveLine, printed).toBeDefined();
      expect(promptLine, printed).toBeDefined();
      expect(serveLine).not.toMatch(/&& env [^(]* opencode serve/); // the real binary, not a bare name PATH lacks
      // Exactly as printed, but on a free port (4096 may be taken on a shared machine).
      const at = (line: string) => line.replaceAll("4096", String(port));
      serve = spawn("sh", ["-c", at(serveLine as string)], { detached: true, stdio: "ignore" });
      const up = Date.now() + 60_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/global/health`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > up) throw new Error("the printed opencode serve command did not start a server");
        await new Promise((r) => setTimeout(r, 250));
      }
      const answer = await new Promise<Run>((resolve) => {
        const p = spawn("sh", ["-c", at(promptLine as string)], { cwd: ROOT });
        const timer = setTimeout(() => p.kill("SIGKILL"), 90_000);
        p.on("close", () => clearTimeout(timer));
        let stdout = "";
        let stderr = "";
        p.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
        p.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
        p.on("close", (code) => resolve({ code, stdout, stderr }));
      });
      expect(answer.code, answer.stderr).toBe(0);
      expect(jsonLines(answer.stdout).find((r) => r.kind === "tool_result")).toMatchObject({ status: "completed", output: "bridge-tool-ok\n" });
    } finally {
      if (serve?.pid !== undefined) {
        try {
          process.kill(-serve.pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
      model.kill("SIGINT");
      await new Promise((r) => model.once("close", r));
    }
  }, 180_000);
});
