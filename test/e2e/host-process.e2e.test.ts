/**
 * The bridge as users run it, in its own process, through stream cuts: the
 * spawned `opencode-bridge prompt` CLI and a one-shot host script (a separate
 * Node process importing the package by name) drive real turns against a real
 * `opencode serve` through a TCP proxy that cuts `/event` at one point of each
 * turn. Each must print every reply and exactly one terminal reply, exit with
 * the status of that reply, and match the server's record. (In the test
 * runner's own process the event loop is always busy; out here a turn that
 * holds nothing while it reconnects ends the process mid-turn: exit 13.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { checkTurnAgainstServer } from "../support/check.js";
import { CLI, createHostPackage, type HostPackage } from "../support/host.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { runGroup, type RunResult } from "../support/processes.js";
import { afterMatches, startTcpProxy, type Cutter, type TcpProxy } from "../support/tcp-proxy.js";

const parseLines = (s: string): Reply[] =>
  s
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Reply);

const TERMINAL = new Set(["final", "error"]);

describe("a turn in its own process survives a cut of the event stream", () => {
  let live: Live;
  let proxy: TcpProxy;
  let host: HostPackage;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    live = await startLive({ permission: "allow" });
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(live.url).port) });
    host = await createHostPackage();
    env = { ...process.env };
    delete env.OPENCODE_URL;
    delete env.OPENCODE_SERVER_PASSWORD;
  });
  afterAll(async () => {
    await proxy?.close();
    await live?.stop();
    await host?.cleanup();
  });

  const cases: [string, string, Cutter][] = [
    ["text", "right after the prompt is admitted", afterMatches('"role":"user"', 1, "before")],
    ["text", "mid-text, inside a frame", afterMatches('"type":"message.part.delta"', 3, "mid")],
    ["tool", "while the tool runs", afterMatches('"status":"running"', 1, "before")],
    ["tool", "at the tool's result", afterMatches('"status":"completed"', 1, "before")],
    ["long", "mid-text of a long answer", afterMatches('"type":"message.part.delta"', 300, "mid")],
    ["long", "just before the idle", afterMatches('"type":"session.idle"', 1, "before")],
    ["slow", "mid-text of a slow turn", afterMatches('"type":"message.part.delta"', 50, "before")],
    ["provider-error", "at the server's error", afterMatches('"type":"session.error"', 1, "before")],
  ];
  const runners: [string, (traceId: string, text: string) => Promise<RunResult>][] = [
    [
      "opencode-bridge prompt",
      (traceId, text) =>
        runGroup(process.execPath, [CLI, "prompt", "--jsonl", "--url", proxy.url, "--directory", live.directory, "--trace-id", traceId, text], {
          env,
          timeoutMs: 50_000,
        }),
    ],
    [
      "a one-shot host script",
      (traceId, text) => runGroup(process.execPath, [host.script, proxy.url, live.directory, traceId, text], { env, timeoutMs: 50_000 }),
    ],
  ];

  describe.each(runners)("%s", (_runner, run) => {
    it.each(cases)("%s turn, cut %s", async (name, where, cutter) => {
      const cutsBefore = proxy.cuts;
      proxy.armCut(cutter);
      const traceId = `proc-${name}-${cutsBefore}`;
      const r = await run(traceId, scenario(name));
      const context = `${where}: exit ${r.status} (signal ${r.signal}${r.timedOut ? ", timed out" : ""}); stderr: ${r.stderr.slice(-2000)}`;
      expect(proxy.cuts, context).toBe(cutsBefore + 1);
      const replies = parseLines(r.stdout);
      const terminals = replies.filter((x) => TERMINAL.has(x.kind));
      expect(terminals.length, context).toBe(1);
      expect(replies[replies.length - 1], context).toBe(terminals[0]);
      expect(contractViolations(replies), context).toEqual([]);
      expect(replies.every((x) => x.trace_id === traceId)).toBe(true);
      expect(await checkTurnAgainstServer(live, replies), context).toEqual([]);
      const expected = name === "provider-error" ? "error" : "final";
      expect(terminals[0]?.kind, context).toBe(expected);
      expect(r.status, context).toBe(expected === "final" ? 0 : 1);
    });
  });

  it("an idle host exits by itself once its turn has ended (no close() needed)", async () => {
    const r = await runGroup(process.execPath, [host.script, live.url, live.directory, "idle-exit", scenario("text")], {
      env,
      timeoutMs: 30_000,
    });
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.status, r.stderr).toBe(0);
    expect(parseLines(r.stdout).pop()).toMatchObject({ kind: "final" });
  });
});
