/**
 * Owning an OpenCode 2.x server: the pinned 2.1.2 from the per-user cache,
 * started with a generated password, ready on `GET /api/info`, running a turn of
 * the scripted model through its `/api/*` routes with the project's opencode.json.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Agent, type Dispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpencodeAdapter } from "../../src/adapter/adapter.js";
import { contractViolations } from "../../src/codec/reply.js";
import { MemorySink } from "../../src/sink/memory.js";
import { startScriptedOpencode } from "../../src/scripted-model/opencode.js";
import { startScriptedModel, type ScriptedModel } from "../../src/scripted-model/server.js";
import { ensureOpencode, PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import { binaryLine, startManagedServer, type ManagedServer } from "../../src/server/managed.js";
import { createScriptedProject, type ScriptedProject } from "../../src/server/scripted-project.js";

describe("an owned OpenCode 2.1.2", () => {
  let model: ScriptedModel;
  let project: ScriptedProject;
  let server: ManagedServer;
  let auth: string;

  beforeAll(async () => {
    const binary = await ensureOpencode(PINNED_OPENCODE2_VERSION);
    expect(binary).toMatch(/opencode\/2\.1\.2\/node_modules\/@opencode\/cli-[a-z0-9]+-[a-z0-9]+\/bin\/opencode$/);
    model = await startScriptedModel();
    project = await createScriptedProject({ modelUrl: model.url, permission: "allow" });
    server = await startManagedServer({ binary, cwd: project.dir, env: project.env, readyTimeoutMs: 60_000 });
    auth = `Basic ${Buffer.from(`opencode:${server.password}`).toString("base64")}`;
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    await project?.cleanup();
  });

  it("is started as line 2 with a generated password and reports its version", async () => {
    expect(server.line).toBe(2);
    expect(server.version).toBe("2.1.2");
    expect(server.password).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const info = await fetch(`${server.url}/api/info`, { headers: { authorization: auth } });
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ version: "2.1.2", pid: expect.any(Number) });
    // Auth is on: without the password the server refuses.
    const anon = await fetch(`${server.url}/api/info`);
    await anon.body?.cancel();
    expect(anon.status).toBe(401);
    // 1.x's routes are not 404 on 2.x: they answer the web app's HTML (what makes a 1.x client misread it).
    for (const path of ["/global/health", "/event", "/session"]) {
      const r = await fetch(`${server.url}${path}`, { headers: { authorization: auth } });
      await r.body?.cancel();
      expect([path, r.status, r.headers.get("content-type")]).toEqual([path, 200, expect.stringMatching(/^text\/html/)]);
    }
  });

  it("runs a scripted turn with the project's opencode.json (the record ends idle succeeded)", async () => {
    const headers = { authorization: auth, "content-type": "application/json" };
    const created = await fetch(`${server.url}/api/session`, {
      method: "POST",
      headers,
      body: JSON.stringify({ location: { directory: project.dir } }),
    });
    const sid = ((await created.json()) as { data: { id: string } }).data.id;
    const prompt = await fetch(`${server.url}/api/session/${sid}/prompt`, {
      method: "POST",
      headers,
      body: JSON.stringify({ text: "[scenario:text] hello" }),
    });
    await prompt.body?.cancel();
    expect(prompt.status).toBe(200);
    // Bounded by the record, not a sleep: poll until the idle record appears (at most 30 s).
    let messages: { type: string; outcome?: string; content?: { type: string; text?: string }[] }[] = [];
    for (let i = 0; i < 300; i++) {
      const r = await fetch(`${server.url}/api/session/${sid}/message`, { headers });
      messages = ((await r.json()) as { data: typeof messages }).data;
      if (messages[0]?.type === "idle") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(messages[0]).toMatchObject({ type: "idle", outcome: "succeeded" });
    const assistant = messages.find((m) => m.type === "assistant");
    expect(assistant?.content?.map((c) => c.text).join("")).toBe("Hello from the scripted model. This is plain text.");
    expect(model.requests.some((r) => r.scenario === "text")).toBe(true);
  });

  it("tells the line of a binary by its package path", async () => {
    expect(await binaryLine(await ensureOpencode(PINNED_OPENCODE2_VERSION))).toBe(2);
  });
});

describe("startScriptedOpencode({ version: 2.1.2 })", () => {
  it("owns a 2.x server whose scripted model calls 2.x's tools (shell), so the tool scenario completes", async () => {
    const oc = await startScriptedOpencode({ version: PINNED_OPENCODE2_VERSION });
    try {
      expect(oc.line).toBe(2);
      expect(oc.version).toBe("2.1.2");
      const headers = {
        authorization: `Basic ${Buffer.from(`opencode:${oc.password}`).toString("base64")}`,
        "content-type": "application/json",
      };
      const created = await fetch(`${oc.url}/api/session`, {
        method: "POST",
        headers,
        body: JSON.stringify({ location: { directory: oc.directory } }),
      });
      const sid = ((await created.json()) as { data: { id: string } }).data.id;
      const prompt = await fetch(`${oc.url}/api/session/${sid}/prompt`, {
        method: "POST",
        headers,
        body: JSON.stringify({ text: "[scenario:tool] run it" }),
      });
      await prompt.body?.cancel();
      type Entry = { type: string; outcome?: string; content?: { type: string; name?: string; state?: { status?: string } }[] };
      let messages: Entry[] = [];
      for (let i = 0; i < 400 && messages[0]?.type !== "idle"; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        const r = await fetch(`${oc.url}/api/session/${sid}/message`, { headers });
        messages = ((await r.json()) as { data: Entry[] }).data;
      }
      expect(messages[0]).toMatchObject({ type: "idle", outcome: "succeeded" });
      const tools = messages.flatMap((m) => m.content ?? []).filter((c) => c.type === "tool");
      expect(tools).toEqual([expect.objectContaining({ name: "shell", state: expect.objectContaining({ status: "completed" }) })]);
    } finally {
      await oc.stop();
    }
  });
});

/** An undici Agent that counts the event-stream connections opened through it. */
class CountingAgent extends Agent {
  eventStreams = 0;
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (opts.path.startsWith("/api/event")) this.eventStreams++;
    return super.dispatch(opts, handler);
  }
}

describe("one /api/event per OpenCode 2.x server", () => {
  it("adapters of two directories on a server known to be 2.x (line: 2) share one event stream; both turns end final", async () => {
    const oc = await startScriptedOpencode({ version: PINNED_OPENCODE2_VERSION });
    const dispatcher = new CountingAgent();
    const sub = join(oc.directory, "sub");
    mkdirSync(sub);
    const sinks = [new MemorySink(), new MemorySink()];
    const adapters = [oc.directory, sub].map(
      (directory, i) => new OpencodeAdapter({ baseUrl: oc.url, directory, password: oc.password, line: oc.line, dispatcher }, sinks[i] as MemorySink),
    );
    try {
      expect(oc.line).toBe(2);
      const results = await Promise.all(adapters.map((a, i) => a.prompt(`[scenario:text] hello from directory ${i}`)));
      expect(results.map((r) => r.status)).toEqual(["final", "final"]);
      for (const s of sinks) expect(contractViolations(s.replies)).toEqual([]);
      expect(dispatcher.eventStreams).toBe(1);
    } finally {
      await Promise.all(adapters.map((a) => a.close()));
      await dispatcher.close();
      await oc.stop();
    }
  });
});
