/**
 * `opencode-bridge serve --acp "<agent command>"` as users run it (the daemon in its
 * own process), on each real agent offline: `opencode acp` (1.18.33 and 2.1.2), Claude Code
 * (claude-agent-acp) and Codex (codex-acp). Over its HTTP API: a text turn; a
 * permission asked of the client and answered over HTTP; a hung model ending
 * `timeout` (and the session still usable after the cancel); the agent killed -9
 * mid-turn ending the turn `error` `transport` within a second; the next turn on
 * that session resumed on a new agent process; what the daemon reports of the
 * backend (/healthz, GET /v1/backends). Every turn's replies are checked against
 * the contract; after SIGTERM no agent process is left.
 */
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations } from "../../src/codec/reply.js";
import { startLiveAgent, type LiveAgent, type LiveAgentName } from "../support/acp.js";
import { callDaemon, follow, pendingRequest, startDaemon, tempStateDir, turnEvents, until, type Daemon } from "./daemon-process.js";
import { groupAlive } from "../support/processes.js";

const TOKEN = "acp-daemon-token-0123456789abcdef";
const auth = { authorization: `Bearer ${TOKEN}` };
const scenario = (name: string) => `[scenario:${name}] Do as the scenario says.`;

/** The daemon's agent processes (each a session's, leading its own process group), not their reapers (`node -e …`). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const reaper = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0")[1] === "-e";
      if (ppid === pid && !reaper) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

/** Starts a turn; resolves with its session once accepted (202). */
async function start(d: Daemon, body: Record<string, unknown>): Promise<string> {
  const r = await callDaemon(d, "POST", "/v1/turns", body, auth);
  expect(r.status, r.text).toBe(202);
  return r.json?.session_id as string;
}

/** The turn's replies and outcome, checked against the contract. */
async function ended(d: Daemon, traceId: string) {
  const { replies, done } = await turnEvents(d, traceId, auth);
  expect(contractViolations(replies), JSON.stringify(replies)).toEqual([]);
  return { replies, outcome: done?.outcome };
}

describe.each<LiveAgentName>(["opencode", "opencode2", "claude", "codex"])("serve --acp on %s", { timeout: 300_000 }, (name) => {
  let live: LiveAgent;
  let daemon: Daemon;
  let session = "";
  const agents = new Set<number>();
  beforeAll(async () => {
    live = await startLiveAgent(name, "ask");
    daemon = await startDaemon(["--acp", live.agent.command.join(" "), "--directory", live.agent.dir, "--permission", "ask"], {
      ...live.agent.env,
      BRIDGE_TOKEN: TOKEN,
    });
    for (const pid of childrenOf(daemon.child.pid as number)) agents.add(pid);
  });
  afterAll(async () => {
    if (daemon && daemon.child.exitCode === null) {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    }
    await live?.stop();
    for (const pid of agents) expect(groupAlive(pid), `agent group ${pid} still running`).toBe(false);
  });

  it("the backend is readable: /healthz names the agent, GET /v1/backends its capabilities", async () => {
    const health = await callDaemon(daemon, "GET", "/healthz", undefined, {});
    expect(health.status, health.text).toBe(200);
    expect(health.json).toMatchObject({ status: "ok", opencode: { mode: "acp", healthy: true } });
    const b = await callDaemon(daemon, "GET", "/v1/backends", undefined, auth);
    expect(b.status, b.text).toBe(200);
    const backend = (b.json?.backends as Record<string, unknown>[])[0];
    expect(backend).toMatchObject({ name: "default", kind: "acp", capabilities: { backend: "acp", permissions: true, abort: true, clientFs: false } });
    expect(typeof (backend?.capabilities as { sessionResume?: boolean }).sessionResume).toBe("boolean");
    expect((await callDaemon(daemon, "GET", "/v1/backends", undefined, {})).status).toBe(401);
  });

  it("a text turn: 202 with the agent's session, deltas and a final", async () => {
    session = await start(daemon, { text: scenario("text"), trace_id: `${name}-text` });
    expect(session).not.toBe("");
    const { replies, outcome } = await ended(daemon, `${name}-text`);
    expect(outcome).toBe("final");
    expect(replies.at(-1)).toMatchObject({ kind: "final", content: "Hello from the scripted model. This is plain text." });
    for (const pid of childrenOf(daemon.child.pid as number)) agents.add(pid);
  });

  it("what ACP turns cannot carry is refused (400), before any agent work", async () => {
    const r = await callDaemon(daemon, "POST", "/v1/turns", { text: "hi", model: "a/b" }, auth);
    expect(r.status, r.text).toBe(400);
    expect(r.json?.error).toMatch(/ACP agent.*leave out model/);
  });

  it("a permission asked of the client is answered over HTTP: the tool runs, the turn ends final", async () => {
    const trace = `${name}-perm`;
    expect(await start(daemon, { text: scenario("tool"), trace_id: trace, session_id: session, permission: "ask" })).toBe(session);
    const events = ended(daemon, trace);
    const pending = await pendingRequest(daemon, trace, auth);
    expect(pending.kind).toBe("permission");
    // A second turn on the busy session is accepted now (not once the first has ended), and runs after it.
    expect(await start(daemon, { text: scenario("text"), trace_id: `${trace}-next`, session_id: session })).toBe(session);
    const next = ended(daemon, `${trace}-next`);
    const path = `/v1/turns/${trace}/requests/${pending.request_id}`;
    const ok = await callDaemon(daemon, "POST", path, { reply: "once" }, auth);
    expect(ok.status, ok.text).toBe(200);
    expect((await callDaemon(daemon, "POST", path, { reply: "reject" }, auth)).status).toBe(409);
    const { replies, outcome } = await events;
    expect(outcome).toBe("final");
    expect(replies.find((r) => r.kind === "tool_result")).toMatchObject({ status: "completed" });
    expect(JSON.stringify(replies.find((r) => r.kind === "tool_result"))).toContain("bridge-tool-ok");
    expect((await next).outcome).toBe("final");
  });

  it("a hung model ends timeout (session/cancel sent); the session takes the next turn", async () => {
    const trace = `${name}-stall`;
    await start(daemon, { text: scenario("stall"), trace_id: trace, session_id: session, timeouts: { idle_ms: 3_000 } });
    const { outcome } = await ended(daemon, trace);
    expect(outcome).toBe("timeout");
    await daemon.waitForLog(new RegExp(`"trace_id":"${trace}"[^\n]*"msg":"session/cancel sent"`), 5_000);
    await start(daemon, { text: scenario("text"), trace_id: `${name}-after-stall`, session_id: session });
    expect((await ended(daemon, `${name}-after-stall`)).outcome).toBe("final");
  });

  it("the agent killed -9 mid-turn: error transport within a second; the next turn resumes the session on a new agent", async () => {
    const trace = `${name}-kill`;
    await start(daemon, { text: scenario("slow"), trace_id: trace, session_id: session });
    const f = follow(daemon, trace, auth);
    await until(() => f.frames.find((x) => x.event === "reply" && x.data.kind === "delta"), "a delta", 120_000);
    const before = childrenOf(daemon.child.pid as number);
    expect(before.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    for (const pid of before) process.kill(pid, "SIGKILL");
    const done = await until(() => f.frames.find((x) => x.event === "done"), "the done event", 10_000);
    const took = Date.now() - killedAt;
    await f.ended;
    expect(done.data).toMatchObject({ outcome: "transport" });
    expect(took).toBeLessThan(1000);
    const replies = f.frames.filter((x) => x.event === "reply").map((x) => x.data);
    expect(contractViolations(replies as never)).toEqual([]);
    // What the killed agent started goes with its group.
    for (const pid of before) {
      agents.add(pid);
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone with it
      }
    }
    expect(await start(daemon, { text: scenario("text"), trace_id: `${name}-resumed`, session_id: session })).toBe(session);
    expect((await ended(daemon, `${name}-resumed`)).outcome).toBe("final");
    for (const pid of childrenOf(daemon.child.pid as number)) agents.add(pid);
  });

  it("SIGTERM: the daemon exits 0 and stops every agent it started", async () => {
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    for (const pid of agents) expect(groupAlive(pid), `agent group ${pid} still running`).toBe(false);
  });
});

describe("the daemon killed -9 mid-turn on Codex (which outlives a closed stdin while it waits)", { timeout: 300_000 }, () => {
  let live: LiveAgent;
  const daemons: Daemon[] = [];
  beforeAll(async () => {
    live = await startLiveAgent("codex", "ask");
  });
  afterAll(async () => {
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill("SIGKILL");
    await Promise.all(daemons.map((d) => d.exited));
    await live?.stop();
  });

  it("its agent is stopped all the same (the reaper), and the next daemon on the state directory ends the turn transport", async () => {
    const stateDir = tempStateDir();
    const args = ["--acp", live.agent.command.join(" "), "--directory", live.agent.dir, "--state-dir", stateDir];
    const env = { ...live.agent.env, BRIDGE_TOKEN: TOKEN };
    const first = await startDaemon(args, env);
    daemons.push(first);
    // Killed while the agent waits for a permission answer: it writes nothing then, so no broken pipe ends it.
    await start(first, { text: scenario("tool"), trace_id: "killed-daemon", permission: "ask" });
    const f = follow(first, "killed-daemon", auth);
    // The stream breaks when the daemon is killed: that is expected, not an error of the test.
    const broken = f.ended.catch(() => undefined);
    await pendingRequest(first, "killed-daemon", auth);
    const agents = childrenOf(first.child.pid as number);
    expect(agents.length).toBeGreaterThan(0);
    first.child.kill("SIGKILL");
    await first.exited;
    await broken;
    await until(() => (agents.some(groupAlive) ? undefined : true), "the agents' groups gone", 15_000);
    const second = await startDaemon(args, env);
    daemons.push(second);
    const ended = await pollTurn(second, "killed-daemon");
    expect(ended).toMatchObject({ state: "finished", outcome: "transport" });
    const { replies } = await turnEvents(second, "killed-daemon", auth);
    expect(contractViolations(replies)).toEqual([]);
    expect(replies.at(-1)).toMatchObject({ kind: "error", code: "transport" });
  });
});

/** Polls a turn until it has finished. */
async function pollTurn(d: Daemon, traceId: string): Promise<Record<string, unknown> | undefined> {
  const end = Date.now() + 30_000;
  for (;;) {
    const t = await callDaemon(d, "GET", `/v1/turns/${traceId}`, undefined, auth);
    if (t.json?.state === "finished" || Date.now() > end) return t.json;
    await new Promise((r) => setTimeout(r, 100));
  }
}
