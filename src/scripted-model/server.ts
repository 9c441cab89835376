/**
 * A small model server that plays deterministic scripts (see scripts.ts) in three
 * wire dialects: OpenAI chat completions (OpenCode: chat.ts), Anthropic Messages
 * (Claude Code: anthropic.ts) and OpenAI Responses (Codex: responses.ts). It
 * listens on loopback only and is what the agents talk to in the bridge's
 * captures, end-to-end tests and `demo`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { json } from "node:stream/consumers";
import { defaultScript, selectScript, type Script } from "./scripts.js";
import { anthropicModels, countTokens, MESSAGES } from "./anthropic.js";
import { CHAT, CHAT_MODELS } from "./chat.js";
import { RESPONSES } from "./responses.js";
import { answer, sendJson, type DialectContext, type Plan, type PlanMessage } from "./play.js";

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
  /** The tool names the request offered. */
  readonly tools?: readonly string[];
}

export interface ReceivedPart {
  readonly type: string;
  readonly text?: string;
  readonly url?: string;
}

/** The parts of a message's content: a string is one text part. */
function partsOf(content: unknown): unknown[] {
  return typeof content === "string" ? [{ type: "text", text: content }] : Array.isArray(content) ? content : [];
}

function receivedParts(messages: readonly PlanMessage[]): ReceivedPart[] {
  let from = messages.length;
  while (from > 0 && messages[from - 1]?.role === "user") from--;
  const out: ReceivedPart[] = [];
  for (const m of messages.slice(from)) {
    for (const p of partsOf(m.content)) {
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

export interface ScriptedModel {
  readonly url: string;
  readonly port: number;
  /** Every chat request received, in order. */
  readonly requests: ScriptedModelRequest[];
  close(): Promise<void>;
}

/** The text of a message's content: a string, or the `text` of its parts. */
function textOf(content: unknown): string {
  return partsOf(content)
    .map((p) => {
      const text = (p as { text?: unknown } | null)?.text;
      return typeof text === "string" ? text : "";
    })
    .join("");
}

/**
 * Which script and which of its steps a request asks for: the scenario marker may
 * sit in any user message of the conversation (the newest wins); the step is the
 * number of assistant messages since the last user message.
 */
export function planRequest(messages: readonly PlanMessage[], extra?: Readonly<Record<string, Script>>): Plan {
  let chosen: { name: string; script: Script } = { name: "default", script: defaultScript };
  let step = 0;
  for (const m of messages) {
    if (m.role === "assistant") step++;
    if (m.role !== "user") continue;
    step = 0;
    chosen = selectScript(textOf(m.content), extra) ?? chosen;
  }
  return { ...chosen, step };
}

export async function startScriptedModel(opts: { readonly port?: number; readonly extraScripts?: Readonly<Record<string, Script>> } = {}): Promise<ScriptedModel> {
  const requests: ScriptedModelRequest[] = [];
  let counter = 0;
  /** Failures served so far per scenario step, for `failFirst`. */
  const failures = new Map<string, number>();
  const dialect: DialectContext = {
    plan: (messages) => planRequest(messages, opts.extraScripts),
    record: ({ messages, ...r }) => requests.push({ ...r, messages: messages.length, userParts: receivedParts(messages) }),
    failure: (plan, step) => {
      if (!step.failFirst) return undefined;
      const key = `${plan.name}#${plan.step}`;
      const served = failures.get(key) ?? 0;
      if (served >= step.failFirst.times) return undefined;
      failures.set(key, served + 1);
      return step.failFirst;
    },
    nextId: () => ++counter,
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        // Claude Code sends `anthropic-version` on every request, /v1/models included.
        const anthropic = req.headers["anthropic-version"] !== undefined;
        if (req.method === "GET" && path.endsWith("/models")) return sendJson(res, 200, anthropic && path === "/v1/models" ? anthropicModels() : CHAT_MODELS);
        if (req.method === "POST" && anthropic && path === "/v1/messages/count_tokens") return sendJson(res, 200, countTokens(await json(req)));
        const wire = [...(anthropic ? [MESSAGES] : []), RESPONSES, CHAT].find((w) => w.route(path));
        if (req.method === "POST" && wire !== undefined) return await answer(res, dialect, wire, wire.request(await json(req)));
        sendJson(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
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
