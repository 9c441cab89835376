/**
 * The spawned CLI against a live OpenCode 2.x, for the 2.x end-to-end tests
 * (v2-cli, v2-faults, v2-owned): `prompt --jsonl --url … --directory …` as a user
 * runs it, and reading its JSON Lines.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Reply } from "../../src/codec/reply.js";
import { scripts } from "../../src/scripted-model/scripts.js";
import { ensureOpencode, PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import { startManagedServer, type ManagedServer } from "../../src/server/managed.js";
import type { Live } from "../support/live.js";

export const ROOT = join(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "dist", "cli", "main.js");
export const lines = (s: string) => s.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Reply);
/** The whole answer of a scripted scenario's first streamed step. */
export const scriptedText = (name: string) => {
  const step = scripts[name]?.[0];
  return step?.kind === "stream" ? (step.text ?? []).join("") : "";
};
export const text = (rs: Reply[]) => rs.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content).join("");
/** The captured 2.1.2 turn of a scenario (test/fixtures/2.1.2), as the codec replied to it. */
export const golden = (name: string) => lines(readFileSync(join(ROOT, "test", "fixtures", "2.1.2", `${name}.jsonl`), "utf8"));
/** What must match between a live run and its capture (deltas are coalesced by timing, ids are per run). */
export const shape = (rs: Reply[]) => {
  const end = rs[rs.length - 1] as { kind: string; content?: string; code?: string };
  const tools = rs.flatMap((r) => (r.kind === "tool_call" || r.kind === "tool_result" ? [`${r.kind}:${r.tool}:${"status" in r ? r.status : ""}`] : []));
  const reasoning = rs.filter((r) => r.kind === "reasoning").map((r) => (r as { content: string }).content).join("");
  return { end: end.kind, content: end.content, code: end.code, text: text(rs), tools, reasoning };
};

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The CLI in a child process (asynchronous: the scripted model runs in this process).
 * `onLine` sees each reply line as it is printed.
 */
export function cli(
  live: Live,
  args: string[],
  opts: { password?: string; url?: string; onLine?: (r: Reply, child: ChildProcess) => void } = {},
): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...live.project.env, OPENCODE_SERVER_PASSWORD: opts.password ?? live.password ?? "" };
  delete env.OPENCODE_URL;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "prompt", "--jsonl", "--url", opts.url ?? live.url, "--directory", live.directory, ...args], { env });
    let stdout = "";
    let stderr = "";
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      partial += c;
      const done = partial.split("\n");
      partial = done.pop() ?? "";
      for (const l of done) if (l.trim() !== "") opts.onLine?.(JSON.parse(l) as Reply, child);
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** OpenCode 2.1.2 started again for `live` after a kill -9: the same port, password and data directory. */
export async function restartOnItsPort(live: Live): Promise<ManagedServer> {
  return startManagedServer({
    binary: await ensureOpencode(PINNED_OPENCODE2_VERSION),
    cwd: live.directory,
    env: live.project.env,
    port: Number(new URL(live.url).port),
    password: live.password,
    readyTimeoutMs: 60_000,
  });
}
