/**
 * No orphaned `opencode serve`: a server the bridge owns goes when the bridge
 * goes, however it goes — here, kill -9 of the CLI process alone, and of its
 * whole process group, mid-turn. And a server that fails to start says why.
 */
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedModel, type ScriptedModel } from "../../src/scripted-model/server.js";
import { createScriptedProject, type ScriptedProject } from "../../src/server/scripted-project.js";
import { ManagedServerError, startManagedServer } from "../../src/server/managed.js";
import { ensureOpencode } from "../../src/server/install.js";
import { CLI } from "../support/host.js";
import { E2E_VERSION, scenario } from "../support/live.js";
import { groupMembers, isRunning, spawnGroup, waitUntilGone, type Spawned } from "../support/processes.js";

/** Resolves with the first match of `re` in the child's stderr (its JSON log lines). */
function waitForLog(s: Spawned, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no ${re} in the output within ${timeoutMs} ms: ${seen.slice(-2000)}`)), timeoutMs);
    const onData = (c: Buffer | string) => {
      seen += String(c);
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        s.child.stderr?.off("data", onData);
        resolve(m);
      }
    };
    s.child.stderr?.on("data", onData);
    void s.done.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited before ${re} showed: ${seen.slice(-2000)}`));
    });
  });
}

/** The server's pid in the bridge's log line (the line's first "pid" is pino's: the bridge's own). */
const READY = /"pid":(\d+),"msg":"opencode serve ready"/;

describe("an owned opencode serve does not outlive its bridge", () => {
  let model: ScriptedModel;
  let project: ScriptedProject;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    model = await startScriptedModel();
    project = await createScriptedProject({ modelUrl: model.url, permission: "allow" });
    env = { ...process.env, ...project.env, OPENCODE_BIN: await ensureOpencode(E2E_VERSION) };
    delete env.OPENCODE_URL;
    delete env.OPENCODE_SERVER_PASSWORD;
  });
  afterAll(async () => {
    await model?.close();
    await project?.cleanup();
  });

  it("kill -9 of `opencode-bridge prompt` mid-turn: its server and the server's group are gone", async () => {
    const cli = spawnGroup(
      process.execPath,
      [CLI, "prompt", "--jsonl", "--log-level", "info", "--directory", project.dir, scenario("stall")],
      { env, timeoutMs: 60_000 },
    );
    try {
      const pid = Number((await waitForLog(cli, READY, 45_000))[1]);
      // Mid-turn: the stalled model has streamed its first words.
      await new Promise<void>((resolve) => {
        const onOut = (c: Buffer | string) => {
          if (String(c).includes('"kind":"delta"')) {
            cli.child.stdout?.off("data", onOut);
            resolve();
          }
        };
        cli.child.stdout?.on("data", onOut);
      });
      expect(pid).not.toBe(cli.child.pid);
      expect(isRunning(pid)).toBe(true);
      process.kill(cli.child.pid as number, "SIGKILL"); // the bridge alone, as a crash would
      await cli.done;
      expect(await waitUntilGone([pid], 15_000), `opencode serve ${pid} still running`).toEqual([]);
      // Nothing of the server's group either (a launcher's real server).
      expect(groupMembers(pid)).toEqual([]);
    } finally {
      cli.kill();
    }
  });

  it("kill -9 of the whole process group of `opencode-bridge serve`: its server is gone", async () => {
    const daemon = spawnGroup(process.execPath, [CLI, "serve", "--port", "0", "--directory", project.dir], { env, timeoutMs: 60_000 });
    try {
      const pid = Number((await waitForLog(daemon, READY, 45_000))[1]);
      expect(pid).not.toBe(daemon.child.pid);
      expect(isRunning(pid)).toBe(true);
      daemon.kill("SIGKILL"); // kill -9 -PGID: everything in the bridge's group at once
      await daemon.done;
      expect(await waitUntilGone([pid], 15_000), `opencode serve ${pid} still running`).toEqual([]);
      expect(groupMembers(pid)).toEqual([]);
    } finally {
      daemon.kill();
    }
  });
});

describe("a server that fails to start", () => {
  let port: number;
  let blocker: Server;
  let project: ScriptedProject;
  beforeAll(async () => {
    blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    port = (blocker.address() as { port: number }).port;
    project = await createScriptedProject({ modelUrl: "http://127.0.0.1:9/v1" });
  });
  afterAll(async () => {
    await new Promise<void>((r) => blocker.close(() => r()));
    await project?.cleanup();
  });

  it("reports the tail of OpenCode's own output (here: its port is taken)", async () => {
    const err = await startManagedServer({
      binary: await ensureOpencode(E2E_VERSION),
      cwd: project.dir,
      env: project.env,
      port,
      readyTimeoutMs: 30_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ManagedServerError);
    expect((err as ManagedServerError).code).toBe("exited");
    const message = (err as Error).message;
    expect(message).toMatch(/^opencode serve exited before it was ready \(code 1, signal null\); its last output:\n/);
    // OpenCode 1.18.33's own words for a port in use, without colour codes.
    expect(message).toContain("ServeError");
    expect(message).not.toContain("\x1b[");
  });
});

