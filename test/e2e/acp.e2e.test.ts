/**
 * The ACP backend against real agents, offline: `opencode acp` (1.18.33), Claude
 * Code (claude-agent-acp 0.101.0 on the scripted model's Anthropic Messages API)
 * and Codex (codex-acp 0.16.0 on its Responses API). For each: a text turn, a tool
 * whose permission the bridge allows, one it rejects, the agent killed -9 mid-turn
 * (error `transport` within a second), a hung model (`timeout`, `session/cancel`
 * sent) — every turn's replies checked against the contract, and every agent's
 * process group gone after `close`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnyMessage } from "@agentclientprotocol/sdk";
import { AcpAdapter, type AcpAdapterConfig } from "../../src/acp/adapter.js";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import type { RequestEvent } from "../../src/codec/requests.js";
import { isRequestEvent, type SinkMessage } from "../../src/sink/types.js";
import type { ScriptedAgentName } from "../../src/acp/scripted.js";
import { startLiveAgent, type LiveAgent } from "../support/acp.js";
import { groupAlive } from "../support/processes.js";

const scenario = (name: string) => `[scenario:${name}] Do as the scenario says.`;

interface Run {
  readonly adapter: AcpAdapter;
  readonly replies: Reply[];
  readonly requests: RequestEvent[];
  readonly traffic: { dir: "in" | "out"; msg: AnyMessage }[];
}

// `opencode acp` takes 10-20 s to start (more on a loaded machine): the turns that need no
// agent of their own share one (per-prompt policies), and the bound per test is wide (a resume starts it twice).
describe.each<ScriptedAgentName>(["opencode", "claude", "codex"])("ACP backend on %s", { timeout: 300_000 }, (name) => {
  let live: LiveAgent;
  let shared: Run | undefined;
  const pids: number[] = [];
  beforeAll(async () => {
    live = await startLiveAgent(name, "ask");
  });
  afterAll(async () => {
    if (shared) await finish(shared);
    await live?.stop();
    for (const pid of pids) expect(groupAlive(pid), `agent group ${pid} still running`).toBe(false);
  });
  /** The shared agent, its replies, requests and traffic emptied for the next turn. */
  const reuse = (): Run => {
    shared ??= run();
    shared.replies.length = 0;
    shared.requests.length = 0;
    shared.traffic.length = 0;
    return shared;
  };

  const run = (opts: Partial<AcpAdapterConfig> = {}): Run => {
    const replies: Reply[] = [];
    const requests: RequestEvent[] = [];
    const traffic: Run["traffic"] = [];
    const adapter = new AcpAdapter(
      {
        command: live.agent.command,
        env: live.agent.env,
        directory: live.agent.dir,
        permission: "allow",
        onTraffic: (dir, msg) => traffic.push({ dir, msg }),
        ...opts,
      },
      { requests: true, deliver: (m: SinkMessage) => void (isRequestEvent(m) ? requests.push(m) : replies.push(m)) },
    );
    return { adapter, replies, requests, traffic };
  };
  const finish = async (r: Run) => {
    const pid = r.adapter.agentPid;
    await r.adapter.close();
    if (pid !== undefined) {
      pids.push(pid);
      expect(groupAlive(pid)).toBe(false);
    }
    expect(contractViolations(r.replies)).toEqual([]);
  };

  it("text: deltas and a final with the whole answer; capabilities from initialize", async () => {
    const r = reuse();
    const res = await r.adapter.prompt(scenario("text"));
    expect(res.status, JSON.stringify(res.error)).toBe("final");
    expect(res.final?.content).toBe("Hello from the scripted model. This is plain text.");
    expect(r.replies.filter((x) => x.kind === "delta").length).toBeGreaterThan(1);
    const caps = r.adapter.capabilities;
    expect(caps.backend).toBe("acp");
    expect(caps.sessionLoad).toBe(true);
    expect(caps.clientFs).toBe(false);
    expect(contractViolations(r.replies)).toEqual([]);
  });

  it("tool, permission allowed: one tool_call, one tool_result with the output, then the final", async () => {
    const r = reuse();
    const res = await r.adapter.prompt(scenario("tool"), { permission: "allow" });
    expect(res.status, JSON.stringify(res.error)).toBe("final");
    const call = r.replies.find((x) => x.kind === "tool_call");
    const result = r.replies.find((x) => x.kind === "tool_result");
    expect(call).toBeDefined();
    expect(result?.kind === "tool_result" && result.status).toBe("completed");
    expect(result?.kind === "tool_result" && result.output).toContain("bridge-tool-ok");
    expect(res.final?.content).toContain("The command printed bridge-tool-ok.");
    const asked = r.requests.find((e) => e.type === "request");
    expect(asked?.type === "request" && asked.request.kind === "permission" && asked.request.permission).toBe("bash");
    expect(r.requests.find((e) => e.type === "request_resolved")).toMatchObject({ by: "policy", answer: { reply: "once" } });
    expect(contractViolations(r.replies)).toEqual([]);
  });

  it("tool, permission rejected: the command never runs and the turn ends (final or error permission)", async () => {
    const r = reuse();
    const res = await r.adapter.prompt(scenario("tool"), { permission: "reject" });
    expect(r.requests.find((e) => e.type === "request_resolved")).toMatchObject({ by: "policy", answer: { reply: "reject" } });
    const result = r.replies.find((x) => x.kind === "tool_result");
    if (result?.kind === "tool_result") expect(result.output ?? "").not.toMatch(/^bridge-tool-ok/);
    if (res.status === "error") expect(res.error?.code).toBe("permission");
    expect(contractViolations(r.replies)).toEqual([]);
  });

  it("permission ask: the host's hook leaves it waiting, answers later through adapter.replyPermission", async () => {
    const seen: string[] = [];
    const r = reuse();
    const res = await r.adapter.prompt(scenario("tool"), {
      permission: "ask",
      onRequest: (req) => {
        seen.push(req.request_id);
        // Later, through the adapter, as the daemon's HTTP route and the console do.
        setTimeout(() => void r.adapter.replyPermission(req.request_id, "once"), 300);
      },
    });
    expect(res.status, JSON.stringify(res.error)).toBe("final");
    expect(seen).toHaveLength(1);
    expect(r.requests.find((e) => e.type === "request_resolved")).toMatchObject({ by: "host", answer: { reply: "once" } });
    expect(r.replies.find((x) => x.kind === "tool_result")).toMatchObject({ status: "completed" });
    expect(contractViolations(r.replies)).toEqual([]);
  });

  it("a keyed session outlives its agent: after kill -9 the next turn resumes it on a new agent process", async () => {
    const r = run();
    const first = await r.adapter.prompt(scenario("text"), { sessionKey: "k" });
    expect(first.status, JSON.stringify(first.error)).toBe("final");
    const pid = r.adapter.agentPid as number;
    process.kill(pid, "SIGKILL");
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (r.adapter.agentPid === undefined) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    // What the killed agent started (Claude Code's claude) goes with its group.
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // A single process (Codex): its group went with it.
    }
    const second = await r.adapter.prompt(scenario("text"), { sessionKey: "k" });
    expect(second.status, JSON.stringify(second.error)).toBe("final");
    expect(second.sessionId).toBe(first.sessionId);
    expect(r.traffic.some((t) => t.dir === "out" && "method" in t.msg && /^session\/(resume|load)$/.test(t.msg.method))).toBe(true);
    // Each turn's replies keep the contract on their own (seq starts at 0 per turn).
    expect(contractViolations(r.replies.slice(first.replies))).toEqual([]);
    await finish({ ...r, replies: r.replies.slice(0, first.replies) });
  });

  it("the agent killed -9 mid-turn: error transport within a second", async () => {
    const r = run();
    let killedAt = 0;
    const res = r.adapter.prompt(scenario("slow"));
    // Kill once the answer is streaming.
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (r.replies.some((x) => x.kind === "delta")) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    const pid = r.adapter.agentPid as number;
    killedAt = Date.now();
    process.kill(pid, "SIGKILL");
    const out = await res;
    const took = Date.now() - killedAt;
    expect(out.status).toBe("error");
    expect(out.error?.code).toBe("transport");
    expect(took).toBeLessThan(1000);
    await finish(r);
  });

  it("a hung model: timeout after the idle timeout, with session/cancel sent", async () => {
    const r = run({ idleTimeoutMs: 3_000, settleTimeoutMs: 3_000 });
    const started = Date.now();
    const res = await r.adapter.prompt(scenario("stall"));
    expect(res.status).toBe("error");
    expect(res.error?.code).toBe("timeout");
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    expect(r.traffic.some((t) => t.dir === "out" && "method" in t.msg && t.msg.method === "session/cancel")).toBe(true);
    await finish(r);
  });
});
