/**
 * `opencode-bridge prompt --url URL --directory DIR` against a real OpenCode 2.1.2
 * with the scripted model, the CLI spawned as a user runs it — unchanged from 1.x:
 * text, a tool, permission rejected and allowed, the `/api/event` stream cut mid-turn
 * (repaired from the record), the captured scenarios (plugin tags among them), a
 * subagent outliving the idle timeout, the idle timeout, Ctrl-C, a wrong password;
 * a one-shot host script through cuts. OpenCode killed -9: v2-faults.e2e.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations } from "../../src/codec/reply.js";
import { createDialect } from "../../src/adapter/line.js";
import { PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { afterMatches, startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { createHostPackage } from "../support/host.js";
import { runGroup } from "../support/processes.js";
import { cli, golden, lines, scriptedText, shape, text } from "./v2-process.js";

describe("opencode-bridge prompt against OpenCode 2.1.2", () => {
  let allow: Live;
  let ask: Live;
  let proxy: TcpProxy;
  beforeAll(async () => {
    [allow, ask] = await Promise.all([
      startLive({ version: PINNED_OPENCODE2_VERSION, permission: "allow" }),
      startLive({ version: PINNED_OPENCODE2_VERSION, permission: "ask" }),
    ]);
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(allow.url).port) });
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([allow?.stop(), ask?.stop()]);
  });

  it("text: JSON Lines, final with the answer, exit 0", async () => {
    const r = await cli(allow, ["--trace-id", "v2-text", scenario("text")]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out.every((x) => x.trace_id === "v2-text")).toBe(true);
    expect(out[out.length - 1]).toMatchObject({ kind: "final", content: "Hello from the scripted model. This is plain text.", model: "scripted/scripted-model" });
    expect(text(out)).toBe("Hello from the scripted model. This is plain text.");
  });

  it("a tool: its call and result once each, then the final", async () => {
    const r = await cli(allow, [scenario("tool")]);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out.filter((x) => x.kind === "tool_call")).toMatchObject([{ tool: "shell", input: { command: "echo bridge-tool-ok" } }]);
    expect(out.filter((x) => x.kind === "tool_result")).toMatchObject([{ tool: "shell", status: "completed", output: "bridge-tool-ok\n" }]);
    expect(out[out.length - 1]).toMatchObject({ kind: "final", content: "Let me run a command.The command printed bridge-tool-ok." });
  });

  it("permission allowed (--permission allow): the tool runs, final", async () => {
    const r = await cli(ask, ["--permission", "allow", scenario("permission")]);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out.find((x) => x.kind === "tool_result")).toMatchObject({ status: "completed" });
    expect(out[out.length - 1]?.kind).toBe("final");
  });

  it("permission rejected (--permission reject): the tool is declined with the bridge's reason, the model goes on", async () => {
    const r = await cli(ask, ["--permission", "reject", scenario("permission")]);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    // The rejection carries a message, so 2.1.2 fails the call with it and the model answers after it.
    expect(out.find((x) => x.kind === "tool_result")).toMatchObject({ tool: "shell", status: "error" });
    expect((out.find((x) => x.kind === "tool_result") as { error: string }).error).toContain('permission policy is "reject"');
    expect(out[out.length - 1]).toMatchObject({ kind: "final", content: "After the permission decision." });
    expect(r.status).toBe(0);
  });

  it("/api/event cut in the middle of a frame mid-turn: repaired from the record, the same final", async () => {
    const cutsBefore = proxy.cuts;
    proxy.armCut(afterMatches('"type":"session.text.delta"', 3, "mid"));
    const r = await cli(allow, ["--log-level", "info", scenario("slow")], { url: proxy.url });
    expect(proxy.cuts).toBe(cutsBefore + 1);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    const final = out[out.length - 1] as { kind: string; content: string };
    expect(final.kind).toBe("final");
    expect(text(out)).toBe(final.content);
    // The slow scenario's 200 chunks, none lost nor doubled by the repair.
    expect(final.content).toBe(scriptedText("slow"));
    expect(r.stderr).toContain("event stream dropped");
  });

  it.each(["reasoning", "tool-error", "two-tools", "non-ascii", "plugin-tag", "long", "huge", "subagent", "provider-error"])(
    "%s: the same replies as the captured 2.1.2 turn",
    async (name) => {
      const r = await cli(allow, [scenario(name)]);
      const out = lines(r.stdout);
      expect(contractViolations(out)).toEqual([]);
      expect(shape(out)).toEqual(shape(golden(name)));
      expect(r.status).toBe(out[out.length - 1]?.kind === "final" ? 0 : 1);
    },
  );

  it("a subagent working longer than the idle timeout (~8 s against 3 s): final with the parent's text, nothing of the child's", async () => {
    const r = await cli(allow, ["--idle-timeout", "3", scenario("slow-subagent")]);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out[out.length - 1], r.stderr).toMatchObject({ kind: "final", content: "The slow subagent finished its work." });
    expect(out.filter((x) => x.kind === "tool_call")).toMatchObject([{ tool: "subagent" }]);
    expect(out.filter((x) => x.kind === "tool_result")).toMatchObject([{ tool: "subagent", status: "completed" }]);
    // The child's own 40 words ran (they are what outlives the idle timeout), and none reached the parent's text.
    expect(allow.model.requests.some((q) => q.scenario === "slow-child")).toBe(true);
    expect(text(out)).toBe("The slow subagent finished its work.");
    expect(r.status).toBe(0);
  });

  it("the idle timeout ends a stalled turn error timeout and interrupts the session", async () => {
    const r = await cli(allow, ["--idle-timeout", "3", scenario("stall")]);
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    const end = out[out.length - 1] as { kind: string; code?: string; session_id: string };
    expect(end).toMatchObject({ kind: "error", code: "timeout" });
    const d = createDialect({ baseUrl: allow.url, directory: allow.directory, password: allow.password });
    expect((await d.sessionStatus())[end.session_id]).toBeUndefined();
  });

  it("Ctrl-C mid-turn: error aborted, exit 130, the session interrupted", async () => {
    let sent = false;
    const r = await cli(allow, [scenario("slow")], {
      onLine: (reply, child) => {
        if (!sent && reply.kind === "delta") {
          sent = true;
          child.kill("SIGINT");
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.status).toBe(130);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    const end = out[out.length - 1] as { kind: string; code?: string; session_id: string };
    expect(end).toMatchObject({ kind: "error", code: "aborted" });
    const d = createDialect({ baseUrl: allow.url, directory: allow.directory, password: allow.password });
    expect((await d.sessionStatus())[end.session_id]).toBeUndefined();
  });

  it("a wrong password: error auth naming the fix, no HTML, exit 1", async () => {
    const r = await cli(allow, [scenario("text")], { password: "not-the-password" });
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: "error", code: "auth" });
    expect((out[0] as { error: string }).error).toContain("OpenCode 2.x refused the credentials");
    expect(r.stdout + r.stderr).not.toMatch(/<!doctype|<html/i);
  });
});

describe("a one-shot host script (the package imported by name) against OpenCode 2.1.2", () => {
  let live: Live;
  let proxy: TcpProxy;
  beforeAll(async () => {
    live = await startLive({ version: PINNED_OPENCODE2_VERSION, permission: "allow" });
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(live.url).port) });
  });
  afterAll(async () => {
    await proxy?.close();
    await live?.stop();
  });

  it.each([
    ["tool", "at the tool's result", afterMatches('"type":"session.tool.success"', 1, "before")],
    ["slow", "mid-text, inside a frame", afterMatches('"type":"session.text.delta"', 4, "mid")],
    ["plugin-tag", "inside its first text frame", afterMatches('"type":"session.text.delta"', 1, "mid")],
  ])("%s turn, /api/event cut %s: one terminal, final, exit 0", async (name, _where, cutter) => {
    const host = await createHostPackage();
    try {
      const cutsBefore = proxy.cuts;
      proxy.armCut(cutter);
      const env: NodeJS.ProcessEnv = { ...process.env, OPENCODE_SERVER_PASSWORD: live.password ?? "" };
      delete env.OPENCODE_URL;
      const r = await runGroup(process.execPath, [host.script, proxy.url, live.directory, `host-${name}`, scenario(name)], { env, timeoutMs: 60_000 });
      expect(proxy.cuts, r.stderr).toBe(cutsBefore + 1);
      const out = lines(r.stdout);
      expect(contractViolations(out)).toEqual([]);
      expect(out.filter((x) => x.kind === "final" || x.kind === "error")).toHaveLength(1);
      expect(out[out.length - 1]?.kind, r.stderr).toBe("final");
      expect(r.status).toBe(0);
      const golden = { tool: "Let me run a command.The command printed bridge-tool-ok.", "plugin-tag": "Kept text  and more text." }[name] ?? scriptedText("slow");
      expect((out[out.length - 1] as { content: string }).content).toBe(golden);
    } finally {
      await host.cleanup();
    }
  });
});
