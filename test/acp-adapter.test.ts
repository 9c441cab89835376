/**
 * The ACP backend where no real agent is needed: a command that does not exist,
 * one that exits at once, one that never answers `initialize`, and a refused call —
 * each ends its turn with exactly one `error` reply (never a hang, never a throw
 * for a turn's failure), bounded in time. Real agents: test/e2e/acp.e2e.test.ts.
 */
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { AcpAdapter } from "../src/acp/adapter.js";
import { resolveAcpCommand } from "../src/acp/command.js";
import { splitCommand } from "../src/acp/process.js";
import { contractViolations, type Reply } from "../src/codec/reply.js";

function adapter(command: string | string[], startTimeoutMs = 5_000) {
  const replies: Reply[] = [];
  const a = new AcpAdapter({ command, directory: tmpdir(), startTimeoutMs }, (r) => void replies.push(r));
  return { a, replies };
}

describe("AcpAdapter without an agent to talk to", () => {
  it("a command that does not exist: error transport naming it", async () => {
    const { a, replies } = adapter("/nonexistent/acp-agent --flag");
    const r = await a.prompt("hello");
    await a.close();
    expect(r.status).toBe("error");
    expect(r.error?.code).toBe("transport");
    expect(r.error?.error).toContain("/nonexistent/acp-agent");
    expect(contractViolations(replies)).toEqual([]);
  });

  it("a command that exits at once: error transport, asking whether it is an ACP agent", async () => {
    const { a, replies } = adapter([process.execPath, "-e", "process.exit(3)"]);
    const r = await a.prompt("hello");
    await a.close();
    expect(r.error).toMatchObject({ code: "transport", error: expect.stringContaining("an ACP agent?") });
    expect(r.error?.error).toContain("exit code 3");
    expect(replies).toHaveLength(1);
  });

  it("a program that never answers initialize: error timeout after startTimeoutMs, and it is stopped", async () => {
    const { a, replies } = adapter([process.execPath, "-e", "setInterval(() => {}, 1000)"], 800);
    const started = Date.now();
    const r = await a.prompt("hello");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.error).toMatchObject({ code: "timeout", error: expect.stringContaining("initialize") });
    expect(a.agentPid).toBeUndefined();
    await a.close();
    expect(contractViolations(replies)).toEqual([]);
  });

  it("a refused call (empty text) still delivers its one terminal error, invalid_request as on OpenCode (front door), then rejects", async () => {
    const { a, replies } = adapter("opencode acp");
    await expect(a.prompt("   ")).rejects.toThrow(/non-empty/);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ kind: "error", code: "invalid_request" });
    await a.close();
  });

  it("an empty command is a config error at construction", () => {
    expect(() => new AcpAdapter({ command: "  ", directory: tmpdir() }, () => {})).toThrow(/command is empty/);
  });
});

describe("agent command lines", () => {
  it("split like a shell's words, quotes grouping", () => {
    expect(splitCommand(`node "my agent.js" --name 'a b' plain\\ x`)).toEqual(["node", "my agent.js", "--name", "a b", "plain\\", "x"]);
  });

  it("names the cached agents and leaves anything else as given", () => {
    const env = { OPENCODE_BRIDGE_CACHE: "/nonexistent-cache", PATH: "" };
    expect(resolveAcpCommand("codex-acp --x", env)).toEqual(["codex-acp", "--x"]);
    expect(resolveAcpCommand("my-agent acp", env)).toEqual(["my-agent", "acp"]);
  });
});
