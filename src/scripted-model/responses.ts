/**
 * The scripted model's OpenAI Responses dialect, for Codex (through codex-acp):
 * `POST /v1/responses`, streaming (`response.created`, `response.output_item.added/done`,
 * `response.output_text.delta`, `response.reasoning_summary_text.delta`,
 * `response.function_call_arguments.delta`, `response.completed`) or not.
 */
import { agentToolCall, type OfferedTools } from "./tools.js";
import { outputTokens, type Frame, type PlanMessage, type StreamStep, type WireApi } from "./play.js";

interface InputItem {
  type?: string;
  role?: string;
  content?: string | { type?: string; text?: string }[];
}
interface ResponsesBody {
  model?: string;
  input?: string | InputItem[];
  stream?: boolean;
  tools?: unknown;
}

/**
 * Items the model produced (reasoning, assistant messages, function calls) in a row
 * are one assistant message; a function call's output is a tool message.
 */
export function responsesPlanMessages(input: ResponsesBody["input"]): PlanMessage[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  const out: PlanMessage[] = [];
  for (const item of input ?? []) {
    const type = item.type ?? "message";
    if (type === "message" && item.role === "user") {
      const parts = typeof item.content === "string" ? [{ text: item.content }] : (item.content ?? []);
      out.push({ role: "user", content: parts.map((p) => ({ text: p.text ?? "" })) });
    } else if (type === "message" && (item.role === "system" || item.role === "developer")) out.push({ role: "system" });
    else if (type.endsWith("_output")) out.push({ role: "tool", content: item });
    else if (out.at(-1)?.role !== "assistant") out.push({ role: "assistant" });
  }
  return out;
}

function usage(step: StreamStep) {
  const output = outputTokens(step);
  return {
    input_tokens: 42,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: (step.reasoning ?? []).length },
    total_tokens: 42 + output,
  };
}

/** The output items of a step, complete (what `response.output_item.done` and a JSON answer carry). */
function outputItems(step: StreamStep, id: string, tools: OfferedTools): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  if (step.reasoning?.length) {
    items.push({ id: `rs_${id}`, type: "reasoning", summary: [{ type: "summary_text", text: step.reasoning.join("") }] });
  }
  if (step.text?.length) {
    items.push({
      id: `msg_${id}`,
      type: "message",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: step.text.join(""), annotations: [] }],
    });
  }
  for (const c of step.toolCalls ?? []) {
    const call = agentToolCall(c, tools);
    if (!call) continue;
    items.push({ id: `fc_${call.id}`, type: "function_call", status: "completed", call_id: call.id, name: call.name, arguments: JSON.stringify(call.arguments) });
  }
  return items;
}

/** The `response` object, as the stream's first and last events and a JSON answer carry it. */
function response(id: string, model: string, status: string, output: unknown[], extra: Record<string, unknown> = {}) {
  return { id: `resp_${id}`, object: "response", created_at: 1_700_000_000, status, model, output, ...extra };
}

export function responsesFrames(step: StreamStep, id: string, model: string, tools: OfferedTools): Frame[] {
  const out: Frame[] = [];
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>, content = false) =>
    out.push({ data: `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`, content });
  ev("response.created", { response: response(id, model, "in_progress", []) });
  ev("response.in_progress", { response: response(id, model, "in_progress", []) });
  const items = outputItems(step, id, tools);
  items.forEach((item, output_index) => {
    const item_id = item.id as string;
    if (item.type === "reasoning") {
      ev("response.output_item.added", { output_index, item: { ...item, summary: [] } });
      ev("response.reasoning_summary_part.added", { item_id, output_index, summary_index: 0, part: { type: "summary_text", text: "" } });
      for (const delta of step.reasoning ?? []) ev("response.reasoning_summary_text.delta", { item_id, output_index, summary_index: 0, delta }, true);
      ev("response.reasoning_summary_text.done", { item_id, output_index, summary_index: 0, text: (step.reasoning ?? []).join("") });
    } else if (item.type === "message") {
      ev("response.output_item.added", { output_index, item: { ...item, status: "in_progress", content: [] } });
      ev("response.content_part.added", { item_id, output_index, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
      for (const delta of step.text ?? []) ev("response.output_text.delta", { item_id, output_index, content_index: 0, delta }, true);
      ev("response.output_text.done", { item_id, output_index, content_index: 0, text: (step.text ?? []).join("") });
      ev("response.content_part.done", { item_id, output_index, content_index: 0, part: (item.content as unknown[])[0] });
    } else {
      const args = item.arguments as string;
      const half = Math.ceil(args.length / 2);
      ev("response.output_item.added", { output_index, item: { ...item, status: "in_progress", arguments: "" } });
      ev("response.function_call_arguments.delta", { item_id, output_index, delta: args.slice(0, half) }, true);
      ev("response.function_call_arguments.delta", { item_id, output_index, delta: args.slice(half) }, true);
      ev("response.function_call_arguments.done", { item_id, output_index, arguments: args });
    }
    ev("response.output_item.done", { output_index, item });
  });
  ev("response.completed", { response: response(id, model, "completed", items, { usage: usage(step) }) });
  return out;
}

export const RESPONSES: WireApi = {
  api: "responses",
  route: (path) => path.endsWith("/responses"),
  request: (body) => {
    const b = body as ResponsesBody;
    return { messages: responsesPlanMessages(b.input), tools: b.tools, stream: b.stream === true, model: b.model };
  },
  defaultModel: "scripted",
  id: (n) => `scripted_${n}`,
  errorBody: (_status, body) => body,
  frames: responsesFrames,
  json: (step, id, model, tools) => response(id, model, "completed", outputItems(step, id, tools), { usage: usage(step) }),
};
