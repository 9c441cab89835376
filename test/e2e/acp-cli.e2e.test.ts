/**
 * `opencode-bridge prompt --acp "<agent command>"` as users run it (the CLI in its
 * own process), on Claude Code offline: a tool turn (exit 0, JSON Lines that keep
 * the contract), a hung model (exit 1, error timeout), Ctrl-C mid-turn (exit 130,
 * error aborted) — and after each, nothing of the agent left running. A tool turn on
 * `opencode acp` (1.x, 2.x) and Codex too.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { startLiveAgent, type LiveAgent, type LiveAgentName } from "../support/acp.js";
import { ROOT } from "../support/host.js";
import { spawnGroup } from "../support/processes.js";

const BIN = join(ROOT, "bin", "opencode-bridge.js");
const parse = (s: string): Reply[] =>
  s
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Reply);

/** Running processes whose environment holds `entry` (the agent's own HOME: its processes only). */
function processesWith(entry: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "utf8").split("\0").includes(entry)) found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/**
 * The processes still carrying `entry` once they have had up to 5 s to go: the agent's
 * reaper (src/server/reaper.ts, a separate process with the same environment) exits
 * just after the group it watches, which may be a moment after the CLI itself.
 */
async function gone(entry: string): Promise<number[]> {
  const end = Date.now() + 5_000;
  let left = processesWith(entry);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesWith(entry);
  }
  return left;
}

describe("prompt --acp (Claude Code, offline)", () => {
  let live: LiveAgent;
  beforeAll(async () => {
    live = await startLiveAgent("claude", "ask");
  });
  afterAll(async () => {
    await live?.stop();
  });

  const prompt = (extra: string[], text: string) =>
    spawnGroup(process.execPath, [BIN, "prompt", "--jsonl", "--acp", live.agent.command.join(" "), "--directory", live.agent.dir, ...extra, text], {
      env: { ...live.agent.env } as NodeJS.ProcessEnv,
      timeoutMs: 90_000,
    });
  const home = () => `HOME=${live.agent.env.HOME}`;

  it("a tool turn with --permission allow: exit 0, the replies keep the contract", async () => {
    const r = await prompt(["--permission", "allow"], "[scenario:tool] run it").done;
    expect(r.status, r.stderr).toBe(0);
    const replies = parse(r.stdout);
    expect(contractViolations(replies)).toEqual([]);
    expect(replies.some((x) => x.kind === "tool_result" && x.status === "completed")).toBe(true);
    expect(replies.at(-1)).toMatchObject({ kind: "final", content: "Let me run a command.The command printed bridge-tool-ok." });
    expect(await gone(home())).toEqual([]);
  });

  it("a hung model with --idle-timeout 3: exit 1, error timeout", async () => {
    const started = Date.now();
    const r = await prompt(["--idle-timeout", "3"], "[scenario:stall] hang").done;
    expect(r.status, r.stderr).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    const replies = parse(r.stdout);
    expect(contractViolations(replies)).toEqual([]);
    expect(replies.at(-1)).toMatchObject({ kind: "error", code: "timeout" });
    expect(await gone(home())).toEqual([]);
  });

  it("Ctrl-C mid-turn: exit 130, error aborted, the agent stopped", async () => {
    const p = prompt([], "[scenario:slow] go slowly");
    let out = "";
    await new Promise<void>((resolve) => {
      p.child.stdout?.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes('"kind":"delta"')) resolve();
      });
    });
    p.child.kill("SIGINT");
    const r = await p.done;
    expect(r.status, r.stderr).toBe(130);
    const replies = parse(r.stdout);
    expect(contractViolations(replies)).toEqual([]);
    expect(replies.at(-1)).toMatchObject({ kind: "error", code: "aborted" });
    expect(await gone(home())).toEqual([]);
  });
});

// The same command on the other agents: a tool turn whose permission --permission allow answers.
describe.each<LiveAgentName>(["opencode", "opencode2", "codex"])("prompt --acp on %s (offline)", { timeout: 240_000 }, (name) => {
  let live: LiveAgent;
  beforeAll(async () => {
    live = await startLiveAgent(name, "ask");
  });
  afterAll(async () => {
    await live?.stop();
  });

  it("a tool turn with --permission allow: exit 0, the tool's output, the replies keep the contract", async () => {
    const args = [BIN, "prompt", "--jsonl", "--acp", live.agent.command.join(" "), "--directory", live.agent.dir, "--permission", "allow", "[scenario:tool] run it"];
    const r = await spawnGroup(process.execPath, args, { env: { ...live.agent.env } as NodeJS.ProcessEnv, timeoutMs: 180_000 }).done;
    expect(r.status, r.stderr).toBe(0);
    const replies = parse(r.stdout);
    expect(contractViolations(replies)).toEqual([]);
    expect(replies.find((x) => x.kind === "tool_result")).toMatchObject({ status: "completed" });
    expect(replies.at(-1)?.kind).toBe("final");
  });
});
