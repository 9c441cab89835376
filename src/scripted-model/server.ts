/**
 * A small OpenAI-compatible chat-completions server that plays deterministic
 * scripts (see scripts.ts). It listens on loopback only and is what OpenCode
 * talks to in the bridge's captures, end-to-end tests and `demo`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { selectScript, type Script, type Step } from "./scripts.js";
import { handleAnthropic } from "./anthropic.js";
import { handleResponses } from "./responses.js";
import type { DialectContext, Plan } from "./play.js";
import { offeredTools, speakTools, type OfferedTools } from "./tools.js";

export interface ScriptedModelRequest {
  readonly scenario: string;
  readonly step: number;
  readonly stream: boolean;
  /** How many chat messages the request carried (the bodies are not kept: OpenCode's are large). */
  readonly messages: number;
  /**
   * The content parts of the user messages since the last assistant message (what
   * the model was just asked), shortened: `text` up to 2,000 characters, an image's
   * `url` up to 100 (its data URL's start). Lets tests check what reached the model.
   */
  readonly userParts: readonly ReceivedPart[];
  /** Which wire API it came on: chat completions (OpenCode), `anthropic` Messages (Claude Code) or `responses` (Codex). */
  readonly api?: "chat" | "anthropic" | "responses";
  /** The tool names the request offered (Anthropic and Responses requests). */
  readonly tools?: readonly string[];
}

export interface ReceivedPart {
  readonly type: string;
  readonly text?: string;
  readonly url?: string;
}

function receivedParts(messages: readonly ChatMessage[]): ReceivedPart[] {
  let from = messages.length;
  while (from > 0 && messages[from - 1]?.role === "user") from--;
  const out: ReceivedPart[] = [];
  for (const m of messages.slice(from)) {
    const parts: unknown[] = typeof m.content === "string" ? [{ type: "text", text: m.content }] : Array.isArray(m.content) ? m.content : [];
    for (const p of parts) {
      const q = p as { type?: unknown; text?: unknown; image_url?: { url?: unknown } | string };
      const url = typeof q.image_url === "string" ? q.image_url : q.image_url?.url;
      out.push({
        type: typeof q.type === "string" ? q.type : "unknown",
        ...(typeof q.text === "string" ? { text: q.text.slice(0, 2000) } : {}),
        ...(typeof url === "string" ? { url: url.slice(0, 100) } : {}),
      });
    }
  }
  return out;
}

/** Whether a tool result since the last user message contains `marker`. */
function toolSaid(messages: readonly ChatMessage[], marker: string): boolean {
  let from = messages.length;
  while (from > 0 && messages[from - 1]?.role !== "user") from--;
  return messages.slice(from).some((m) => m.role === "tool" && JSON.stringify(m.content ?? "").includes(marker));
}

export interface ScriptedModel {
  readonly url: string;
  readonly port: number;
  /** Every chat request received, in order. */
  readonly requests: ScriptedModelRequest[];
  close(): Promise<void>;
}

export interface ScriptedModelOptions {
  readonly port?: number;
  readonly extraScripts?: Readonly<Record<string, Script>>;
}

interface ChatMessage {
  role?: string;
  content?: unknown;
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) =>
        typeof p === "object" && p !== null && typeof (p as { text?: unknown }).text === "string"
          ? (p as { text: string }).text
          : "",
      )
      .join("");
  }
  return "";
}

/** Which script and which of its steps a request asks for. */
export function planRequest(
  messages: readonly ChatMessage[],
  extra?: Readonly<Record<string, Script>>,
): { name: string; script: Script; step: number } {
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === "user") {
      lastUser = i;
      break;
    }
  }
  // The scenario marker may sit in any user message of the conversation; the newest wins.
  let chosen = selectScript("");
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m?.role !== "user") continue;
    const text = textOf(m.content);
    const marker = /\[scenario:([a-z0-9-]+)\]/.exec(text)?.[1];
    if (marker !== undefined && extra?.[marker]) chosen = { name: marker, script: extra[marker] };
    else if (marker !== undefined) chosen = selectScript(text);
  }
  let step = 0;
  for (let i = lastUser + 1; i < messages.length; i++) if (messages[i]?.role === "assistant") step++;
  return { ...chosen, step };
}

function chunk(id: string, delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({
    id,
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "scripted",
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function playStream(res: ServerResponse, step: Extract<Step, { kind: "stream" }>, id: string, offered: OfferedTools) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const frames: string[] = [chunk(id, { role: "assistant", content: "" })];
  for (const r of step.reasoning ?? []) frames.push(chunk(id, { reasoning_content: r }));
  for (const t of step.text ?? []) frames.push(chunk(id, { content: t }));
  (step.toolCalls ?? []).forEach((scripted, index) => {
    // In the dialect of the tools this request offers (OpenCode 1.x or 2.x names: tools.ts).
    const call = speakTools(scripted, offered);
    const args = JSON.stringify(call.arguments);
    const half = Math.ceil(args.length / 2);
    frames.push(
      chunk(id, {
        tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: args.slice(0, half) } }],
      }),
    );
    frames.push(chunk(id, { tool_calls: [{ index, function: { arguments: args.slice(half) } }] }));
  });
  const finish = (step.toolCalls?.length ?? 0) > 0 ? "tool_calls" : "stop";
  frames.push(chunk(id, {}, finish));
  const completion = (step.text ?? []).length + (step.reasoning ?? []).length + 5;
  frames.push(
    `data: ${JSON.stringify({
      id,
      object: "chat.completion.chunk",
      created: 1_700_000_000,
      model: "scripted",
      choices: [],
      usage: { prompt_tokens: 42, completion_tokens: completion, total_tokens: 42 + completion },
    })}\n\n`,
  );
  frames.push("data: [DONE]\n\n");
  for (let i = 0; i < frames.length; i++) {
    if (step.stallAfter !== undefined && i >= step.stallAfter) {
      // Hold the connection open without sending anything until the client goes away.
      await new Promise<void>((resolve) => res.once("close", () => resolve()));
      return;
    }
    if (res.destroyed) return;
    res.write(frames[i]);
    if (step.chunkDelayMs) await sleep(step.chunkDelayMs);
  }
  res.end();
}

function playJson(res: ServerResponse, step: Extract<Step, { kind: "stream" }>, id: string) {
  const content = (step.text ?? []).join("");
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      id,
      object: "chat.completion",
      created: 1_700_000_000,
      model: "scripted",
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      usage: { prompt_tokens: 42, completion_tokens: 5, total_tokens: 47 },
    }),
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

export async function startScriptedModel(opts: ScriptedModelOptions = {}): Promise<ScriptedModel> {
  const requests: ScriptedModelRequest[] = [];
  let counter = 0;
  /** Failures served so far per scenario step, for `failFirst`. */
  const failures = new Map<string, number>();
  /** The HTTP error this request gets: an `http-error` step, or one of a `failFirst`'s failures. */
  const failure = (plan: Plan, step: Step): { status: number; body: unknown } | undefined => {
    if (step.kind === "http-error") return step;
    if (!step.failFirst) return undefined;
    const key = `${plan.name}#${plan.step}`;
    const served = failures.get(key) ?? 0;
    if (served >= step.failFirst.times) return undefined;
    failures.set(key, served + 1);
    return step.failFirst;
  };
  const dialect: DialectContext = {
    plan: (messages) => planRequest(messages, opts.extraScripts),
    record: ({ messages, ...r }) => requests.push({ ...r, messages: messages.length, userParts: receivedParts(messages) }),
    failure,
    nextId: () => ++counter,
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        const raw = () => readBody(req);
        // Claude Code sends `anthropic-version` on every request, /v1/models included.
        if (req.headers["anthropic-version"] !== undefined && (await handleAnthropic(req.method ?? "", path, raw, res, dialect))) return;
        if (await handleResponses(req.method ?? "", path, raw, res, dialect)) return;
        if (req.method === "GET" && req.url?.endsWith("/models")) {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ object: "list", data: [{ id: "scripted", object: "model", owned_by: "bridge" }] }));
          return;
        }
        if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
          return;
        }
        const body = JSON.parse(await readBody(req)) as { messages?: ChatMessage[]; stream?: boolean; tools?: unknown };
        const plan = planRequest(body.messages ?? [], opts.extraScripts);
        const stream = body.stream === true;
        requests.push({ scenario: plan.name, step: plan.step, stream, messages: body.messages?.length ?? 0, userParts: receivedParts(body.messages ?? []) });
        // Past the end of a script the model answers with its last text step's words, never a tool call again.
        let step: Step = plan.script[plan.step] ?? { kind: "stream", text: ["(script", " ended)"] };
        // A model tells the truth about its tool: a refused or failed one did not print the marker.
        if (step.kind === "stream" && step.unlessToolSaid && !toolSaid(body.messages ?? [], step.unlessToolSaid.marker)) {
          step = { ...step, text: step.unlessToolSaid.text };
        }
        const id = `chatcmpl-scripted-${++counter}`;
        const failed = failure(plan, step);
        if (failed || step.kind === "http-error") {
          res.writeHead(failed?.status ?? 500, { "content-type": "application/json" });
          res.end(JSON.stringify(failed?.body ?? {}));
          return;
        }
        if (stream) await playStream(res, step, id, offeredTools(body.tools));
        else playJson(res, step, id);
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: String(err) } }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
