/**
 * The scripted model's Anthropic Messages dialect, for Claude Code (through
 * claude-agent-acp): `POST /v1/messages` streaming or not, `/v1/messages/count_tokens`
 * and `GET /v1/models`. The same scripts play as in chat completions; a scripted
 * tool call is played with the tool the request offers for the job (tools.ts).
 */
import { agentToolCall, type OfferedTools } from "./tools.js";
import { outputTokens, type Frame, type PlanMessage, type StreamStep, type WireApi } from "./play.js";
import type { ToolCallSpec } from "./scripts.js";

export const ANTHROPIC_MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"] as const;

interface Block {
  type?: string;
  text?: string;
}
interface AnthropicMessage {
  role?: string;
  content?: string | Block[];
}
interface MessagesBody {
  model?: string;
  messages?: AnthropicMessage[];
  stream?: boolean;
  tools?: unknown;
}

/**
 * A user message that carries tool results continues the model's turn (Claude Code
 * sends tool results as user messages), so it counts as a tool message: the step is
 * the number of assistant messages since the last user message that is a prompt.
 */
export function anthropicPlanMessages(messages: readonly AnthropicMessage[]): PlanMessage[] {
  return messages.map((m) => {
    if (m.role === "assistant") return { role: "assistant" };
    const blocks = typeof m.content === "string" ? [{ type: "text", text: m.content }] : (m.content ?? []);
    if (blocks.some((b) => b.type === "tool_result")) return { role: "tool", content: blocks };
    return { role: "user", content: blocks.filter((b) => b.type === "text") };
  });
}

const sse = (event: string, data: Record<string, unknown>, content = false): Frame => ({
  data: `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`,
  content,
});

function calls(step: StreamStep, tools: OfferedTools): ToolCallSpec[] {
  return (step.toolCalls ?? []).flatMap((c) => agentToolCall(c, tools) ?? []);
}

function usage(step: StreamStep) {
  return { input_tokens: 42, output_tokens: outputTokens(step) };
}

export function messagesFrames(step: StreamStep, id: string, model: string, tools: OfferedTools): Frame[] {
  const out: Frame[] = [
    sse("message_start", {
      message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 42, output_tokens: 1 } },
    }),
  ];
  let index = 0;
  const block = (start: Record<string, unknown>, deltas: Record<string, unknown>[]) => {
    out.push(sse("content_block_start", { index, content_block: start }));
    for (const d of deltas) out.push(sse("content_block_delta", { index, delta: d }, true));
    out.push(sse("content_block_stop", { index }));
    index++;
  };
  if (step.reasoning?.length) {
    block({ type: "thinking", thinking: "", signature: "" }, [
      ...step.reasoning.map((t) => ({ type: "thinking_delta", thinking: t })),
      { type: "signature_delta", signature: "scripted-signature" },
    ]);
  }
  if (step.text?.length) block({ type: "text", text: "" }, step.text.map((t) => ({ type: "text_delta", text: t })));
  const toolCalls = calls(step, tools);
  for (const c of toolCalls) {
    const args = JSON.stringify(c.arguments);
    const half = Math.ceil(args.length / 2);
    block({ type: "tool_use", id: c.id, name: c.name, input: {} }, [
      { type: "input_json_delta", partial_json: args.slice(0, half) },
      { type: "input_json_delta", partial_json: args.slice(half) },
    ]);
  }
  out.push(
    sse("message_delta", {
      delta: { stop_reason: toolCalls.length > 0 ? "tool_use" : "end_turn", stop_sequence: null },
      usage: { output_tokens: usage(step).output_tokens },
    }),
  );
  out.push(sse("message_stop", {}));
  return out;
}

function messageJson(step: StreamStep, id: string, model: string, tools: OfferedTools) {
  const toolCalls = calls(step, tools);
  const content: Record<string, unknown>[] = [];
  if (step.reasoning?.length) content.push({ type: "thinking", thinking: step.reasoning.join(""), signature: "scripted-signature" });
  if (step.text?.length) content.push({ type: "text", text: step.text.join("") });
  for (const c of toolCalls) content.push({ type: "tool_use", id: c.id, name: c.name, input: c.arguments });
  return { id, type: "message", role: "assistant", model, content, stop_reason: toolCalls.length > 0 ? "tool_use" : "end_turn", stop_sequence: null, usage: usage(step) };
}

/** Anthropic's error `type` for an HTTP status. */
function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status === 529 || status === 503) return "overloaded_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

/** The scripts' OpenAI-shaped error (`{error:{message}}`) in Anthropic's shape. */
function errorBody(status: number, body: unknown) {
  const m = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
  return { type: "error", error: { type: errorType(status), message: typeof m === "string" ? m : JSON.stringify(body) } };
}

export const MESSAGES: WireApi = {
  api: "anthropic",
  route: (path) => path === "/v1/messages",
  request: (body) => {
    const b = body as MessagesBody;
    return { messages: anthropicPlanMessages(b.messages ?? []), tools: b.tools, stream: b.stream === true, model: b.model };
  },
  defaultModel: ANTHROPIC_MODELS[0],
  id: (n) => `msg_scripted_${n}`,
  errorBody,
  frames: messagesFrames,
  json: messageJson,
};

/** The model list Claude Code asks for (`GET /v1/models`). */
export function anthropicModels() {
  const data = ANTHROPIC_MODELS.map((id) => ({ type: "model", id, display_name: id, created_at: "2025-01-01T00:00:00Z" }));
  return { data, has_more: false, first_id: data[0]?.id, last_id: data.at(-1)?.id };
}

/** The answer to `POST /v1/messages/count_tokens`. */
export function countTokens(body: unknown) {
  return { input_tokens: 42 + Math.ceil(JSON.stringify((body as MessagesBody).messages ?? []).length / 4) };
}
