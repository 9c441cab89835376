/**
 * One host, every backend: the same host code (`hostTurn` below: POST a turn, follow
 * its events, answer each permission request over HTTP, read to the end) against
 * `opencode-bridge serve` (spawned as users run it) in front of OpenCode 1.18.33 and
 * 2.1.2 over HTTP, and of `opencode acp` (1.x, 2.x), Claude Code and Codex over ACP,
 * all offline on the scripted model. Every turn's replies are checked against the
 * reply contract (0 violations); `GET /v1/backends` is read. What each backend did
 * is printed as one line (`backend matrix: …`): the README's agent matrix comes
 * from it —
 *
 *   npx vitest run --project e2e test/e2e/backends.e2e.test.ts
 */
import { afterAll, describe, expect, it } from "vitest";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import { startLiveAgent, type LiveAgentName } from "../support/acp.js";
import { E2E_VERSION, startLive } from "../support/live.js";
import { callDaemon, follow, startDaemon, until, type Daemon } from "./daemon-process.js";

const TOKEN = "backends-token-0123456789abcdef";
const auth = { authorization: `Bearer ${TOKEN}` };

interface Started {
  readonly args: string[];
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

const http = (version: string) => async (): Promise<Started> => {
  const live = await startLive({ version, permission: "ask" });
  return { args: ["--opencode-url", live.url, "--directory", live.directory], env: { OPENCODE_SERVER_PASSWORD: live.password ?? "" }, stop: () => live.stop() };
};
const acp = (name: LiveAgentName) => async (): Promise<Started> => {
  const live = await startLiveAgent(name, "ask");
  return { args: ["--acp", live.agent.command.join(" "), "--directory", live.agent.dir], env: { ...live.agent.env }, stop: () => live.stop() };
};

const BACKENDS: [string, () => Promise<Started>][] = [
  [`OpenCode ${E2E_VERSION} HTTP`, http(E2E_VERSION)],
  [`OpenCode ${PINNED_OPENCODE2_VERSION} HTTP`, http(PINNED_OPENCODE2_VERSION)],
  ["opencode acp 1.x", acp("opencode")],
  ["opencode acp 2.x", acp("opencode2")],
  ["Claude Code (ACP)", acp("claude")],
  ["Codex (ACP)", acp("codex")],
];

/** The host: starts a turn, answers every permission request `once` over HTTP, reads the turn to its end. */
async function hostTurn(d: Daemon, text: string, traceId: string): Promise<{ replies: Reply[]; outcome: unknown; asked: number }> {
  const started = await callDaemon(d, "POST", "/v1/turns", { text, trace_id: traceId, permission: "ask" }, auth);
  expect(started.status, started.text).toBe(202);
  const f = follow(d, traceId, auth);
  const answered = new Set<string>();
  const done = await until(() => {
    for (const fr of f.frames) {
      const id = (fr.data.request as { request_id?: string } | undefined)?.request_id;
      if (fr.event !== "request" || id === undefined || answered.has(id)) continue;
      answered.add(id);
      void callDaemon(d, "POST", `/v1/turns/${traceId}/requests/${id}`, { reply: "once" }, auth).then((r) => expect(r.status, r.text).toBe(200));
    }
    return f.frames.find((fr) => fr.event === "done");
  }, `the end of ${traceId}`, 180_000);
  await f.ended;
  const replies = f.frames.filter((fr) => fr.event === "reply").map((fr) => fr.data as unknown as Reply);
  expect(contractViolations(replies), JSON.stringify(replies)).toEqual([]);
  return { replies, outcome: done.data.outcome, asked: answered.size };
}

describe.each(BACKENDS)("one host on %s", { timeout: 400_000 }, (label, startBackend) => {
  let backend: Started | undefined;
  let daemon: Daemon | undefined;
  afterAll(async () => {
    if (daemon && daemon.child.exitCode === null) {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    }
    await backend?.stop();
  });

  it("a reasoning turn and a tool turn whose permission the host answers: final, 0 contract violations", async () => {
    backend = await startBackend();
    daemon = await startDaemon([...backend.args, "--permission", "ask"], { ...backend.env, BRIDGE_TOKEN: TOKEN });
    const slug = label.replace(/\W+/g, "-").toLowerCase();
    const thought = await hostTurn(daemon, "[scenario:reasoning] Do as the scenario says.", `${slug}-reasoning`);
    expect(thought.outcome).toBe("final");
    const tool = await hostTurn(daemon, "[scenario:tool] Do as the scenario says.", `${slug}-tool`);
    expect(tool.outcome).toBe("final");
    expect(tool.asked).toBe(1);
    const result = tool.replies.find((r) => r.kind === "tool_result");
    expect(result).toMatchObject({ status: "completed" });
    const b = await callDaemon(daemon, "GET", "/v1/backends", undefined, auth);
    expect(b.status, b.text).toBe(200);
    const caps = (b.json?.backends as { capabilities: Record<string, unknown> }[])[0]?.capabilities;
    const final = tool.replies.at(-1);
    const row = {
      backend: label,
      reasoning: thought.replies.some((r) => r.kind === "reasoning"),
      tool: result?.kind === "tool_result" ? result.tool : undefined,
      toolOutput: result?.kind === "tool_result" && (result.output ?? "").includes("bridge-tool-ok"),
      permissionAskedAndAnswered: tool.asked,
      usage: final?.kind === "final" && final.usage !== undefined,
      cost: final?.kind === "final" && final.cost !== undefined,
      capabilities: caps,
    };
    console.log(`backend matrix: ${JSON.stringify(row)}`);
  });
});
