/**
 * The daemon (`serve --opencode-url`, spawned as users run it) in front of a real
 * OpenCode 2.1.2 with the scripted model, through a TCP proxy on `/api/event`: the
 * captured scenarios give the same replies over `GET /v1/turns/:id/events` as the
 * captured turns, the idle timeout ends a stalled turn error timeout and interrupts
 * the session, a cut of the event stream mid-turn is repaired, and a daemon given a
 * wrong OPENCODE_SERVER_PASSWORD answers error auth, never a hang.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations } from "../../src/codec/reply.js";
import { createDialect } from "../../src/adapter/line.js";
import { PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { afterMatches, startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { callDaemon, startDaemon, turnEvents, type Daemon } from "./daemon-process.js";
import { golden, scriptedText, shape, text } from "./v2-process.js";

const TOKEN = "v2-matrix-token-0123456789abcdef";
const auth = { authorization: `Bearer ${TOKEN}` };

describe("the daemon in front of OpenCode 2.1.2: the scenario matrix", () => {
  let live: Live;
  let proxy: TcpProxy;
  let daemon: Daemon;
  let wrong: Daemon | undefined;
  beforeAll(async () => {
    live = await startLive({ version: PINNED_OPENCODE2_VERSION, permission: "allow" });
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(live.url).port) });
    daemon = await startDaemon(["--opencode-url", proxy.url, "--directory", live.directory, "--permission", "allow"], {
      BRIDGE_TOKEN: TOKEN,
      OPENCODE_SERVER_PASSWORD: live.password ?? "",
    });
  }, 180_000);
  afterAll(async () => {
    for (const d of [daemon, wrong]) {
      d?.child.kill("SIGKILL");
      await d?.exited;
    }
    await proxy?.close();
    await live?.stop();
  });

  /** Starts a turn on `d` and reads its events to the end. */
  const turn = async (d: Daemon, traceId: string, body: Record<string, unknown>) => {
    const started = await callDaemon(d, "POST", "/v1/turns", { trace_id: traceId, ...body }, auth);
    expect(started.status, started.text).toBe(202);
    const { replies, done } = await turnEvents(d, traceId, auth);
    expect(contractViolations(replies)).toEqual([]);
    expect(replies.map((r) => r.seq)).toEqual(replies.map((_, i) => i));
    expect(replies.every((r) => r.trace_id === traceId)).toBe(true);
    return { replies, done };
  };

  it.each(["text", "reasoning", "tool", "tool-error", "two-tools", "non-ascii", "plugin-tag", "long", "provider-error"])(
    "%s: the same replies as the captured 2.1.2 turn, the turn's record agrees",
    async (name) => {
      const { replies, done } = await turn(daemon, `matrix-${name}`, { text: scenario(name) });
      expect(shape(replies)).toEqual(shape(golden(name)));
      // `outcome`: final, or the error reply's code (docs/daemon.md).
      const end = replies.at(-1) as { kind: string; code?: string };
      const outcome = end.kind === "final" ? "final" : end.code;
      expect(done).toMatchObject({ outcome, replies: replies.length });
      const record = await callDaemon(daemon, "GET", `/v1/turns/matrix-${name}`, undefined, auth);
      expect(record.json).toMatchObject({ state: "finished", outcome, replies: replies.length });
    },
    120_000,
  );

  it("the idle timeout (idle_ms 3000) ends a stalled turn error timeout and interrupts the session", async () => {
    const { replies, done } = await turn(daemon, "matrix-stall", { text: scenario("stall"), timeouts: { idle_ms: 3_000 } });
    const end = replies.at(-1) as { kind: string; code?: string; session_id: string };
    expect(end).toMatchObject({ kind: "error", code: "timeout" });
    expect(done).toMatchObject({ outcome: "timeout" });
    // OpenCode's own record: the session is no longer busy.
    const d = createDialect({ baseUrl: live.url, directory: live.directory, password: live.password });
    expect((await d.sessionStatus())[end.session_id]).toBeUndefined();
  }, 120_000);

  it("/api/event cut in the middle of a frame mid-turn: repaired from the record, the same final", async () => {
    const cutsBefore = proxy.cuts;
    proxy.armCut(afterMatches('"type":"session.text.delta"', 3, "mid"));
    const { replies, done } = await turn(daemon, "matrix-cut", { text: scenario("slow") });
    expect(proxy.cuts).toBe(cutsBefore + 1);
    expect(done).toMatchObject({ outcome: "final" });
    const final = replies.at(-1) as { kind: string; content: string };
    expect(final.kind).toBe("final");
    // The slow scenario's 200 chunks, none lost nor doubled by the repair.
    expect(final.content).toBe(scriptedText("slow"));
    expect(text(replies)).toBe(final.content);
  }, 120_000);

  it("a daemon given a wrong OPENCODE_SERVER_PASSWORD: the turn is refused at once, 502 naming auth and the fix, no hang", async () => {
    wrong = await startDaemon(["--opencode-url", live.url, "--directory", live.directory], {
      BRIDGE_TOKEN: TOKEN,
      OPENCODE_SERVER_PASSWORD: "not-the-password",
    });
    const before = live.model.requests.length;
    const started = await callDaemon(wrong, "POST", "/v1/turns", { trace_id: "matrix-wrong-password", text: scenario("text") }, auth);
    expect(started.status, started.text).toBe(502);
    expect(started.json).toMatchObject({ error: "could not create an OpenCode session", details: { code: "auth" } });
    expect((started.json?.details as { reason: string }).reason).toContain("OpenCode 2.x refused the credentials");
    expect(started.text).not.toMatch(/<!doctype|<html/i);
    // Nothing reached the model.
    expect(live.model.requests.length).toBe(before);
  }, 120_000);
});
