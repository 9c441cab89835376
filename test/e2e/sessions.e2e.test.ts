/**
 * Issue 13 against a real `opencode serve` and the scripted model: keyed sessions,
 * rich prompts (a text file and a PNG reach the model), idempotent daemon turns,
 * and precise error codes (not_found, upstream) with no stack trace in any message.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpencodeAdapter } from "../../src/adapter/adapter.js";
import { OpencodeHttp } from "../../src/adapter/http.js";
import type { Dialect } from "../../src/adapter/dialect.js";
import { createDialect } from "../../src/adapter/line.js";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { startScriptedModel, type ScriptedModel } from "../../src/scripted-model/server.js";
import { ensureOpencode } from "../../src/server/install.js";
import { startManagedServer, type ManagedServer } from "../../src/server/managed.js";
import { createScriptedProject, type ScriptedProject } from "../../src/server/scripted-project.js";
import { MemorySink } from "../../src/sink/memory.js";
import { E2E_VERSION, scenario } from "../support/live.js";
import { callDaemon, startDaemon, type Daemon } from "./daemon-process.js";

/** A 1×1 PNG. */
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
const STACK = /\n\s+at |\$bunfs/;

let model: ScriptedModel;
let project: ScriptedProject;
let server: ManagedServer;
let http: OpencodeHttp;
let dialect: Dialect;

beforeAll(async () => {
  const binary = await ensureOpencode(E2E_VERSION);
  model = await startScriptedModel();
  project = await createScriptedProject({ modelUrl: model.url, files: { "notes.txt": "bridge-notes: the sky is green\n" } });
  // The scripted model declares image input (so OpenCode passes images on), and a
  // second model exists to change a keyed session's configuration.
  const file = join(project.dir, "opencode.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as { provider: { scripted: { models: Record<string, unknown> } } };
  const models = config.provider.scripted.models;
  models["scripted-model"] = { ...(models["scripted-model"] as object), attachment: true, modalities: { input: ["text", "image"], output: ["text"] } };
  models["scripted-model-2"] = { name: "Scripted model 2" };
  writeFileSync(file, JSON.stringify(config, null, 2));
  server = await startManagedServer({ binary, cwd: project.dir, env: project.env, readyTimeoutMs: 60_000 });
  http = new OpencodeHttp({ baseUrl: server.url, directory: project.dir, requestTimeoutMs: 10_000 });
  dialect = createDialect({ baseUrl: server.url, directory: project.dir });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await model?.close();
  await project?.cleanup();
});

function adapterFor(extra: ConstructorParameters<typeof OpencodeAdapter>[2] = {}, directory = project.dir) {
  const sink = new MemorySink();
  const adapter = new OpencodeAdapter({ baseUrl: server.url, directory, settleTimeoutMs: 5_000, firstEventTimeoutMs: 20_000 }, sink, extra);
  return { adapter, sink };
}

async function userMessages(sessionId: string): Promise<number> {
  const msgs = await dialect.sessionMessages(sessionId, 100);
  return msgs.filter((m) => (m.info as { role?: string }).role === "user").length;
}

describe("keyed sessions", () => {
  it("two prompts with one key share a titled session; another model gives a new one; deleteSession removes it", async () => {
    const { adapter, sink } = adapterFor();
    const a = await adapter.prompt(scenario("text"), { sessionKey: "ticket-42", traceId: "k1" });
    const b = await adapter.prompt(scenario("text"), { sessionKey: "ticket-42", traceId: "k2" });
    expect(a.status).toBe("final");
    expect(b.status).toBe("final");
    expect(b.sessionId).toBe(a.sessionId);
    expect(contractViolations(sink.turn("k2"))).toEqual([]);
    const { body } = await http.call("GET", "/session");
    const listed = (body as { id: string; title: string }[]).find((s) => s.id === a.sessionId);
    expect(listed?.title).toBe("bridge: ticket-42");
    expect(await userMessages(a.sessionId)).toBe(2);

    const c = await adapter.prompt(scenario("text"), { sessionKey: "ticket-42", model: "scripted/scripted-model-2", traceId: "k3" });
    expect(c.status).toBe("final");
    expect(c.sessionId).not.toBe(a.sessionId);
    expect(await adapter.ensureSession("ticket-42", { model: "scripted/scripted-model-2" })).toBe(c.sessionId);

    expect(await adapter.deleteSession("ticket-42")).toBe(true);
    expect(await dialect.sessionExists(c.sessionId)).toBe(false);
    await adapter.close();
  });

  it("a custom title, permission rules; deleteSessionsOnClose deletes what the adapter created", async () => {
    const { adapter } = adapterFor({ deleteSessionsOnClose: true });
    const id = await adapter.ensureSession("job-7", { title: "Job seven", permission: [{ permission: "bash", pattern: "*", action: "deny" }] });
    const { body } = await http.call("GET", `/session/${id}`);
    expect(body).toMatchObject({ id, title: "Job seven" });
    const r = await adapter.prompt(scenario("text"), {});
    expect(r.status).toBe("final");
    await adapter.close();
    expect(await dialect.sessionExists(id)).toBe(false);
    expect(await dialect.sessionExists(r.sessionId)).toBe(false);
  });
});

describe("rich prompts", () => {
  it("a text file (by path) and a PNG (bytes) reach the model next to two text parts", async () => {
    const { adapter, sink } = adapterFor();
    const before = model.requests.length;
    const r = await adapter.prompt(
      [
        { type: "text", text: scenario("files") },
        { type: "text", text: "Second text part." },
        { type: "file", path: join(project.dir, "notes.txt") },
        { type: "file", data: PNG, mime: "image/png", filename: "pixel.png" },
      ],
      { traceId: "rich", timeouts: { idleMs: 60_000 } },
    );
    expect(r.status, JSON.stringify(r.error)).toBe("final");
    expect(r.final?.content).toBe("I received your files.");
    expect(contractViolations(sink.turn("rich"))).toEqual([]);
    const asked = model.requests.slice(before).find((q) => q.scenario === "files");
    const parts = asked?.userParts ?? [];
    expect(parts.some((p) => p.type === "text" && p.text?.includes("Second text part."))).toBe(true);
    expect(parts.some((p) => p.type === "text" && p.text?.includes("bridge-notes: the sky is green"))).toBe(true);
    expect(parts.some((p) => p.type === "image_url" && p.url?.startsWith("data:image/png;base64,iVBORw0KGgo"))).toBe(true);
    await adapter.close();
  });

  it("noReply stores the prompt without running the model", async () => {
    const { adapter } = adapterFor();
    const before = model.requests.length;
    const r = await adapter.prompt(scenario("text"), { noReply: true, traceId: "noreply", timeouts: { firstEventMs: 10_000, idleMs: 10_000 } });
    expect(r.status, JSON.stringify(r.error)).toBe("final");
    expect(r.final?.content).toBe("");
    expect(await userMessages(r.sessionId)).toBe(1);
    expect(model.requests.slice(before).filter((q) => q.scenario === "text")).toEqual([]);
    await adapter.close();
  });

  it("a file that cannot be read is refused before any request, with one terminal error reply", async () => {
    const { adapter, sink } = adapterFor();
    await expect(adapter.prompt([{ type: "text", text: "x" }, { type: "file", path: "/nope/missing.txt" }], { traceId: "nofile" })).rejects.toThrow(/cannot read \/nope\/missing.txt: ENOENT/);
    expect(sink.turn("nofile").map((x) => x.kind)).toEqual(["error"]);
    await adapter.close();
  });
});

describe("precise errors", () => {
  const noStack = (replies: Reply[]) => {
    for (const r of replies) if (r.kind === "error") expect(r.error).not.toMatch(STACK);
  };

  it("an unknown session ends not_found", async () => {
    const { adapter, sink } = adapterFor();
    const r = await adapter.prompt(scenario("text"), { sessionId: "ses_0000000000000000000000000", traceId: "unknown" });
    expect(r.error).toMatchObject({ code: "not_found" });
    expect(r.error?.error).toMatch(/Session not found/);
    noStack(sink.turn("unknown"));
    await adapter.close();
  });

  it("a missing directory ends not_found (1.18: OpenCode's FileSystem error), without the stack trace", async () => {
    const { adapter, sink } = adapterFor({}, join(project.dir, "does-not-exist"));
    const r = await adapter.prompt(scenario("text"), { traceId: "nodir" });
    if (E2E_VERSION.startsWith("1.18.")) {
      expect(r.error).toMatchObject({ code: "not_found" });
      expect(r.error?.error).toMatch(/ENOENT/);
    }
    noStack(sink.turn("nodir"));
    await adapter.close();
  });

  it("a provider 401 ends upstream", async () => {
    const { adapter, sink } = adapterFor();
    const r = await adapter.prompt(scenario("provider-error"), { traceId: "p401" });
    expect(r.error).toMatchObject({ code: "upstream" });
    expect(r.error?.error).toMatch(/HTTP 401/);
    noStack(sink.turn("p401"));
    await adapter.close();
  });
});

describe("idempotent daemon turns", () => {
  let daemon: Daemon;
  beforeAll(async () => {
    daemon = await startDaemon(["--opencode-url", server.url, "--directory", project.dir, "--no-token"]);
  }, 60_000);
  afterAll(async () => {
    daemon?.child.kill("SIGTERM");
    await daemon?.exited;
  });

  it("the same request twice prompts once (200, same ids); another body with that trace_id is 409", async () => {
    const body = { text: scenario("slow"), trace_id: "retry-1" };
    const first = await callDaemon(daemon, "POST", "/v1/turns", body, {});
    expect(first.status, first.text).toBe(202);
    const again = await callDaemon(daemon, "POST", "/v1/turns", { trace_id: "retry-1", text: scenario("slow") }, {});
    expect(again.status, again.text).toBe(200);
    expect(again.json).toMatchObject({ trace_id: "retry-1", session_id: first.json?.session_id, existing: true });
    const other = await callDaemon(daemon, "POST", "/v1/turns", { ...body, text: "something else" }, {});
    expect(other.status).toBe(409);
    const events = await fetch(`${daemon.url}/v1/turns/retry-1/events`);
    const text = await events.text();
    expect(text).toMatch(/event: done/);
    // After the turn ended too.
    const late = await callDaemon(daemon, "POST", "/v1/turns", body, {});
    expect(late.status).toBe(200);
    expect(await userMessages(String(first.json?.session_id))).toBe(1);
  });

  it("parts: a text file as base64 reaches the model through the daemon", async () => {
    const before = model.requests.length;
    const data = Buffer.from("daemon-notes: forty-two\n").toString("base64");
    const a = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("files"), parts: [{ type: "file", data, mime: "text/plain", filename: "d.txt" }] }, {});
    expect(a.status, a.text).toBe(202);
    const text = await (await fetch(`${daemon.url}/v1/turns/${String(a.json?.trace_id)}/events`)).text();
    expect(text).toMatch(/"outcome":"final"/);
    const asked = model.requests.slice(before).find((q) => q.scenario === "files");
    expect(asked?.userParts.some((p) => p.text?.includes("daemon-notes: forty-two"))).toBe(true);
    const bad = await callDaemon(daemon, "POST", "/v1/turns", { text: "x", parts: [{ type: "file", data: "%%%", mime: "text/plain" }] }, {});
    expect(bad.status).toBe(400);
  });

  it("session_key: two turns land in one session", async () => {
    const a = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("text"), session_key: "thread-9" }, {});
    expect(a.status, a.text).toBe(202);
    await (await fetch(`${daemon.url}/v1/turns/${String(a.json?.trace_id)}/events`)).text();
    const b = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("text"), session_key: "thread-9" }, {});
    expect(b.json?.session_id).toBe(a.json?.session_id);
    await (await fetch(`${daemon.url}/v1/turns/${String(b.json?.trace_id)}/events`)).text();
    const { body } = await http.call("GET", `/session/${String(a.json?.session_id)}`);
    expect(body).toMatchObject({ title: "bridge: thread-9" });
  });
});
