/**
 * Tool tracks: a tool part's status updates become one `tool_call` (once its
 * input is complete) and at most one `tool_result` (once it completed or failed).
 */
import { UNSTAMPED, type ReplyBody } from "./envelope.js";
import type { TurnState } from "./state.js";

/** A tool part as validated (src/codec/schemas.ts `ToolPart`). */
export interface ToolPartView {
  readonly id: string;
  readonly callID?: string;
  readonly tool: string;
  readonly state: { status: string; input?: unknown; output?: unknown; error?: unknown; title?: unknown };
}

export function onToolPart(state: TurnState, out: ReplyBody[], p: ToolPartView): void {
  const callId = p.callID ?? p.id;
  const tools = (state.tools ??= new Map());
  let tr = tools.get(callId);
  if (!tr) {
    tr = { tool: p.tool, called: false, resulted: false };
    tools.set(callId, tr);
  }
  const status = p.state.status;
  // Input is complete from `running` on; `pending` carries a partial or empty one.
  if (!tr.called && (status === "running" || status === "completed" || status === "error")) {
    tr.called = true;
    out.push({ kind: "tool_call", ...UNSTAMPED, call_id: callId, tool: p.tool, input: p.state.input ?? {} });
  }
  if (!tr.resulted && (status === "completed" || status === "error")) {
    tr.resulted = true;
    const r: ReplyBody = { kind: "tool_result", ...UNSTAMPED, call_id: callId, tool: p.tool, status };
    if (status === "completed" && p.state.output !== undefined) r.output = stringify(p.state.output);
    if (status === "error") r.error = stringify(p.state.error ?? "tool failed");
    if (typeof p.state.title === "string" && p.state.title !== "") r.title = p.state.title;
    out.push(r);
  }
}

/** Every call still open gets an `error` result (the turn ended first). */
export function closeOpenTools(state: TurnState, out: ReplyBody[], error: string): void {
  if (state.tools === undefined) return;
  for (const [callId, tr] of state.tools) {
    if (tr.called && !tr.resulted) {
      tr.resulted = true;
      out.push({ kind: "tool_result", ...UNSTAMPED, call_id: callId, tool: tr.tool, status: "error", error });
    }
  }
}

function stringify(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}
