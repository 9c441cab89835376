/**
 * What the scripted model's wire dialects (chat completions, Anthropic Messages,
 * OpenAI Responses) share: the request context a dialect is given, and the player
 * that writes a step's frames with its pacing and stall.
 */
import type { ServerResponse } from "node:http";
import type { Script, Step } from "./scripts.js";

/** A conversation reduced to what picks the scenario and step: roles and user text. */
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
  record(r: {
    scenario: string;
    step: number;
    stream: boolean;
    messages: readonly PlanMessage[];
    api: "anthropic" | "responses";
    tools: readonly string[];
  }): void;
  /** The HTTP error to answer this request with (an `http-error` step, or one of a `failFirst`'s failures), if any. */
  failure(plan: Plan, step: Step): { status: number; body: unknown } | undefined;
  nextId(): number;
}

export type StreamStep = Extract<Step, { kind: "stream" }>;

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

/** Past the end of a script the model answers with text, never a tool call again. */
export function stepOf(plan: Plan): Step {
  return plan.script[plan.step] ?? { kind: "stream", text: ["(script", " ended)"] };
}

/** The message of an OpenAI-shaped error body (`{error:{message}}`), which the scripts use. */
export function errorMessage(body: unknown): string {
  const m = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
  return typeof m === "string" ? m : JSON.stringify(body);
}
