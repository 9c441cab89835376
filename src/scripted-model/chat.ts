/**
 * The scripted model's OpenAI chat-completions dialect, for OpenCode:
 * `POST …/chat/completions`, streaming (`chat.completion.chunk`s, then `[DONE]`)
 * or not, and `GET …/models`. A scripted tool call is spoken with the tools the
 * request offers (OpenCode 1.x or 2.x names: tools.ts).
 */
import { outputTokens, type Frame, type PlanMessage, type StreamStep, type WireApi } from "./play.js";
import { speakTools, type OfferedTools } from "./tools.js";

function chunk(id: string, delta: Record<string, unknown>, finish: string | null = null, content = false): Frame {
  const data = { id, object: "chat.completion.chunk", created: 1_700_000_000, model: "scripted", choices: [{ index: 0, delta, finish_reason: finish }] };
  return { data: `data: ${JSON.stringify(data)}\n\n`, content };
}

function chatFrames(step: StreamStep, id: string, _model: string, offered: OfferedTools): Frame[] {
  const frames: Frame[] = [chunk(id, { role: "assistant", content: "" })];
  for (const r of step.reasoning ?? []) frames.push(chunk(id, { reasoning_content: r }, null, true));
  for (const t of step.text ?? []) frames.push(chunk(id, { content: t }, null, true));
  (step.toolCalls ?? []).forEach((scripted, index) => {
    const call = speakTools(scripted, offered);
    const args = JSON.stringify(call.arguments);
    const half = Math.ceil(args.length / 2);
    const head = { index, id: call.id, type: "function", function: { name: call.name, arguments: args.slice(0, half) } };
    frames.push(chunk(id, { tool_calls: [head] }, null, true));
    frames.push(chunk(id, { tool_calls: [{ index, function: { arguments: args.slice(half) } }] }, null, true));
  });
  frames.push(chunk(id, {}, (step.toolCalls?.length ?? 0) > 0 ? "tool_calls" : "stop"));
  const completion = outputTokens(step);
  const usage = { prompt_tokens: 42, completion_tokens: completion, total_tokens: 42 + completion };
  frames.push({ data: `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1_700_000_000, model: "scripted", choices: [], usage })}\n\n`, content: false });
  frames.push({ data: "data: [DONE]\n\n", content: false });
  return frames;
}

/** The model list OpenCode may ask for (`GET …/models`). */
export const CHAT_MODELS = { object: "list", data: [{ id: "scripted", object: "model", owned_by: "bridge" }] };

export const CHAT: WireApi = {
  api: "chat",
  route: (path) => path.endsWith("/chat/completions"),
  request: (body) => {
    const b = body as { messages?: PlanMessage[]; stream?: boolean; tools?: unknown };
    return { messages: b.messages ?? [], tools: b.tools, stream: b.stream === true, model: undefined };
  },
  defaultModel: "scripted",
  id: (n) => `chatcmpl-scripted-${n}`,
  errorBody: (_status, body) => body,
  frames: chatFrames,
  json: (step, id) => ({
    id,
    object: "chat.completion",
    created: 1_700_000_000,
    model: "scripted",
    choices: [{ index: 0, message: { role: "assistant", content: (step.text ?? []).join("") }, finish_reason: "stop" }],
    usage: { prompt_tokens: 42, completion_tokens: 5, total_tokens: 47 },
  }),
};
