/**
 * Capture real OpenCode `/event` streams as test fixtures.
 *
 *   npm run capture -- [--opencode-version 1.15.13] [--scenario text,tool] [--out test/fixtures]
 *
 * For each scenario: a real `opencode serve` (from the npm package `opencode-ai`
 * of the requested version, installed into .cache/opencode/<version> on first use) driven by the scripted model on loopback runs
 * one turn; the raw bytes of `GET /event` are written unchanged to
 * test/fixtures/<server version>/<scenario>.sse and the server's own record of
 * the session (`GET /session/:id/message`) to <scenario>.messages.json.
 * The expected replies (<scenario>.jsonl) are then written by `npm run golden`.
 */
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { request } from "undici";
import { startScriptedModel } from "../src/scripted-model/server.js";
import { createScriptedProject, type PermissionAction } from "../src/server/scripted-project.js";
import { ensureOpencode, PINNED_OPENCODE_VERSION } from "../src/server/install.js";
import { startManagedServer } from "../src/server/managed.js";

const { values } = parseArgs({
  options: {
    "opencode-version": { type: "string" },
    binary: { type: "string" },
    scenario: { type: "string" },
    out: { type: "string", default: "test/fixtures" },
  },
});

interface CaptureSpec {
  /** Script names, one session each, prompted at the same time. */
  readonly prompts: readonly string[];
  readonly permission: PermissionAction;
  /** Abort the (first) session once this many of its deltas have streamed. */
  readonly abortAfterDeltas?: number;
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
};

async function opencodeBinary(version: string | undefined): Promise<string> {
  if (values.binary) return values.binary;
  return ensureOpencode(version ?? PINNED_OPENCODE_VERSION);
}

async function json(url: string, method: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await request(url, {
    method: method as "GET",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.statusCode, body: parsed };
}

interface Frame {
  type?: string;
  properties?: Record<string, unknown> & {
    sessionID?: string;
    info?: { role?: string; sessionID?: string };
    status?: { type?: string };
    id?: string;
  };
}

async function captureOne(binary: string, name: string, spec: CaptureSpec, outRoot: string) {
  const model = await startScriptedModel();
  const project = await createScriptedProject({
    modelUrl: model.url,
    permission: spec.permission,
    files: { "hello.txt": "hello from the fixture project\n" },
  });
  const server = await startManagedServer({ binary, cwd: project.dir, env: project.env, readyTimeoutMs: 30_000 });
  try {
    const dirQ = `directory=${encodeURIComponent(project.dir)}`;
    const outDir = join(outRoot, server.version);
    mkdirSync(outDir, { recursive: true });
    const ssePath = join(outDir, `${name}.sse`);
    const file = createWriteStream(ssePath);
    const ac = new AbortController();
    const events = await request(`${server.url}/event?${dirQ}`, { signal: ac.signal });
    if (events.statusCode !== 200) throw new Error(`/event answered ${events.statusCode}`);

    const sessions: string[] = [];
    const admitted = new Set<string>();
    const idled = new Set<string>();
    let buffered = "";
    let connected!: () => void;
    const connectedP = new Promise<void>((r) => (connected = r));
    let allIdle!: () => void;
    const idleP = new Promise<void>((r) => (allIdle = r));
    const replied = new Set<string>();
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
          void replyPermission(server.url, dirQ, String(sid), id);
        }
      }
      const isIdle =
        f.type === "session.idle" || (f.type === "session.status" && p.status?.type === "idle");
      if (isIdle && sid && admitted.has(sid) && sessions.includes(sid)) {
        idled.add(sid);
        if (sessions.length === spec.prompts.length && sessions.every((s) => idled.has(s))) allIdle();
      }
    };

    const pump = (async () => {
      try {
        for await (const chunk of events.body) {
          file.write(chunk as Buffer);
          buffered += (chunk as Buffer).toString("utf8");
          let i: number;
          while ((i = buffered.indexOf("\n\n")) >= 0) {
            const frame = buffered.slice(0, i);
            buffered = buffered.slice(i + 2);
            for (const line of frame.split("\n")) {
              if (line.startsWith("data:")) {
                try {
                  onFrame(JSON.parse(line.slice(5)) as Frame);
                } catch {
                  // not JSON: kept in the capture as it came
                }
              }
            }
          }
        }
      } catch {
        // aborted at the end of the capture
      }
    })();

    await connectedP;
    for (let i = 0; i < spec.prompts.length; i++) {
      const created = await json(`${server.url}/session?${dirQ}`, "POST", {});
      sessions.push(String((created.body as { id?: string }).id));
    }
    await Promise.all(
      spec.prompts.map(async (scenario, i) => {
        const prompt = await json(`${server.url}/session/${sessions[i]}/prompt_async?${dirQ}`, "POST", {
          parts: [{ type: "text", text: `[scenario:${scenario}] Please run the ${scenario} scenario.` }],
        });
        if (prompt.status >= 300) {
          throw new Error(`prompt_async answered ${prompt.status}: ${JSON.stringify(prompt.body)}`);
        }
      }),
    );
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${name}: no idle within 60 s`)), 60_000).unref(),
    );
    await Promise.race([idleP, timeout]);
    // Let the events that follow the idle (session.updated, session.diff …) arrive too.
    await new Promise((r) => setTimeout(r, 750));
    ac.abort();
    await pump;
    await new Promise<void>((r) => file.end(() => r()));
    const record: Record<string, unknown> = {};
    for (const sid of sessions) {
      record[sid] = (await json(`${server.url}/session/${sid}/message?${dirQ}`, "GET")).body;
    }
    writeFileSync(join(outDir, `${name}.messages.json`), `${JSON.stringify(record, null, 2)}\n`);
    console.error(`captured ${ssePath} (sessions ${sessions.join(", ")}, ${model.requests.length} model requests)`);
  } finally {
    await server.stop();
    await model.close();
    await project.cleanup();
  }
}

async function replyPermission(base: string, dirQ: string, sessionId: string, id: string) {
  // 1.15+ : POST /permission/:requestID/reply {reply}; older: POST /session/:id/permissions/:permissionID {response}
  const a = await json(`${base}/permission/${id}/reply?${dirQ}`, "POST", { reply: "reject" });
  if (a.status < 300) return;
  await json(`${base}/session/${sessionId}/permissions/${id}?${dirQ}`, "POST", { response: "reject" });
}

const wanted = values.scenario ? values.scenario.split(",") : Object.keys(SPECS);
for (const s of wanted) if (!SPECS[s]) throw new Error(`unknown fixture ${s}; known: ${Object.keys(SPECS).join(", ")}`);
const binary = await opencodeBinary(values["opencode-version"]);
for (const s of wanted) {
  await captureOne(binary, s, SPECS[s] as CaptureSpec, values.out ?? "test/fixtures");
}
