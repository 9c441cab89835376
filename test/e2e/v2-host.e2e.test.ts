/**
 * A one-shot host script (the package imported by name, test/support/host.ts) against
 * a real OpenCode 2.1.2 with the scripted model, as users write one: the captured
 * scenarios give the same replies as the captured turns, a permission allowed and
 * rejected by policy, a question answered by the `onRequest` hook, the idle timeout
 * interrupting the session, a subagent outliving it, a wrong password, OpenCode killed
 * -9 mid-turn and restarted.
 * (Cuts of `/api/event` under a host script: v2-cli.e2e.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { createDialect } from "../../src/adapter/line.js";
import { PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import type { ManagedServer } from "../../src/server/managed.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { createHostPackage, type HostPackage } from "../support/host.js";
import { spawnGroup, type RunResult } from "../support/processes.js";
import { golden, lines, restartOnItsPort, shape } from "./v2-process.js";

/** The default host script with this turn's options (JSON, argv[6]) and a hook that picks `pick` for every question. */
const SCRIPT = `import { OpencodeAdapter } from "opencode-bridge";

const [baseUrl, directory, traceId, text, options] = process.argv.slice(2);
const { pick, ...opts } = JSON.parse(options);
const onRequest = (req) => (req.kind === "question" && pick ? { answers: req.questions.map(() => [pick]) } : undefined);
const adapter = new OpencodeAdapter({ baseUrl, directory, ...opts, onRequest }, (reply) => {
  process.stdout.write(JSON.stringify(reply) + "\\n");
});
const result = await adapter.prompt(text, { traceId });
process.exitCode = result.status === "final" ? 0 : 1;
`;

interface HostOptions {
  permission?: "allow" | "reject" | "ask";
  question?: "reject" | "ask";
  idleTimeoutMs?: number;
  pick?: string;
}

describe("a one-shot host script against OpenCode 2.1.2", () => {
  let live: Live;
  let host: HostPackage;
  beforeAll(async () => {
    // A project whose permission is `ask`: the host's policy decides every tool.
    [live, host] = await Promise.all([startLive({ version: PINNED_OPENCODE2_VERSION, permission: "ask" }), createHostPackage(SCRIPT)]);
  }, 180_000);
  afterAll(async () => {
    await live?.stop();
    await host?.cleanup();
  });

  /** Runs the host script for one turn; `onReply` sees each reply as it is printed. */
  const runHost = async (
    server: Live,
    traceId: string,
    prompt: string,
    opts: HostOptions & { password?: string; onReply?: (r: Reply) => void } = {},
  ): Promise<RunResult & { out: Reply[] }> => {
    const { password, onReply, ...options } = opts;
    const env: NodeJS.ProcessEnv = { ...process.env, OPENCODE_SERVER_PASSWORD: password ?? server.password ?? "" };
    delete env.OPENCODE_URL;
    const run = spawnGroup(process.execPath, [host.script, server.url, server.directory, traceId, prompt, JSON.stringify({ permission: "allow", ...options })], {
      env,
      timeoutMs: 90_000,
    });
    let partial = "";
    run.child.stdout?.setEncoding("utf8").on("data", (c: string) => {
      const done = (partial + c).split("\n");
      partial = done.pop() ?? "";
      for (const l of done) if (l.trim() !== "") onReply?.(JSON.parse(l) as Reply);
    });
    const r = await run.done;
    expect(r.timedOut).toBe(false);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out.every((x) => x.trace_id === traceId)).toBe(true);
    expect(out.filter((x) => x.kind === "final" || x.kind === "error")).toHaveLength(1);
    return { ...r, out };
  };

  it.each(["text", "reasoning", "tool", "tool-error", "two-tools", "non-ascii", "plugin-tag", "long", "provider-error"])(
    "%s: the same replies as the captured 2.1.2 turn, exit 0 on final and 1 on error",
    async (name) => {
      const r = await runHost(live, `host-${name}`, scenario(name));
      expect(shape(r.out), r.stderr).toEqual(shape(golden(name)));
      expect(r.status).toBe(r.out.at(-1)?.kind === "final" ? 0 : 1);
    },
    120_000,
  );

  it("permission allowed by policy: the tool runs, final, exit 0", async () => {
    const r = await runHost(live, "host-perm-allow", scenario("permission"), { permission: "allow" });
    expect(r.out.find((x) => x.kind === "tool_result"), r.stderr).toMatchObject({ tool: "shell", status: "completed", output: "needs-permission\n" });
    expect(r.out.at(-1)).toMatchObject({ kind: "final", content: "After the permission decision." });
    expect(r.status).toBe(0);
  }, 120_000);

  it("permission rejected by policy: the tool is declined with the bridge's reason, the model goes on, exit 0", async () => {
    const r = await runHost(live, "host-perm-reject", scenario("permission"), { permission: "reject" });
    const result = r.out.find((x) => x.kind === "tool_result") as { status: string; error: string } | undefined;
    expect(result, r.stderr).toMatchObject({ tool: "shell", status: "error" });
    expect(result?.error).toContain('permission policy is "reject"');
    expect(r.out.at(-1)).toMatchObject({ kind: "final", content: "After the permission decision." });
    expect(r.status).toBe(0);
  }, 120_000);

  it("a question answered by the onRequest hook: the chosen label reaches the tool, final", async () => {
    const r = await runHost(live, "host-question", scenario("question"), { question: "ask", pick: "Blue" });
    const result = r.out.find((x) => x.kind === "tool_result");
    expect(result, r.stderr).toMatchObject({ tool: "question", status: "completed" });
    expect(JSON.stringify(result)).toContain('=\\"Blue\\"');
    expect(r.out.at(-1)?.kind).toBe("final");
    expect(r.status).toBe(0);
  }, 120_000);

  it("the idle timeout (3 s) ends a stalled turn error timeout, exit 1, the session interrupted", async () => {
    const r = await runHost(live, "host-stall", scenario("stall"), { idleTimeoutMs: 3_000 });
    const end = r.out.at(-1) as { kind: string; code?: string; session_id: string };
    expect(end, r.stderr).toMatchObject({ kind: "error", code: "timeout" });
    expect(r.status).toBe(1);
    const d = createDialect({ baseUrl: live.url, directory: live.directory, password: live.password });
    expect((await d.sessionStatus())[end.session_id]).toBeUndefined();
  }, 120_000);

  it("a wrong password: error auth naming the fix, no HTML, exit 1", async () => {
    const r = await runHost(live, "host-wrong-password", scenario("text"), { password: "not-the-password" });
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatchObject({ kind: "error", code: "auth" });
    expect((r.out[0] as { error: string }).error).toContain("OpenCode 2.x refused the credentials");
    expect(r.stdout + r.stderr).not.toMatch(/<!doctype|<html/i);
    expect(r.status).toBe(1);
  }, 120_000);

  it("a subagent working longer than the idle timeout (~8 s against 3 s): final with the parent's text, exit 0", async () => {
    const r = await runHost(live, "host-slow-subagent", scenario("slow-subagent"), { idleTimeoutMs: 3_000 });
    expect(r.out.at(-1), r.stderr).toMatchObject({ kind: "final", content: "The slow subagent finished its work." });
    expect(r.out.filter((x) => x.kind === "tool_result")).toMatchObject([{ tool: "subagent", status: "completed" }]);
    expect(r.status).toBe(0);
  }, 120_000);

  it("OpenCode killed -9 mid-turn and restarted on its port: error (never a false final), exit 1; the next host turn on it ends final", async () => {
    // Its own server: this one dies, and comes back with the same port, password and data.
    const doomed = await startLive({ version: PINNED_OPENCODE2_VERSION, permission: "allow" });
    let restarted: ManagedServer | undefined;
    try {
      let back: Promise<void> | undefined;
      const r = await runHost(doomed, "host-kill", scenario("slow"), {
        onReply: (reply) => {
          if (back === undefined && reply.kind === "delta") {
            doomed.server.child.kill("SIGKILL");
            back = (async () => {
              restarted = await restartOnItsPort(doomed);
            })();
          }
        },
      });
      expect(back).toBeDefined();
      await back;
      expect(r.out.some((x) => x.kind === "final")).toBe(false);
      const end = r.out.at(-1) as { kind: string; code: string };
      expect(end.kind, r.stderr.slice(-2000)).toBe("error");
      expect(["transport", "timeout", "server"]).toContain(end.code);
      expect(r.status).toBe(1);
      const next = await runHost(doomed, "host-after-restart", scenario("text"));
      expect(next.out.at(-1), next.stderr).toMatchObject({ kind: "final" });
      expect(next.status).toBe(0);
    } finally {
      await restarted?.stop();
      await doomed.stop();
    }
  }, 240_000);
});
