/**
 * Capture a real OpenCode 2.x server (`npm run capture -- --opencode-version 2.1.2`).
 *
 * For each scenario: a real `opencode serve` 2.x (this platform's
 * `@opencode/cli-<platform>-<arch>` from the per-user cache) driven by the
 * scripted model on loopback runs one turn through the `/api/*` routes (Basic
 * auth, generated password). The raw bytes of `GET /api/event` (one stream for
 * all directories) are written unchanged to test/fixtures/<version>/<scenario>.sse,
 * the record of every session of the turn (`GET /api/session/:id/message`, the
 * prompted one first, then its children) to <scenario>.messages.json, and every
 * HTTP call the capture made, with its answer, to <scenario>.http.json.
 * The expected replies (<scenario>.jsonl) are then written by `npm run golden`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startScriptedModel } from "../src/scripted-model/server.js";
import { startManagedServer, type ManagedServer } from "../src/server/managed.js";
import { createScriptedProject, type PermissionAction } from "../src/server/scripted-project.js";
import { json, recordStream, type Frame, type HttpEntry } from "./capture-http.js";

export interface V2CaptureSpec {
  /** The script the prompt names. */
  readonly script: string;
  readonly permission: PermissionAction;
  /** How every `permission.asked` is answered (default reject). */
  readonly decision?: "once" | "always" | "reject";
  /** The answer given to every field of a question form (default: the form is dismissed). */
  readonly formAnswer?: string;
  /** `POST /api/session/:id/interrupt` once this many text deltas of the session streamed. */
  readonly interruptAfterDeltas?: number;
  /** `kill -9` the server once this many text deltas streamed, then start it again on the same data. */
  readonly killAfterDeltas?: number;
}

export const V2_SPECS: Readonly<Record<string, V2CaptureSpec>> = {
  text: { script: "text", permission: "allow" },
  reasoning: { script: "reasoning", permission: "allow" },
  tool: { script: "tool", permission: "allow" },
  "tool-error": { script: "tool-error", permission: "allow" },
  "two-tools": { script: "two-tools", permission: "allow" },
  "non-ascii": { script: "non-ascii", permission: "allow" },
  "provider-error": { script: "provider-error", permission: "allow" },
  "provider-500": { script: "provider-500", permission: "allow" },
  retry: { script: "retry", permission: "allow" },
  long: { script: "long", permission: "allow" },
  huge: { script: "huge", permission: "allow" },
  "permission-once": { script: "permission-twice", permission: "ask", decision: "once" },
  "permission-always": { script: "permission-twice", permission: "ask", decision: "always" },
  "permission-reject": { script: "permission", permission: "ask", decision: "reject" },
  "question-answer": { script: "question", permission: "allow", formAnswer: "Blue" },
  subagent: { script: "subagent", permission: "allow" },
  "plugin-tag": { script: "plugin-tag", permission: "allow" },
  "mixed-turn": { script: "mixed-turn", permission: "allow" },
  "external-read": { script: "external-read", permission: "allow", decision: "reject" },
  interrupt: { script: "slow", permission: "allow", interruptAfterDeltas: 2 },
  "kill-restart": { script: "slow", permission: "allow", killAfterDeltas: 2 },
};

/** A 2.x `/api/event` payload, as far as the capture reads it. */
interface V2Frame {
  type?: string;
  data?: {
    sessionID?: string;
    id?: string;
    parentID?: string;
    form?: { id?: string; sessionID?: string; fields?: { key?: string }[] };
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ENDS = new Set(["session.execution.succeeded", "session.execution.failed", "session.execution.interrupted"]);

export async function captureV2(binary: string, name: string, spec: V2CaptureSpec, outRoot: string): Promise<void> {
  const model = await startScriptedModel();
  const project = await createScriptedProject({
    modelUrl: model.url,
    permission: spec.permission,
    files: { "hello.txt": "hello from the fixture project\n" },
  });
  const start = (password?: string) =>
    startManagedServer({ binary, line: 2, cwd: project.dir, env: project.env, password, readyTimeoutMs: 60_000 });
  let server: ManagedServer = await start();
  const password = server.password ?? "";
  const headers = { authorization: `Basic ${Buffer.from(`opencode:${password}`).toString("base64")}` };
  const log = { entries: [] as HttpEntry[], dir: project.dir };
  const call = (method: string, path: string, body?: unknown) => json(`${server.url}${path}`, method, body, log, headers);
  try {
    const outDir = join(outRoot, server.version);
    mkdirSync(outDir, { recursive: true });
    const ssePath = join(outDir, `${name}.sse`);
    const ac = new AbortController();
    let root = "";
    const sessions: string[] = [];
    let deltas = 0;
    let acted = false;
    const replies: Promise<unknown>[] = [];
    let connected!: () => void;
    const connectedP = new Promise<void>((r) => (connected = r));
    let ended!: (how: string) => void;
    const endedP = new Promise<string>((r) => (ended = r));

    const onFrame = (raw: Frame) => {
      const f = raw as V2Frame;
      const d = f.data ?? {};
      if (f.type === "server.connected") connected();
      if (f.type === "session.created" && d.parentID !== undefined && d.sessionID !== undefined) sessions.push(d.sessionID);
      if (f.type === "permission.asked" && d.id !== undefined) {
        const decision = spec.decision ?? "reject";
        replies.push(call("POST", `/api/session/${d.sessionID}/permission/${d.id}/reply`, { decision }));
      }
      if (f.type === "form.created" && d.form?.id !== undefined) {
        // The form names its session (form.created carries no top-level sessionID).
        const path = `/api/session/${d.form.sessionID ?? d.sessionID}/form/${d.form.id}`;
        const answer = Object.fromEntries((d.form.fields ?? []).map((x) => [String(x.key), spec.formAnswer]));
        replies.push(spec.formAnswer === undefined ? call("DELETE", path) : call("POST", `${path}/reply`, { answer }));
      }
      if (f.type === "session.text.delta" && d.sessionID === root && !acted) {
        deltas++;
        if (spec.interruptAfterDeltas !== undefined && deltas >= spec.interruptAfterDeltas) {
          acted = true;
          replies.push(call("POST", `/api/session/${root}/interrupt`, {}));
        }
        if (spec.killAfterDeltas !== undefined && deltas >= spec.killAfterDeltas) {
          acted = true;
          // kill -9 of the whole process group: no goodbye, no failure event.
          if (server.pid !== undefined) process.kill(-server.pid, "SIGKILL");
          ended("killed");
        }
      }
      if (f.type !== undefined && ENDS.has(f.type) && d.sessionID === root && root !== "") ended(f.type);
    };

    const rec = await recordStream(`${server.url}/api/event`, ssePath, ac.signal, onFrame, headers);
    await connectedP;
    const created = await call("POST", "/api/session", { location: { directory: project.dir } });
    root = String((created.body as { data?: { id?: string } }).data?.id ?? "");
    if (created.status >= 300 || root === "") throw new Error(`POST /api/session answered ${created.status}`);
    sessions.unshift(root);
    const prompt = await call("POST", `/api/session/${root}/prompt`, {
      text: `[scenario:${spec.script}] Please run the ${spec.script} scenario.`,
    });
    if (prompt.status >= 300) throw new Error(`prompt answered ${prompt.status}: ${JSON.stringify(prompt.body)}`);
    const how = await Promise.race([endedP, sleep(120_000).then(() => "timeout")]);
    if (how === "timeout") throw new Error(`${name}: the turn did not end within 120 s`);
    await Promise.all(replies);
    if (how === "killed") {
      await rec.done;
      await server.stop(500).catch(() => {});
      // The same data directories and password: the server a restarted owner would start.
      server = await start(password);
      await sleep(2_000);
    } else {
      // Let what follows the end (usage, title …) arrive too.
      await sleep(750);
      ac.abort();
      await rec.done;
    }
    const record: Record<string, unknown> = {};
    for (const sid of sessions) {
      const r = await json(`${server.url}/api/session/${sid}/message`, "GET", undefined, undefined, headers);
      record[sid] = r.body;
    }
    writeFileSync(join(outDir, `${name}.messages.json`), `${JSON.stringify(record, null, 2)}\n`);
    writeFileSync(join(outDir, `${name}.http.json`), `${JSON.stringify(log.entries, null, 2)}\n`);
    console.error(`captured ${ssePath} (${how}; sessions ${sessions.join(", ")}, ${model.requests.length} model requests)`);
  } finally {
    await server.stop().catch(() => {});
    await model.close();
    await project.cleanup();
  }
}
