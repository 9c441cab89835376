/**
 * The ACP codec on real agents' captured traffic (test/fixtures/acp/<agent>/*.jsonl,
 * scripts/capture-acp.ts: opencode acp 1.18.33, claude-agent-acp 0.101.0, codex-acp
 * 0.16.0 against the scripted model): every capture replays to its golden replies
 * and requests (scripts/golden-acp.ts), each turn keeps the reply contract, and the
 * scenario's own facts hold whatever the agent (the answer text, tool output,
 * failures, rejections, provider errors).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCapture, replayAcpCapture, type AcpReplay } from "../src/acp/replay.js";
import { contractViolations, type Reply } from "../src/codec/reply.js";
import { FIXTURES } from "./support/fixtures.js";

const ROOT = join(FIXTURES, "acp");
const AGENTS = ["opencode", "claude", "codex"] as const;

function replay(agent: string, name: string): AcpReplay {
  return replayAcpCapture(parseCapture(readFileSync(join(ROOT, agent, `${name}.jsonl`), "utf8")));
}
const kinds = (r: readonly Reply[], kind: Reply["kind"]) => r.filter((x) => x.kind === kind);
const last = (r: readonly Reply[]) => r[r.length - 1];

describe("ACP captures replay to their golden replies", () => {
  for (const agent of AGENTS) {
    for (const file of readdirSync(join(ROOT, agent)).filter((f) => f.endsWith(".jsonl"))) {
      it(`${agent}/${file}`, () => {
        const r = replayAcpCapture(parseCapture(readFileSync(join(ROOT, agent, file), "utf8")));
        const golden = JSON.parse(readFileSync(join(ROOT, agent, file.replace(/\.jsonl$/, ".replies.json")), "utf8")) as unknown;
        expect({ replies: r.replies, requests: r.requests, unanswered: r.unanswered }).toEqual(golden);
        if (!r.unanswered) expect(contractViolations(r.replies)).toEqual([]);
      });
    }
  }
});

describe.each(AGENTS)("the scenarios' facts on %s", (agent) => {
  it("text: the final is the whole answer, streamed in more than one delta", () => {
    const r = replay(agent, "text").replies;
    expect(last(r)).toMatchObject({ kind: "final", content: "Hello from the scripted model. This is plain text." });
    expect(kinds(r, "delta").length).toBeGreaterThan(1);
  });

  it("reasoning: reasoning replies, never in the final", () => {
    const r = replay(agent, "reasoning").replies;
    const thought = kinds(r, "reasoning").map((x) => (x.kind === "reasoning" ? x.content : "")).join("");
    expect(thought).toContain("I will think briefly");
    expect(last(r)).toMatchObject({ kind: "final", content: "Here is the answer after thinking." });
  });

  it("tool: one call, its output, then the answer; the permission asked is bash on the command", () => {
    const { replies, requests } = replay(agent, "tool");
    expect(kinds(replies, "tool_call")).toHaveLength(1);
    const [result] = kinds(replies, "tool_result");
    expect(result).toMatchObject({ status: "completed", call_id: "call_echo_1" });
    expect(result?.kind === "tool_result" && result.output).toMatch(/bridge-tool-ok/);
    expect(last(replies)?.kind === "final" && last(replies)?.kind === "final" && (last(replies) as { content: string }).content).toMatch(/The command printed bridge-tool-ok\.$/);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ kind: "permission", permission: "bash", patterns: ["echo bridge-tool-ok"], tool: { call_id: "call_echo_1" } });
  });

  it("tool-error: the failed tool is a tool_result error, then the answer", () => {
    const r = replay(agent, "tool-error").replies;
    const [result] = kinds(r, "tool_result");
    expect(result).toMatchObject({ status: "error" });
    expect(result?.kind === "tool_result" && result.error).toMatch(/does.not.exist|not found|No such file/i);
    expect(last(r)).toMatchObject({ kind: "final" });
  });

  it("two-tools: two calls, two results, each once", () => {
    const r = replay(agent, "two-tools");
    expect(kinds(r.replies, "tool_call").map((x) => (x.kind === "tool_call" ? x.call_id : ""))).toEqual(["call_a", "call_b"]);
    expect(kinds(r.replies, "tool_result")).toHaveLength(2);
    expect(r.requests).toHaveLength(2);
  });

  it("tool rejected: the command does not run; the turn ends final, or error permission when the agent cancels it", () => {
    const r = replay(agent, "tool-reject").replies;
    for (const x of kinds(r, "tool_result")) expect(x.kind === "tool_result" && x.output).not.toBe("bridge-tool-ok\n");
    const end = last(r);
    if (end?.kind === "error") expect(end.code).toBe("permission");
    else expect(end?.kind).toBe("final");
  });

  it("provider 401: error upstream with the provider's words, or (Claude Code, which retries a 401 silently) no answer at all", () => {
    const r = replay(agent, "provider-error");
    if (agent === "claude") {
      expect(r.unanswered).toBe(true);
      expect(r.replies).toEqual([]);
    } else {
      expect(r.replies).toHaveLength(1);
      expect(r.replies[0]).toMatchObject({ kind: "error", code: "upstream" });
      expect(r.replies[0]?.kind === "error" && r.replies[0].error).toContain("Incorrect API key");
    }
  });
});
