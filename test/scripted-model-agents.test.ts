/**
 * The scripted model's Anthropic Messages (Claude Code) and OpenAI Responses (Codex)
 * dialects, on a real loopback server: the streamed events in order, a scripted call
 * spoken with the tool the request offers, the next step after a tool result, a side
 * request without tools answered with text only, provider errors in each API's shape,
 * and a stall. (Real agents on it: test/e2e/acp.e2e.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedModel, type ScriptedModel } from "../src/scripted-model/server.js";

let model: ScriptedModel;
beforeAll(async () => {
  model = await startScriptedModel();
});
afterAll(async () => {
  await model.close();
});

const base = () => `http://127.0.0.1:${model.port}`;
const events = (body: string) =>
  body
    .split("\n\n")
    .filter((f) => f.includes("data: "))
    .map((f) => JSON.parse(f.slice(f.indexOf("data: ") + 6)) as Record<string, unknown> & { type: string });

const CLAUDE_TOOLS = [
  { name: "Bash", input_schema: { properties: { command: {}, description: {}, timeout: {} } } },
  { name: "Read", input_schema: { properties: { file_path: {} } } },
];
const anthropic = (body: unknown) =>
  fetch(`${base()}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "anthropic-version": "2023-06-01", "content-type": "application/json", "x-api-key": "k" },
    body: JSON.stringify(body),
  });

describe("Anthropic Messages", () => {
  it("streams text and a tool_use for the offered Bash tool, then the next step after its tool_result", async () => {
    const prompt = { role: "user", content: [{ type: "text", text: "[scenario:tool] go" }] };
    const evs = events(await (await anthropic({ model: "claude-x", stream: true, tools: CLAUDE_TOOLS, messages: [prompt] })).text());
    expect(evs[0]?.type).toBe("message_start");
    expect(evs.at(-1)?.type).toBe("message_stop");
    const text = evs.flatMap((e) => ((e.delta as { type?: string; text?: string })?.type === "text_delta" ? [(e.delta as { text: string }).text] : [])).join("");
    expect(text).toBe("Let me run a command.");
    const start = evs.find((e) => (e.content_block as { type?: string })?.type === "tool_use");
    expect(start?.content_block).toMatchObject({ name: "Bash", id: "call_echo_1" });
    const json = evs.flatMap((e) => ((e.delta as { type?: string })?.type === "input_json_delta" ? [(e.delta as { partial_json: string }).partial_json] : [])).join("");
    expect(JSON.parse(json)).toEqual({ command: "echo bridge-tool-ok", description: "Echo a marker" });
    expect(evs.find((e) => e.type === "message_delta")).toMatchObject({ delta: { stop_reason: "tool_use" }, usage: { output_tokens: expect.any(Number) } });
    const next = await anthropic({
      stream: false,
      tools: CLAUDE_TOOLS,
      messages: [
        prompt,
        { role: "assistant", content: [{ type: "tool_use", id: "call_echo_1", name: "Bash", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "call_echo_1", content: "bridge-tool-ok" }] },
      ],
    });
    expect(await next.json()).toMatchObject({ type: "message", stop_reason: "end_turn", content: [{ type: "text", text: "The command printed bridge-tool-ok." }] });
  });

  it("tells the truth about a tool whose result lacks its output (refused), as in every dialect", async () => {
    const prompt = { role: "user", content: [{ type: "text", text: "[scenario:tool] go" }] };
    const refused = await anthropic({
      stream: false,
      tools: CLAUDE_TOOLS,
      messages: [
        prompt,
        { role: "assistant", content: [{ type: "tool_use", id: "call_echo_1", name: "Bash", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "call_echo_1", is_error: true, content: "The user doesn't want to proceed" }] },
      ],
    });
    expect(await refused.json()).toMatchObject({ content: [{ type: "text", text: "The command did not run, so I have no output to report." }] });
    expect(model.requests.at(-1)).toMatchObject({ api: "anthropic", scenario: "tool", step: 1, tools: ["Bash", "Read"] });
  });

  it("a side request that offers no tools gets the step's text only; thinking streams as thinking_delta", async () => {
    const evs = events(await (await anthropic({ stream: true, messages: [{ role: "user", content: "[scenario:mixed-turn] title this" }] })).text());
    expect(evs.some((e) => (e.content_block as { type?: string })?.type === "tool_use")).toBe(false);
    expect(evs.some((e) => (e.delta as { type?: string })?.type === "thinking_delta")).toBe(true);
    expect(evs.find((e) => e.type === "message_delta")).toMatchObject({ delta: { stop_reason: "end_turn" } });
  });

  it("a provider 401 in Anthropic's error shape; count_tokens and models answer", async () => {
    const res = await anthropic({ stream: true, messages: [{ role: "user", content: "[scenario:provider-error] x" }] });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "authentication_error", message: expect.stringContaining("Incorrect API key") } });
    const count = await fetch(`${base()}/v1/messages/count_tokens`, { method: "POST", headers: { "anthropic-version": "2023-06-01" }, body: JSON.stringify({ messages: [] }) });
    expect(await count.json()).toEqual({ input_tokens: 43 });
    const models = await fetch(`${base()}/v1/models`, { headers: { "anthropic-version": "2023-06-01" } });
    expect(((await models.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
  });

  it("a stall sends one text delta, then holds the connection open", async () => {
    const res = await anthropic({ stream: true, messages: [{ role: "user", content: "[scenario:stall] x" }] });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    const dec = new TextDecoder();
    while (!text.includes("text_delta")) text += dec.decode((await reader.read()).value);
    const more = await Promise.race([reader.read().then(() => "more"), new Promise((r) => setTimeout(() => r("held"), 300))]);
    expect(more).toBe("held");
    await reader.cancel();
  });
});

describe("OpenAI chat completions (OpenCode)", () => {
  const chat = (body: unknown) => fetch(`${base()}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("streams the role header, reasoning, text and a tool call in chunks, then usage and [DONE]", async () => {
    const body = await (await chat({ stream: true, messages: [{ role: "user", content: "[scenario:mixed-turn] go" }] })).text();
    expect(body.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const evs = events(body.replace("data: [DONE]", "")) as unknown as { choices: { delta?: Record<string, unknown>; finish_reason?: string | null }[]; usage?: unknown }[];
    expect(evs[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    const deltas = evs.flatMap((e) => e.choices.map((c) => c.delta ?? {}));
    expect(deltas.flatMap((d) => (typeof d.reasoning_content === "string" ? [d.reasoning_content] : [])).join("")).toBe("I should run a command first.");
    expect(deltas.flatMap((d) => (typeof d.content === "string" ? [d.content] : [])).join("")).toBe("Running a command.");
    const args = deltas.flatMap((d) => ((d.tool_calls as { function: { arguments: string } }[] | undefined) ?? []).map((t) => t.function.arguments)).join("");
    expect(JSON.parse(args)).toEqual({ command: "echo mixed-ok", description: "Echo" });
    expect(evs.flatMap((e) => e.choices.map((c) => c.finish_reason)).filter(Boolean)).toEqual(["tool_calls"]);
    expect(evs.at(-1)?.usage).toMatchObject({ prompt_tokens: 42 });
    expect(model.requests.at(-1)).toMatchObject({ api: "chat", scenario: "mixed-turn", step: 0, stream: true });
  });

  it("a refused tool's result does not carry the marker: the closing text says so; a provider 500 is sent as scripted", async () => {
    const after = (content: string) => [
      { role: "user", content: "[scenario:tool] go" },
      { role: "assistant", tool_calls: [{ id: "call_echo_1" }] },
      { role: "tool", tool_call_id: "call_echo_1", content },
    ];
    const text = async (content: string) => ((await (await chat({ messages: after(content) })).json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content;
    expect(await text("bridge-tool-ok")).toBe("The command printed bridge-tool-ok.");
    expect(await text("The user rejected permission to use this specific tool call.")).toBe("The command did not run, so I have no output to report.");
    const failed = await chat({ stream: true, messages: [{ role: "user", content: "[scenario:provider-500] x" }] });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: { message: "The scripted provider failed internally", type: "server_error", code: "internal_error" } });
  });
});

describe("OpenAI Responses", () => {
  const responses = (body: unknown) => fetch(`${base()}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const CODEX_TOOLS = [{ type: "function", name: "exec_command", parameters: { properties: { cmd: {}, workdir: {} } } }];

  it("streams a function_call for Codex's exec_command, reasoning summaries, and response.completed with usage", async () => {
    const input = [{ type: "message", role: "user", content: [{ type: "input_text", text: "[scenario:mixed-turn] go" }] }];
    const evs = events(await (await responses({ model: "gpt-5.4", stream: true, tools: CODEX_TOOLS, input })).text());
    expect(evs[0]?.type).toBe("response.created");
    expect(evs.at(-1)).toMatchObject({ type: "response.completed", response: { status: "completed", usage: { input_tokens: 42 } } });
    expect(evs.some((e) => e.type === "response.reasoning_summary_text.delta")).toBe(true);
    const call = evs.find((e) => e.type === "response.output_item.done" && (e.item as { type?: string }).type === "function_call");
    expect(call?.item).toMatchObject({ name: "exec_command", call_id: "call_mixed_1", arguments: JSON.stringify({ cmd: "echo mixed-ok" }) });
    const next = await responses({
      stream: false,
      tools: CODEX_TOOLS,
      input: [...input, { type: "reasoning", summary: [] }, { type: "function_call", call_id: "call_mixed_1", name: "exec_command", arguments: "{}" }, { type: "function_call_output", call_id: "call_mixed_1", output: "mixed-ok" }],
    });
    expect(await next.json()).toMatchObject({ status: "completed", output: [{ type: "reasoning" }, { type: "message", content: [{ text: "The command printed mixed-ok." }] }] });
  });

  it("the tool step's closing text follows what the function_call_output said", async () => {
    const input = (output: string) => [
      { type: "message", role: "user", content: [{ type: "input_text", text: "[scenario:tool] go" }] },
      { type: "function_call", call_id: "call_echo_1", name: "exec_command", arguments: "{}" },
      { type: "function_call_output", call_id: "call_echo_1", output },
    ];
    const text = async (output: string) =>
      ((await (await responses({ stream: false, tools: CODEX_TOOLS, input: input(output) })).json()) as { output: { content?: { text: string }[] }[] }).output[0]?.content?.[0]?.text;
    expect(await text("bridge-tool-ok\n")).toBe("The command printed bridge-tool-ok.");
    expect(await text("exec_command was rejected")).toBe("The command did not run, so I have no output to report.");
  });

  it("a provider 401 in OpenAI's error shape", async () => {
    const res = await responses({ stream: true, input: "[scenario:provider-error] x" });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_api_key" } });
  });
});
