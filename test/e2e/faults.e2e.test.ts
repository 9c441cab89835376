/**
 * Fault injection: a TCP proxy between the adapter and a real `opencode serve`
 * cuts the `/event` stream at many points of real turns. For every cut: one
 * terminal reply, text equal to what the server recorded, every tool call with
 * its result, nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpencodeAdapter } from "../../src/adapter/adapter.js";
import { contractViolations } from "../../src/codec/reply.js";
import { MemorySink } from "../../src/sink/memory.js";
import { checkTurnAgainstServer } from "../support/check.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { afterMatches, startTcpProxy, type Cutter, type TcpProxy } from "../support/tcp-proxy.js";
import { OwnedServer } from "../../src/server/owned.js";
import { ensureOpencode } from "../../src/server/install.js";
import { E2E_VERSION } from "../support/live.js";

const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200, growFactor: 2, maxAttempts: 10 };

describe("cutting the event stream of real turns", () => {
  let live: Live;
  let proxy: TcpProxy;
  let adapter: OpencodeAdapter;
  let sink: MemorySink;
  beforeAll(async () => {
    live = await startLive({ permission: "allow" });
    const port = Number(new URL(live.url).port);
    proxy = await startTcpProxy({ host: "127.0.0.1", port });
    sink = new MemorySink();
    adapter = new OpencodeAdapter(
      { baseUrl: proxy.url, directory: live.directory, reconnect: FAST_RECONNECT, idleTimeoutMs: 30_000 },
      sink,
    );
  });
  afterAll(async () => {
    await adapter?.close();
    await proxy?.close();
    await live?.stop();
  });

  const cases: [string, string, Cutter][] = [
    ["long", "mid-text, inside a frame", afterMatches('"type":"message.part.delta"', 40, "mid")],
    ["long", "mid-text, between frames", afterMatches('"type":"message.part.delta"', 300, "before")],
    ["long", "late in the text", afterMatches('"type":"message.part.delta"', 1100, "before")],
    ["long", "just before the idle", afterMatches('"type":"session.idle"', 1, "before")],
    ["reasoning", "mid-reasoning", afterMatches('"type":"message.part.delta"', 4, "mid")],
    ["tool", "mid-tool (running)", afterMatches('"status":"running"', 1, "before")],
    ["tool", "at the tool's result", afterMatches('"status":"completed"', 1, "before")],
    ["tool", "in the closing text", afterMatches('"type":"message.part.delta"', 7, "mid")],
    ["two-tools", "between the two tools", afterMatches('"status":"completed"', 1, "mid")],
    ["two-tools", "just before the idle", afterMatches('"type":"session.status","properties":{"sessionID"', 1, "before")],
    ["tool-error", "at the failing tool", afterMatches('"status":"error"', 1, "before")],
    ["provider-error", "at the server's error", afterMatches('"type":"session.error"', 1, "before")],
    ["text", "right after the prompt is admitted", afterMatches('"role":"user"', 1, "before")],
    ["slow", "mid-text of a slow turn", afterMatches('"type":"message.part.delta"', 50, "mid")],
  ];

  it.each(cases)("%s, cut %s", async (name, _where, cutter) => {
    const cutsBefore = proxy.cuts;
    proxy.armCut(cutter);
    const traceId = `cut-${name}-${cutsBefore}`;
    const result = await adapter.prompt(scenario(name), { traceId });
    expect(proxy.cuts).toBe(cutsBefore + 1);
    const replies = sink.turn(traceId);
    expect(await checkTurnAgainstServer(live, replies)).toEqual([]);
    if (name === "provider-error") expect(result.error?.code).toBe("upstream");
    else expect(result.status).toBe("final");
  });

  it("cut at every 7th frame of a tool turn: each cut repaired", async () => {
    for (const n of [2, 9, 16, 23, 30, 37]) {
      const before = proxy.cuts;
      proxy.armCut(afterMatches("data: ", n, "mid"));
      const traceId = `cut-frame-${n}`;
      await adapter.prompt(scenario("tool"), { traceId });
      expect(proxy.cuts, `a cut after frame ${n}`).toBe(before + 1);
      const problems = await checkTurnAgainstServer(live, sink.turn(traceId));
      expect(problems, `cut after frame ${n}`).toEqual([]);
    }
  });

  it("the OpenCode server dies mid-turn: error transport within the idle timeout", async () => {
    const victim = await startLive({ permission: "allow" });
    const s = new MemorySink();
    const idleTimeoutMs = 3_000;
    let killedAt = 0;
    let deltas = 0;
    const a = new OpencodeAdapter(
      {
        baseUrl: victim.url,
        directory: victim.directory,
        idleTimeoutMs,
        settleTimeoutMs: 500,
        // Reconnecting would only give up after minutes: what ends the turn must be the idle clock.
        reconnect: { initialDelayMs: 50, maxDelayMs: 200, growFactor: 2, maxAttempts: 1_000 },
      },
      (r) => {
        s.deliver(r);
        // Kill it a few deltas in (counted: a busy server may merge deltas).
        if (r.kind === "delta" && r.trace_id === "death" && ++deltas === 5) {
          killedAt = Date.now();
          void victim.server.stop(100);
        }
      },
    );
    // A fresh server's first prompt starts its plugins, which can outlast a 3 s idle
    // clock on a loaded machine: warm it up first, with the default idle clock.
    const warm = new OpencodeAdapter({ baseUrl: victim.url, directory: victim.directory }, () => {});
    expect((await warm.prompt(scenario("text"), { traceId: "warm-up" })).status).toBe("final");
    await warm.close();
    const result = await a.prompt(scenario("slow"), { traceId: "death" });
    const tookAfterDeath = Date.now() - killedAt;
    expect(killedAt).toBeGreaterThan(0);
    expect(result.error?.code).toBe("transport");
    // The idle clock, plus the settle wait after the (failing) abort, plus slack for a
    // loaded machine — far below the minutes reconnecting would take to give up.
    expect(tookAfterDeath).toBeLessThan(idleTimeoutMs + 500 + 10_000);
    expect(contractViolations(s.turn("death"))).toEqual([]);
    await a.close();
    await victim.stop();
  }, 150_000);
});

describe("an owned opencode serve", () => {
  it("is restarted for the next turn when it has died", async () => {
    const live = await startLive({ permission: "allow" });
    // Three server starts in one test: on a loaded machine each can take many seconds.
    const owned = new OwnedServer({
      directory: live.directory,
      binary: await ensureOpencode(E2E_VERSION),
      env: live.project.env,
      readyTimeoutMs: 60_000,
    });
    try {
      const first = await owned.ensure();
      const turn = async (url: string) => {
        const a = new OpencodeAdapter({ baseUrl: url, directory: live.directory, password: owned.password }, () => {});
        const r = await a.prompt(scenario("text"));
        await a.close();
        return r;
      };
      expect((await turn(first.url)).status).toBe("final");
      first.child.kill("SIGKILL");
      await new Promise((r) => first.child.once("exit", r));
      const second = await owned.ensure();
      expect(owned.restarts).toBe(1);
      expect(second.pid).not.toBe(first.pid);
      expect((await turn(second.url)).status).toBe("final");
    } finally {
      await owned.stop();
      await live.stop();
    }
  }, 240_000);
});
