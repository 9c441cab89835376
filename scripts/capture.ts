/**
 * Capture real OpenCode `/event` streams as test fixtures.
 *
 *   npm run capture -- [--opencode-version 1.15.13] [--scenario text,tool] [--out test/fixtures]
 *
 * A 2.x version (`--opencode-version 2.1.2`) is captured by scripts/capture-v2.ts
 * from `/api/event`, with its own scenario list.
 *
 * For each scenario: a real `opencode serve` (from the npm package `opencode-ai`
 * of the requested version, installed into .cache/opencode/<version> on first use) driven by the scripted model on loopback runs
 * one turn; the raw bytes of `GET /event` are written unchanged to
 * test/fixtures/<server version>/<scenario>.sse and the server's own record of
 * the session (`GET /session/:id/message`) to <scenario>.messages.json.
 * The expected replies (<scenario>.jsonl) are then written by `npm run golden`.
 *
 * For the scenarios added after the first fourteen, every HTTP call the capture
 * makes (session create, prompt, permission and question replies) is logged with
 * its status and answer to <scenario>.http.json, so the reply routes each version
 * accepts are recorded as facts too. CAPTURE_DEBUG=1 prints each call and keeps
 * the server's output in <scenario>.server.log (not for committing).
 *
 *   npm run capture -- --probe errors [--opencode-version V] [--out test/fixtures-pending]
 *
 * records, without a model turn's stream, how the server answers requests that
 * fail or shape a session (unknown session, missing directory, unknown request
 * ids, session create bodies, a client-chosen message id sent twice) to
 * <out>/<version>/probe-errors.http.json, with the /event bytes around the
 * unknown-session and missing-directory prompts in probe-*.sse.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { request } from "undici";
import { startScriptedModel } from "../src/scripted-model/server.js";
import {
  createScriptedProject,
  SCRIPTED_MODEL,
  SCRIPTED_PROVIDER,
  type PermissionAction,
} from "../src/server/scripted-project.js";
import { ensureOpencode, opencodeLine, PINNED_OPENCODE_VERSION } from "../src/server/install.js";
import { startManagedServer, type ManagedServer } from "../src/server/managed.js";
import { json, recordStream, shorten, type Frame, type HttpEntry } from "./capture-http.js";
import { captureV2, V2_SPECS } from "./capture-v2.js";

const { values } = parseArgs({
  options: {
    "opencode-version": { type: "string" },
    binary: { type: "string" },
    scenario: { type: "string" },
    out: { type: "string" },
    probe: { type: "string" },
  },
});

interface PermissionReplySpec {
  readonly reply: "once" | "always" | "reject";
  readonly message?: string;
  /** `current`: POST /permission/:id/reply; `legacy`: POST /session/:id/permissions/:id; `auto`: current, else legacy. */
  readonly route?: "current" | "legacy" | "auto";
}

type QuestionReplySpec = { readonly answers: readonly (readonly string[])[] } | { readonly reject: true };

interface CaptureSpec {
  /** Script names, one session each, prompted at the same time. */
  readonly prompts: readonly string[];
  readonly permission: PermissionAction;
  /** Abort the (first) session once this many of its deltas have streamed. */
  readonly abortAfterDeltas?: number;
  /** How every `permission.asked` is answered (default: reject, no message, route auto). */
  readonly permissionReply?: PermissionReplySpec;
  /** How every `question.asked` is answered (default: rejected). */
  readonly questionReply?: QuestionReplySpec;
  /** Answer each request a second time after the first answer (what does the server say?). */
  readonly replyTwice?: boolean;
  /** Prompt parts other than the scenario's text part (files), given the project directory. */
  readonly extraParts?: (projectDir: string) => unknown[];
  /** Fields merged into the scripted model's entry of opencode.json (e.g. image input). */
  readonly modelConfig?: Record<string, unknown>;
  /** Keep the chat requests the model received (<scenario>.model-requests.json). */
  readonly recordModel?: boolean;
  /** `v2`: create and prompt through the /api/session routes, and record /api/event as well. */
  readonly api?: "v2";
  /** Extra environment for `opencode serve` (feature flags). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Fixtures captured by default. */
const SPECS: Record<string, CaptureSpec> = {
  text: { prompts: ["text"], permission: "allow" },
  reasoning: { prompts: ["reasoning"], permission: "allow" },
  tool: { prompts: ["tool"], permission: "allow" },
  "tool-error": { prompts: ["tool-error"], permission: "allow" },
  "two-tools": { prompts: ["two-tools"], permission: "allow" },
  "non-ascii": { prompts: ["non-ascii"], permission: "allow" },
  "provider-error": { prompts: ["provider-error"], permission: "allow" },
  long: { prompts: ["long"], permission: "allow" },
  "plugin-tag": { prompts: ["plugin-tag"], permission: "allow" },
  permission: { prompts: ["permission"], permission: "ask" },
  subagent: { prompts: ["subagent"], permission: "allow" },
  retry: { prompts: ["retry"], permission: "allow" },
  abort: { prompts: ["slow"], permission: "allow", abortAfterDeltas: 20 },
  interleaved: { prompts: ["slow", "two-tools"], permission: "allow" },
  // Humans in the loop (issue 12) and rich prompts / dialects (issue 13).
  "permission-once": { prompts: ["permission-twice"], permission: "ask", permissionReply: { reply: "once" } },
  "permission-always": { prompts: ["permission-twice"], permission: "ask", permissionReply: { reply: "always" } },
  "permission-reject-message": {
    prompts: ["permission"],
    permission: "ask",
    permissionReply: { reply: "reject", message: "Not on this machine: use the staging box instead." },
    replyTwice: true,
  },
  "permission-legacy-route": {
    prompts: ["permission"],
    permission: "ask",
    permissionReply: { reply: "once", route: "legacy" },
  },
  "question-answer": {
    prompts: ["question"],
    permission: "allow",
    questionReply: { answers: [["Blue"]] },
    replyTwice: true,
  },
  "question-reject": { prompts: ["question"], permission: "allow", questionReply: { reject: true } },
  "permission-external": {
    prompts: ["external-read"],
    permission: "allow",
    permissionReply: { reply: "reject", message: "Stay inside the project." },
  },
  files: {
    prompts: ["files"],
    permission: "allow",
    recordModel: true,
    modelConfig: { attachment: true, modalities: { input: ["text", "image"], output: ["text"] } },
    extraParts: (dir) => [
      {
        type: "file",
        mime: "text/plain",
        filename: "notes.txt",
        url: `data:text/plain;base64,${Buffer.from("notes from an attached file\n").toString("base64")}`,
      },
      { type: "file", mime: "text/plain", filename: "hello.txt", url: pathToFileURL(join(dir, "hello.txt")).href },
      { type: "file", mime: "image/png", filename: "pixel.png", url: `data:image/png;base64,${PNG_1X1}` },
    ],
  },
  "v2-mixed": { prompts: ["mixed-turn"], permission: "allow", api: "v2" },
  "v2-mixed-experimental": {
    prompts: ["mixed-turn"],
    permission: "allow",
    api: "v2",
    env: { OPENCODE_EXPERIMENTAL: "true", OPENCODE_EXPERIMENTAL_EVENT_SYSTEM: "true" },
  },
  "mixed-experimental": {
    prompts: ["mixed-turn"],
    permission: "allow",
    env: { OPENCODE_EXPERIMENTAL_EVENT_SYSTEM: "true" },
  },
  "tool-error-experimental": {
    prompts: ["tool-error"],
    permission: "allow",
    env: { OPENCODE_EXPERIMENTAL_EVENT_SYSTEM: "true" },
  },
};

/** A valid 1×1 PNG (one opaque red pixel). */
const PNG_1X1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";

/**
 * Servers this process started and has not stopped yet. `opencode serve` runs in
 * its own process group, so a capture killed by a signal (Ctrl-C, `timeout`) would
 * leave it running: stop them first.
 */
const running = new Map<string | symbol, { stop(graceMs?: number): Promise<void> }>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void Promise.allSettled([...running.values()].map((s) => s.stop(1_000))).then(() => process.exit(130));
  });
}

/**
 * Starts a server and registers it for the signal handler from the moment it is
 * spawned (a signal during start-up waits for it to be ready, then stops it).
 */
async function startTracked(opts: Parameters<typeof startManagedServer>[0]): Promise<ManagedServer> {
  const starting = startManagedServer(opts);
  const key = Symbol("starting");
  running.set(key, { stop: async (graceMs) => (await starting).stop(graceMs) });
  try {
    const server = await starting;
    running.set(server.url, server);
    return server;
  } finally {
    running.delete(key);
  }
}

async function opencodeBinary(version: string | undefined): Promise<string> {
  if (values.binary) return values.binary;
  return ensureOpencode(version ?? PINNED_OPENCODE_VERSION);
}

/**
 * A pass-through proxy in front of the scripted model that keeps each chat
 * request's messages (image data shortened), to show what the model was sent.
 */
async function recordingProxy(target: string): Promise<{ url: string; bodies: unknown[]; close(): Promise<void> }> {
  const t = new URL(target);
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      if (req.url?.endsWith("/chat/completions")) {
        try {
          const b = JSON.parse(raw.toString("utf8")) as { messages?: unknown };
          bodies.push(shorten(b.messages));
        } catch {
          bodies.push(raw.toString("utf8"));
        }
      }
      const up = httpRequest(
        { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      up.end(raw);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${t.pathname}`,
    bodies,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Merge fields into the scripted model's entry of the project's opencode.json. */
function patchModelConfig(dir: string, fields: Record<string, unknown>) {
  const path = join(dir, "opencode.json");
  const config = JSON.parse(readFileSync(path, "utf8")) as {
    provider: Record<string, { models: Record<string, Record<string, unknown>> }>;
  };
  for (const provider of Object.values(config.provider)) {
    for (const [id, model] of Object.entries(provider.models)) provider.models[id] = { ...model, ...fields };
  }
  writeFileSync(path, JSON.stringify(config, null, 2));
}

async function captureOne(binary: string, name: string, spec: CaptureSpec, outRoot: string) {
  const model = await startScriptedModel();
  const proxy = spec.recordModel ? await recordingProxy(model.url) : undefined;
  const project = await createScriptedProject({
    modelUrl: proxy?.url ?? model.url,
    permission: spec.permission,
    files: { "hello.txt": "hello from the fixture project\n" },
  });
  if (spec.modelConfig) patchModelConfig(project.dir, spec.modelConfig);
  const serverLog: string[] = [];
  const server = await startTracked({
    binary,
    cwd: project.dir,
    env: { ...project.env, ...spec.env },
    readyTimeoutMs: 30_000,
    onOutput: (c) => serverLog.push(c),
  });
  const log = { entries: [] as HttpEntry[], dir: project.dir };
  try {
    const dirQ = `directory=${encodeURIComponent(project.dir)}`;
    const outDir = join(outRoot, server.version);
    mkdirSync(outDir, { recursive: true });
    const ssePath = join(outDir, `${name}.sse`);
    const ac = new AbortController();

    const sessions: string[] = [];
    const admitted = new Set<string>();
    const idled = new Set<string>();
    let connected!: () => void;
    const connectedP = new Promise<void>((r) => (connected = r));
    let allIdle!: () => void;
    const idleP = new Promise<void>((r) => (allIdle = r));
    const replied = new Set<string>();
    const replies: Promise<void>[] = [];
    let deltas = 0;
    let abortRequested = false;

    const onFrame = (f: Frame) => {
      const p = f.properties ?? {};
      const sid = p.sessionID ?? p.info?.sessionID;
      if (f.type === "message.part.delta" && sid === sessions[0] && spec.abortAfterDeltas !== undefined) {
        if (++deltas >= spec.abortAfterDeltas && !abortRequested) {
          abortRequested = true;
          void json(`${server.url}/session/${sessions[0]}/abort?${dirQ}`, "POST", {}).then((r) =>
            console.error(`abort answered ${r.status}`),
          );
        }
      }
      if (f.type === "server.connected") connected();
      if (f.type === "message.updated" && p.info?.role === "user" && sid) admitted.add(sid);
      if (f.type === "permission.asked" || f.type === "permission.updated") {
        const id = String(p.id ?? "");
        if (id && !replied.has(id)) {
          replied.add(id);
          replies.push(replyPermission(server.url, dirQ, String(sid), id, spec, log));
        }
      }
      if (f.type === "question.asked") {
        const id = String(p.id ?? "");
        if (id && !replied.has(id)) {
          replied.add(id);
          replies.push(replyQuestion(server.url, dirQ, id, spec, log));
        }
      }
      const isIdle =
        f.type === "session.idle" || (f.type === "session.status" && p.status?.type === "idle");
      if (isIdle && sid && admitted.has(sid) && sessions.includes(sid)) {
        idled.add(sid);
        if (sessions.length === spec.prompts.length && sessions.every((s) => idled.has(s))) allIdle();
      }
    };

    const pumps = [recordStream(`${server.url}/event?${dirQ}`, ssePath, ac.signal, onFrame)];
    const v2 = { lastNext: 0, stepsEnded: 0 };
    if (spec.api === "v2") {
      // The v2 API's own stream of native events, recorded next to /event.
      const onApiFrame = (f: Frame) => {
        if (!f.type?.startsWith("session.next.")) return;
        v2.lastNext = Date.now();
        if (f.type === "session.next.step.ended" || f.type === "session.next.step.failed") v2.stepsEnded++;
      };
      pumps.push(recordStream(`${server.url}/api/event`, join(outDir, `${name}.api-event.sse`), ac.signal, onApiFrame));
    }
    const pumping = Promise.all((await Promise.all(pumps)).map((p) => p.done));

    await connectedP;
    if (spec.api === "v2") {
      await promptV2(server.url, project.dir, spec, sessions, log);
      // Done once a step has ended and nothing of the session followed for 3 s (at most 45 s).
      const until = Date.now() + 45_000;
      while (Date.now() < until && !(v2.stepsEnded > 0 && Date.now() - v2.lastNext > 3_000)) {
        await new Promise((r) => setTimeout(r, 250));
      }
      console.error(`v2: ${v2.stepsEnded} steps ended`);
    } else {
      for (let i = 0; i < spec.prompts.length; i++) {
        const created = await json(`${server.url}/session?${dirQ}`, "POST", {}, log);
        sessions.push(String((created.body as { id?: string }).id));
      }
      await Promise.all(
        spec.prompts.map(async (scenario, i) => {
          const parts = [
            { type: "text", text: `[scenario:${scenario}] Please run the ${scenario} scenario.` },
            ...(spec.extraParts?.(project.dir) ?? []),
          ];
          const prompt = await json(`${server.url}/session/${sessions[i]}/prompt_async?${dirQ}`, "POST", { parts }, log);
          if (prompt.status >= 300) {
            throw new Error(`prompt_async answered ${prompt.status}: ${JSON.stringify(prompt.body)}`);
          }
        }),
      );
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`${name}: no idle within 60 s`)), 60_000).unref(),
      );
      await Promise.race([idleP, timeout]);
    }
    await Promise.all(replies);
    // Let the events that follow the idle (session.updated, session.diff …) arrive too.
    await new Promise((r) => setTimeout(r, 750));
    ac.abort();
    await pumping;
    const record: Record<string, unknown> = {};
    for (const sid of sessions) {
      record[sid] = (await json(`${server.url}/session/${sid}/message?${dirQ}`, "GET")).body;
    }
    writeFileSync(join(outDir, `${name}.messages.json`), `${JSON.stringify(record, null, 2)}\n`);
    if (!isDefaultSpec(name)) writeFileSync(join(outDir, `${name}.http.json`), `${JSON.stringify(log.entries, null, 2)}\n`);
    if (proxy) writeFileSync(join(outDir, `${name}.model-requests.json`), `${JSON.stringify(proxy.bodies, null, 2)}\n`);
    if (process.env.CAPTURE_DEBUG) writeFileSync(join(outDir, `${name}.server.log`), serverLog.join(""));
    console.error(`captured ${ssePath} (sessions ${sessions.join(", ")}, ${model.requests.length} model requests)`);
  } finally {
    await server.stop();
    running.delete(server.url);
    await proxy?.close();
    await model.close();
    await project.cleanup();
  }
}

/** The fixtures captured before the HTTP log existed keep their file set. */
function isDefaultSpec(name: string): boolean {
  return ["text", "reasoning", "tool", "tool-error", "two-tools", "non-ascii", "provider-error", "long", "plugin-tag",
    "permission", "subagent", "retry", "abort", "interleaved"].includes(name);
}

/** A turn through the v2 API: POST /api/session, POST /api/session/:id/prompt, then /api/session/:id/wait. */
async function promptV2(base: string, dir: string, spec: CaptureSpec, sessions: string[], log: { entries: HttpEntry[]; dir: string }) {
  for (const scenario of spec.prompts) {
    const created = await json(`${base}/api/session`, "POST", { location: { directory: dir }, agent: "build", model: { id: SCRIPTED_MODEL, providerID: SCRIPTED_PROVIDER } }, log);
    const id = (created.body as { data?: { id?: string } }).data?.id;
    if (created.status >= 300 || !id) throw new Error(`POST /api/session answered ${created.status}: ${JSON.stringify(created.body)}`);
    sessions.push(id);
    const prompt = await json(
      `${base}/api/session/${id}/prompt`,
      "POST",
      { prompt: { text: `[scenario:${scenario}] Please run the ${scenario} scenario.` } },
      log,
    );
    if (prompt.status >= 300) throw new Error(`v2 prompt answered ${prompt.status}: ${JSON.stringify(prompt.body)}`);
    const waited = await Promise.race([
      json(`${base}/api/session/${id}/wait`, "POST", undefined, log),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("v2 wait: 60 s")), 60_000).unref()),
    ]);
    console.error(`v2 wait answered ${waited.status}`);
  }
}

async function replyPermission(
  base: string,
  dirQ: string,
  sessionId: string,
  id: string,
  spec: CaptureSpec,
  log: { entries: HttpEntry[]; dir: string },
) {
  const { reply, message, route = "auto" } = spec.permissionReply ?? { reply: "reject" };
  const once = async () => {
    // 1.2+ : POST /permission/:requestID/reply {reply, message?}; deprecated: POST /session/:id/permissions/:permissionID {response}
    if (route !== "legacy") {
      const a = await json(`${base}/permission/${id}/reply?${dirQ}`, "POST", { reply, ...(message ? { message } : {}) }, log);
      if (a.status < 300 || route === "current") return;
    }
    await json(`${base}/session/${sessionId}/permissions/${id}?${dirQ}`, "POST", { response: reply }, log);
  };
  await once();
  if (spec.replyTwice) await once();
}

async function replyQuestion(
  base: string,
  dirQ: string,
  id: string,
  spec: CaptureSpec,
  log: { entries: HttpEntry[]; dir: string },
) {
  const answer = spec.questionReply ?? { reject: true };
  const once = () =>
    "answers" in answer
      ? json(`${base}/question/${id}/reply?${dirQ}`, "POST", { answers: answer.answers }, log)
      : json(`${base}/question/${id}/reject?${dirQ}`, "POST", {}, log);
  await once();
  if (spec.replyTwice) await once();
}

/**
 * How the server answers requests that fail or shape a session; no stream is
 * recorded. Each call goes into the log with its status and body.
 */
async function probeErrors(binary: string, outRoot: string) {
  const model = await startScriptedModel();
  const project = await createScriptedProject({ modelUrl: model.url, permission: "allow" });
  const server = await startTracked({ binary, cwd: project.dir, env: project.env, readyTimeoutMs: 30_000 });
  const log = { entries: [] as HttpEntry[], dir: project.dir };
  const call = (method: string, path: string, body?: unknown) => json(`${server.url}${path}`, method, body, log);
  const d = `directory=${encodeURIComponent(project.dir)}`;
  const missing = `directory=${encodeURIComponent(join(project.dir, "does-not-exist"))}`;
  const text = (scenario: string) => ({ parts: [{ type: "text", text: `[scenario:${scenario}] probe` }] });
  const note = (what: string, value: unknown) => log.entries.push({ method: "NOTE", path: what, status: 0, response: value });
  /** Records /event of a directory while `during` runs, plus 3 s after. */
  const recordEvents = async (dirQuery: string, file: string, during: () => Promise<unknown>) => {
    const ac = new AbortController();
    const outDir = join(outRoot, server.version);
    mkdirSync(outDir, { recursive: true });
    const rec = await recordStream(`${server.url}/event?${dirQuery}`, join(outDir, file), ac.signal);
    await during();
    await new Promise((r) => setTimeout(r, 3_000));
    ac.abort();
    await rec.done;
  };
  const waitIdle = async (sid: string) => {
    for (let i = 0; i < 100; i++) {
      const st = await json(`${server.url}/session/status?${d}`, "GET");
      if (!(st.body as Record<string, unknown>)[sid]) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  try {
    const unknown = "ses_0000000000000000000000000";
    await recordEvents(d, "probe-unknown-session.sse", () =>
      call("POST", `/session/${unknown}/prompt_async?${d}`, text("text")),
    );
    await call("POST", `/session/${unknown}/message?${d}`, text("text"));
    await call("GET", `/session/${unknown}?${d}`);
    await call("GET", `/session/${unknown}/message?${d}`);
    await call("POST", `/session/${unknown}/abort?${d}`, {});
    await call("POST", `/session/not-a-session-id/prompt_async?${d}`, text("text"));

    // Session create bodies: title, permission rules, parentID; then delete.
    const plain = await call("POST", `/session?${d}`, {});
    const sid = String((plain.body as { id?: string }).id);
    const titled = await call("POST", `/session?${d}`, {
      title: "bridge: ticket-42",
      permission: [{ permission: "bash", pattern: "*", action: "deny" }],
    });
    const titledId = String((titled.body as { id?: string }).id);
    await call("POST", `/session?${d}`, { parentID: titledId, title: "bridge: child" });
    await call("POST", `/session?${d}`, { title: 42 });
    await call("DELETE", `/session/${titledId}?${d}`);
    await call("GET", `/session/${titledId}?${d}`);

    // A missing directory.
    const inMissing = await call("POST", `/session?${missing}`, {});
    const missingSid = String((inMissing.body as { id?: string }).id);
    await recordEvents(missing, "probe-missing-directory.sse", () =>
      call("POST", `/session/${missingSid}/prompt_async?${missing}`, text("text")),
    );
    const missingRecord = await call("GET", `/session/${missingSid}/message?${missing}`);
    // The record as the server sent it (the log above has the project path replaced).
    const raw = await json(`${server.url}/session/${missingSid}/message?${missing}`, "GET");
    writeFileSync(
      join(outRoot, server.version, "probe-missing-directory.messages.json"),
      `${JSON.stringify({ [missingSid]: raw.status === 200 ? raw.body : missingRecord.body }, null, 2)}\n`,
    );
    await call("POST", `/session/${sid}/prompt_async?${missing}`, text("text"));
    const ev = await request(`${server.url}/event?${missing}`, { headersTimeout: 5_000, bodyTimeout: 2_000 }).catch(
      (e: unknown) => e as Error,
    );
    if (ev instanceof Error) {
      log.entries.push({ method: "GET", path: "/event?directory=<project>/does-not-exist", status: 0, response: String(ev) });
    } else {
      let first = "";
      try {
        for await (const c of ev.body) {
          first += (c as Buffer).toString("utf8");
          if (first.includes("\n\n")) break;
        }
      } catch (e) {
        first += `[${String(e)}]`;
      }
      ev.body.destroy();
      log.entries.push({
        method: "GET",
        path: "/event?directory=<project>/does-not-exist",
        status: ev.statusCode,
        response: { "content-type": ev.headers["content-type"], first: first.replaceAll(project.dir, "<project>") },
      });
    }

    // Bad prompt bodies.
    await call("POST", `/session/${sid}/prompt_async?${d}`, { parts: [{ type: "nope" }] });
    await call("POST", `/session/${sid}/prompt_async?${d}`, {});

    // Unknown request ids on every reply route.
    await call("POST", `/permission/per_0000000000000000000000000/reply?${d}`, { reply: "once" });
    await call("POST", `/permission/not-a-permission/reply?${d}`, { reply: "once" });
    await call("POST", `/permission/per_0000000000000000000000000/reply?${d}`, { reply: "maybe" });
    await call("POST", `/session/${sid}/permissions/per_0000000000000000000000000?${d}`, { response: "once" });
    await call("POST", `/question/que_0000000000000000000000000/reply?${d}`, { answers: [["x"]] });
    await call("POST", `/question/que_0000000000000000000000000/reject?${d}`, {});
    await call("GET", `/permission?${d}`);
    await call("GET", `/question?${d}`);

    // noReply: the user message is stored, no model call (title generation may still call the small model).
    const before = model.requests.length;
    await call("POST", `/session/${sid}/prompt_async?${d}`, { ...text("text"), noReply: true });
    await new Promise((r) => setTimeout(r, 1_000));
    await waitIdle(sid);
    note("model requests after noReply (scenario#step)", model.requests.slice(before).map((r) => `${r.scenario}#${r.step}`));

    // A client-chosen message id, sent twice: once in OpenCode's ascending form, once one that sorts after it.
    const ascending = `msg_${(BigInt(Date.now()) * 4096n + 1n).toString(16).padStart(12, "0")}Bridge00000001`;
    for (const mid of [ascending, "msg_zzbridge00000000000001"]) {
      const s2 = String(((await call("POST", `/session?${d}`, {})).body as { id?: string }).id);
      for (let i = 0; i < 2; i++) {
        await call("POST", `/session/${s2}/prompt_async?${d}`, { ...text("text"), messageID: mid });
        await new Promise((r) => setTimeout(r, 3_000));
      }
      const msgs = await json(`${server.url}/session/${s2}/message?${d}`, "GET");
      const all = msgs.body as { info: { id: string; role: string; parentID?: string } }[];
      note(`messages after two prompts with messageID ${mid} (3 s apart)`, {
        user: all.filter((m) => m.info.role === "user").map((m) => m.info.id),
        assistant: all.filter((m) => m.info.role === "assistant").length,
        busy: Boolean(((await json(`${server.url}/session/status?${d}`, "GET")).body as Record<string, unknown>)[s2]),
      });
      await call("POST", `/session/${s2}/abort?${d}`, {});
    }

    const outDir = join(outRoot, server.version);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, "probe-errors.http.json"), `${JSON.stringify(log.entries, null, 2)}\n`);
    console.error(`probed ${server.version}: ${log.entries.length} calls`);
  } finally {
    await server.stop();
    running.delete(server.url);
    await model.close();
    await project.cleanup();
  }
}

const binary = await opencodeBinary(values["opencode-version"]);
if (opencodeLine(values["opencode-version"] ?? PINNED_OPENCODE_VERSION) === 2) {
  // OpenCode 2.x: its own /api/* routes and scenarios (scripts/capture-v2.ts).
  const wanted = values.scenario ? values.scenario.split(",") : Object.keys(V2_SPECS);
  for (const s of wanted) if (!V2_SPECS[s]) throw new Error(`unknown 2.x fixture ${s}; known: ${Object.keys(V2_SPECS).join(", ")}`);
  for (const s of wanted) await captureV2(binary, s, V2_SPECS[s]!, values.out ?? "test/fixtures");
} else if (values.probe !== undefined) {
  if (values.probe !== "errors") throw new Error(`unknown probe ${values.probe}; known: errors`);
  await probeErrors(binary, values.out ?? "test/fixtures-pending");
} else {
  const wanted = values.scenario ? values.scenario.split(",") : Object.keys(SPECS).filter(isDefaultSpec);
  for (const s of wanted) if (!SPECS[s]) throw new Error(`unknown fixture ${s}; known: ${Object.keys(SPECS).join(", ")}`);
  for (const s of wanted) {
    await captureOne(binary, s, SPECS[s] as CaptureSpec, values.out ?? "test/fixtures");
  }
}
