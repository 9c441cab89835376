/**
 * What the scripted model's wire dialects (chat completions, Anthropic Messages,
 * OpenAI Responses) share: one way to answer a model request (`answer`: plan the
 * step, record the request, a scripted failure, then the dialect's frames or JSON),
 * and the player that writes a step's frames with its pacing and stall. A dialect
 * only reads its request body and writes its answer's shape (`WireApi`).
 */
import type { ServerResponse } from "node:http";
import type { Script, Step } from "./scripts.js";
import type { ScriptedModelRequest } from "./server.js";
import { offeredTools, type OfferedTools } from "./tools.js";

/** A conversation reduced to what picks the scenario and step: roles, user text, tool results. */
export interface PlanMessage {
  readonly role: "user" | "assistant" | "tool" | "system";
  readonly content?: unknown;
}

export interface Plan {
  readonly name: string;
  readonly script: Script;
  readonly step: number;
}

/** What server.ts hands each dialect: scenario planning, the request log and `failFirst` bookkeeping. */
export interface DialectContext {
  plan(messages: readonly PlanMessage[]): Plan;
  record(r: Omit<ScriptedModelRequest, "messages" | "userParts"> & { readonly messages: readonly PlanMessage[] }): void;
  /** The HTTP error to answer this request with (one of a `failFirst`'s failures), if any. */
  failure(plan: Plan, step: StreamStep): { status: number; body: unknown } | undefined;
  nextId(): number;
}

export type StreamStep = Extract<Step, { kind: "stream" }>;

/** The output tokens a step's answer reports: one per chunk, and 5 more. */
export const outputTokens = (step: StreamStep): number => (step.text ?? []).length + (step.reasoning ?? []).length + 5;

/** One SSE frame; `content` frames are the ones `stallAfter` counts (text, reasoning, tool arguments). */
export interface Frame {
  readonly data: string;
  readonly content: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Writes the frames, `chunkDelayMs` apart. A step with `stallAfter: N` sends N - 1
 * content frames (as the chat dialect's first frame is its role header, N counts it)
 * and then holds the connection open, sending nothing, until the client goes away.
 */
export async function playFrames(res: ServerResponse, frames: readonly Frame[], step: StreamStep): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const budget = step.stallAfter === undefined ? Infinity : step.stallAfter - 1;
  let sent = 0;
  for (const f of frames) {
    if (f.content && sent >= budget) {
      await new Promise<void>((resolve) => (res.destroyed ? resolve() : res.once("close", () => resolve())));
      return;
    }
    if (res.destroyed) return;
    res.write(f.data);
    if (f.content) {
      sent++;
      if (step.chunkDelayMs) await sleep(step.chunkDelayMs);
    }
  }
  res.end();
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** A model request as its dialect read it from the wire. */
export interface ModelRequest {
  readonly messages: readonly PlanMessage[];
  /** The request's `tools`, as sent. */
  readonly tools: unknown;
  readonly stream: boolean;
  readonly model: string | undefined;
}

/** One wire API: where its model requests come, how it reads them, and the shape of its answers. */
export interface WireApi {
  readonly api: NonNullable<ScriptedModelRequest["api"]>;
  /** Whether a POST to `path` is one of its model requests. */
  route(path: string): boolean;
  request(body: unknown): ModelRequest;
  readonly defaultModel: string;
  /** The answer's id, from the server's request counter. */
  id(n: number): string;
  /** The body of a scripted HTTP error (an OpenAI-shaped `{error:{message}}` in the scripts). */
  errorBody(status: number, body: unknown): unknown;
  frames(step: StreamStep, id: string, model: string, tools: OfferedTools): Frame[];
  json(step: StreamStep, id: string, model: string, tools: OfferedTools): unknown;
}

/** Answers one model request of `wire`'s API with the step its conversation is at. */
export async function answer(res: ServerResponse, ctx: DialectContext, wire: WireApi, req: ModelRequest): Promise<void> {
  const plan = ctx.plan(req.messages);
  const tools = offeredTools(req.tools);
  ctx.record({ scenario: plan.name, step: plan.step, stream: req.stream, messages: req.messages, api: wire.api, tools: [...tools.keys()] });
  const step = stepOf(plan, req.messages);
  const failed = step.kind === "http-error" ? step : ctx.failure(plan, step);
  if (failed) return sendJson(res, failed.status, wire.errorBody(failed.status, failed.body));
  if (step.kind !== "stream") return; // an http-error step was answered just above
  const id = wire.id(ctx.nextId());
  const model = req.model ?? wire.defaultModel;
  if (req.stream) await playFrames(res, wire.frames(step, id, model, tools), step);
  else sendJson(res, 200, wire.json(step, id, model, tools));
}

/**
 * The step to play. Past the end of a script the model answers with text, never a
 * tool call again; and it tells the truth about its tool: `unlessToolSaid`'s text
 * when no tool result since the last user message contains the marker (a refused
 * or failed tool did not print it).
 */
function stepOf(plan: Plan, messages: readonly PlanMessage[]): Step {
  const step = plan.script[plan.step] ?? { kind: "stream", text: ["(script", " ended)"] };
  if (step.kind !== "stream" || step.unlessToolSaid === undefined) return step;
  let from = messages.length;
  while (from > 0 && messages[from - 1]?.role !== "user") from--;
  const marker = step.unlessToolSaid.marker;
  const said = messages.slice(from).some((m) => m.role === "tool" && JSON.stringify(m.content ?? "").includes(marker));
  return said ? step : { ...step, text: step.unlessToolSaid.text };
}
