/**
 * The ACP codec: a pure reducer from an agent's `session/update` notifications and
 * its `session/prompt` outcome to the bridge's reply bodies (the same vocabulary and
 * contract as OpenCode's, src/codec/reply.ts). No I/O, clock or logger; the
 * envelope is stamped by delivery (src/adapter/delivery.ts).
 *
 *   agent_message_chunk (text)  → delta       (part_id: the chunk's messageId)
 *   agent_thought_chunk (text)  → reasoning
 *   tool_call / tool_call_update → tool_call once per call id (when its input is
 *                                   known, or at the latest with its result), then
 *                                   tool_result once, when the status is completed/failed
 *   usage_update                 → the cost on `final`
 *   the prompt's stopReason      → final (end_turn) or error (see `stopReasonError`)
 *
 * Every other update (plans, commands, modes, session info, user chunks) falls
 * through quietly. Invariant: after `finishAcp` the state is done and no update is
 * mapped any more; exactly one terminal body has been emitted.
 */
import type { SessionUpdate, StopReason } from "@agentclientprotocol/sdk";
import { UNSTAMPED, type ReplyBody } from "../codec/envelope.js";
import type { ErrorCode, Usage } from "../codec/reply.js";

interface ToolTrack {
  tool: string;
  input: unknown;
  called: boolean;
  resulted: boolean;
}

export interface AcpTurnState {
  /** The answer so far: the concatenation of every `delta` emitted (what `final.content` is). */
  text: string;
  readonly tools: Map<string, ToolTrack>;
  /** The agent's cost, from its latest `usage_update` that carried one. */
  cost: number | undefined;
  /** A terminal body has been emitted. */
  done: boolean;
  /** Updates seen (for logs). */
  updates: number;
  /** A permission request of the turn was answered with a reject option. */
  rejected: boolean;
}

export function createAcpTurnState(): AcpTurnState {
  return { text: "", tools: new Map(), cost: undefined, done: false, updates: 0, rejected: false };
}

type ToolUpdate = Extract<SessionUpdate, { sessionUpdate: "tool_call" | "tool_call_update" }>;

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === "object" && Object.keys(v).length === 0);
}

/** The tool's name as the agent knows it: `name`, Claude Code's `_meta.claudeCode.toolName`, else its kind, else its title. */
function toolName(u: ToolUpdate, known: string | undefined): string {
  const meta = (u._meta as { claudeCode?: { toolName?: unknown } } | null | undefined)?.claudeCode?.toolName;
  if (typeof u.name === "string" && u.name !== "") return u.name;
  if (typeof meta === "string") return meta;
  if (known !== undefined) return known;
  return u.kind ?? u.title ?? "tool";
}

/**
 * A tool's output as text: its text content blocks, else its `rawOutput` — a string,
 * the output field of an object (Codex: `formatted_output`/`aggregated_output`;
 * OpenCode: `output`/`error`), else the object as JSON.
 */
function outputText(u: ToolUpdate): string | undefined {
  const texts = (u.content ?? []).flatMap((c) => (c.type === "content" && c.content.type === "text" ? [c.content.text] : []));
  if (texts.length > 0) return texts.join("\n");
  const raw = u.rawOutput;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === "string") return raw;
  const o = raw as Record<string, unknown>;
  for (const k of ["formatted_output", "aggregated_output", "output", "error"]) if (typeof o[k] === "string") return o[k];
  return JSON.stringify(raw);
}

function callOnce(id: string, t: ToolTrack, out: ReplyBody[]): void {
  if (t.called) return;
  t.called = true;
  out.push({ kind: "tool_call", ...UNSTAMPED, call_id: id, tool: t.tool, input: t.input ?? {} });
}

function onTool(u: ToolUpdate, state: AcpTurnState, out: ReplyBody[]): void {
  const id = u.toolCallId;
  let t = state.tools.get(id);
  if (t === undefined) {
    t = { tool: toolName(u, undefined), input: undefined, called: false, resulted: false };
    state.tools.set(id, t);
  } else if (!t.called) {
    t.tool = toolName(u, t.tool);
  }
  if (!isEmpty(u.rawInput)) t.input = u.rawInput;
  // A pending call's input may still be streaming (Claude Code: `rawInput: {}`; OpenCode: only its
  // `cwd`): the call is told once it runs, or once an update without a status brings its input.
  const status = u.status ?? undefined;
  if (!t.called && ((status !== undefined && status !== "pending") || (status === undefined && !isEmpty(u.rawInput)))) callOnce(id, t, out);
  if (t.resulted || (u.status !== "completed" && u.status !== "failed")) return;
  callOnce(id, t, out);
  t.resulted = true;
  const text = outputText(u);
  out.push({
    kind: "tool_result",
    ...UNSTAMPED,
    call_id: id,
    tool: t.tool,
    status: u.status === "completed" ? "completed" : "error",
    ...(u.status === "completed" ? (text !== undefined ? { output: text } : {}) : { error: text ?? "the tool failed" }),
    ...(typeof u.title === "string" && u.title !== "" ? { title: u.title } : {}),
  });
}

/** Map one `session/update` of the turn's session. */
export function mapAcpUpdate(update: SessionUpdate, state: AcpTurnState, out: ReplyBody[]): void {
  if (state.done) return;
  state.updates++;
  switch (update.sessionUpdate) {
    case "agent_message_chunk":
    case "agent_thought_chunk": {
      if (update.content.type !== "text" || update.content.text === "") return;
      const part_id = update.messageId ?? (update.sessionUpdate === "agent_message_chunk" ? "message" : "thought");
      if (update.sessionUpdate === "agent_message_chunk") {
        state.text += update.content.text;
        out.push({ kind: "delta", ...UNSTAMPED, content: update.content.text, part_id });
      } else {
        out.push({ kind: "reasoning", ...UNSTAMPED, content: update.content.text, part_id });
      }
      return;
    }
    case "tool_call":
    case "tool_call_update":
      onTool(update, state, out);
      return;
    case "usage_update":
      if (update.cost !== undefined && update.cost !== null) state.cost = update.cost.amount;
      return;
    default:
      return;
  }
}

/** The `usage` a prompt response carries (an unstable field all three agents send, when they send it). */
export interface AcpUsage {
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  readonly thoughtTokens?: number;
  readonly cachedReadTokens?: number;
  readonly cachedWriteTokens?: number;
}

function toUsage(u: AcpUsage | undefined): Usage | undefined {
  if (u === undefined || (u.inputTokens === undefined && u.outputTokens === undefined)) return undefined;
  return {
    input: u.inputTokens ?? 0,
    output: u.outputTokens ?? 0,
    reasoning: u.thoughtTokens ?? 0,
    cache_read: u.cachedReadTokens ?? 0,
    cache_write: u.cachedWriteTokens ?? 0,
  };
}

/** A stop reason that is not a finished answer: the error it ends the turn with. */
export function stopReasonError(reason: StopReason | string): { code: ErrorCode; message: string } | undefined {
  switch (reason) {
    case "end_turn":
      return undefined;
    case "cancelled":
      return { code: "aborted", message: "the agent cancelled the turn (stopReason cancelled)" };
    case "max_tokens":
      return { code: "upstream", message: "the model stopped at its output token limit (stopReason max_tokens): the answer is cut" };
    case "refusal":
      return { code: "upstream", message: "the model refused to answer (stopReason refusal)" };
    case "max_turn_requests":
      return { code: "server", message: "the agent stopped at its limit of model requests for one turn (stopReason max_turn_requests)" };
    default:
      return { code: "protocol", message: `the agent ended the turn with an unknown stopReason ${JSON.stringify(reason)}` };
  }
}

export type AcpOutcome =
  | { readonly stopReason: StopReason | string; readonly usage?: AcpUsage }
  | { readonly error: { readonly code: ErrorCode; readonly message: string } };

/** End the turn: exactly one terminal body (none if it already ended). */
export function finishAcp(state: AcpTurnState, outcome: AcpOutcome, out: ReplyBody[]): void {
  if (state.done) return;
  state.done = true;
  // An agent that cancels its own turn when a permission is rejected (Codex does) did not fail: the host said no.
  const refused = "stopReason" in outcome && outcome.stopReason === "cancelled" && state.rejected;
  const err =
    "error" in outcome
      ? outcome.error
      : refused
        ? { code: "permission" as const, message: "the agent ended the turn when its permission request was rejected (stopReason cancelled)" }
        : stopReasonError(outcome.stopReason);
  if (err !== undefined) {
    out.push({ kind: "error", ...UNSTAMPED, error: err.message, code: err.code });
    return;
  }
  const usage = "usage" in outcome ? toUsage(outcome.usage) : undefined;
  out.push({
    kind: "final",
    ...UNSTAMPED,
    content: state.text,
    ...(usage !== undefined ? { usage } : {}),
    ...(state.cost !== undefined ? { cost: state.cost } : {}),
  });
}

/** The JSON-RPC error of a request: its `message` and, when given, `data` (Codex puts the provider's words in `data.message`). */
export interface RpcError {
  readonly code?: number;
  readonly message?: string;
  readonly data?: unknown;
}

/**
 * A JSON-RPC error of `session/prompt` as the turn's outcome: the provider's failure
 * (`upstream`) when the agent's words say so, else the agent's own (`server`).
 */
export function promptErrorOutcome(err: RpcError): AcpOutcome {
  const data = err.data as { message?: unknown } | string | undefined;
  const detail = typeof data === "string" ? data : typeof data?.message === "string" ? data.message : undefined;
  const words = [err.message, detail].filter((w) => w !== undefined && w !== "").join(": ") || "no message";
  const provider = /\b(40[13]|429|5\d\d)\b|api[ _-]?key|authenticat|unauthori[sz]ed|overloaded|rate.?limit|quota|provider/i.test(words);
  return { error: { code: provider ? "upstream" : "server", message: `the agent failed the prompt: ${words}` } };
}

/** `session/prompt`'s answer as the turn's outcome (`usage` is an unstable field; agents that send it get it on `final`). */
export function promptOutcome(resp: { readonly stopReason: StopReason | string; readonly usage?: unknown }): AcpOutcome {
  return resp.usage !== undefined && resp.usage !== null ? { stopReason: resp.stopReason, usage: resp.usage as AcpUsage } : { stopReason: resp.stopReason };
}
