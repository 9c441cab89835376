/**
 * OpenCode 2.1.2 killed -9 mid-turn under the spawned `opencode-bridge prompt`:
 * left dead, and restarted on its port (same password and data). Either way the
 * turn ends error, never a false final; on the restarted server the next turn works.
 * (The daemon's owned 2.x killed and restarted: v2-owned.e2e.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations } from "../../src/codec/reply.js";
import { PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import type { ManagedServer } from "../../src/server/managed.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { cli, lines, restartOnItsPort } from "./v2-process.js";

describe("OpenCode 2.1.2 killed -9 mid-turn", () => {
  let live: Live;
  beforeAll(async () => {
    live = await startLive({ version: PINNED_OPENCODE2_VERSION, permission: "allow" });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it("the turn ends error (never a false final), exit 1", async () => {
    let killed = false;
    const r = await cli(live, ["--trace-id", "v2-kill", scenario("slow")], {
      onLine: (reply) => {
        // Once the answer has started: the server dies with the turn half done.
        if (!killed && reply.kind === "delta") {
          killed = true;
          live.server.child.kill("SIGKILL");
        }
      },
    });
    expect(killed).toBe(true);
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out.some((x) => x.kind === "final")).toBe(false);
    expect(out[out.length - 1]).toMatchObject({ kind: "error" });
    expect(["transport", "timeout", "server"]).toContain((out[out.length - 1] as { code: string }).code);
  });
});

describe("OpenCode 2.1.2 killed -9 and restarted on its port mid-turn", () => {
  let live: Live;
  let restarted: ManagedServer | undefined;
  beforeAll(async () => {
    live = await startLive({ version: PINNED_OPENCODE2_VERSION, permission: "allow" });
  });
  afterAll(async () => {
    await restarted?.stop();
    await live?.stop();
  });

  it("the turn ends error (the restarted server's record has no finished answer), never final; the next turn on it ends final", async () => {
    let killed: Promise<void> | undefined;
    const r = await cli(live, ["--trace-id", "v2-restart", scenario("slow")], {
      onLine: (reply) => {
        if (killed === undefined && reply.kind === "delta") {
          live.server.child.kill("SIGKILL");
          // The same port, password and data directory: the CLI reconnects to it and reads its record.
          killed = (async () => {
            restarted = await restartOnItsPort(live);
          })();
        }
      },
    });
    expect(killed).toBeDefined();
    await killed;
    const out = lines(r.stdout);
    expect(contractViolations(out)).toEqual([]);
    expect(out.some((x) => x.kind === "final")).toBe(false);
    const end = out[out.length - 1] as { kind: string; code: string; error: string };
    expect(end.kind, r.stderr.slice(-2000)).toBe("error");
    expect(["transport", "timeout", "server"]).toContain(end.code);
    expect(r.status).toBe(1);

    const next = await cli(live, ["--trace-id", "v2-after-restart", scenario("tool")]);
    const out2 = lines(next.stdout);
    expect(contractViolations(out2)).toEqual([]);
    expect(out2[out2.length - 1], next.stderr).toMatchObject({ kind: "final", content: "Let me run a command.The command printed bridge-tool-ok." });
    expect(next.status).toBe(0);
  });
});
