/**
 * An ACP `session/request_permission` as the bridge's `BridgeRequest` (the request
 * hooks, the daemon's HTTP routes, the console and the terminal already answer),
 * and an answer as the option it selects. Pure.
 */
import type { PermissionOption, RequestPermissionRequest } from "@agentclientprotocol/sdk";
import type { BridgeRequest, PermissionReply } from "../codec/requests.js";

/** OpenCode's permission names for ACP tool kinds, so hosts see one vocabulary. */
const PERMISSION_OF_KIND: Readonly<Record<string, string>> = {
  execute: "bash",
  edit: "edit",
  delete: "edit",
  move: "edit",
  read: "read",
  search: "grep",
  fetch: "webfetch",
};

/** The command of an execute tool: Claude Code's `command` string, or Codex's argv (`["/bin/bash","-lc",cmd]`). */
function commandOf(raw: unknown): string | undefined {
  const c = (raw as { command?: unknown } | null | undefined)?.command;
  if (typeof c === "string") return c;
  if (Array.isArray(c) && c.every((x) => typeof x === "string")) {
    return c.length === 3 && /(^|\/)(ba)?sh$/.test(c[0] as string) && c[1] === "-lc" ? (c[2] as string) : c.join(" ");
  }
  return undefined;
}

/** The ACP permission request as the bridge's request (what hooks, the daemon and the console already answer). */
export function toBridgeRequest(id: string, params: RequestPermissionRequest, ids: { traceId: string; sessionId: string }): BridgeRequest {
  const call = params.toolCall;
  const command = commandOf(call.rawInput);
  const paths = (call.locations ?? []).map((l) => l.path);
  const patterns = command !== undefined ? [command] : paths;
  const always = params.options.some((o) => o.kind === "allow_always") ? patterns : [];
  return {
    kind: "permission",
    request_id: id,
    trace_id: ids.traceId,
    session_id: ids.sessionId,
    tool: { message_id: "", call_id: call.toolCallId },
    permission: PERMISSION_OF_KIND[call.kind ?? ""] ?? (call.name ?? call.kind ?? "tool").toLowerCase(),
    patterns,
    always,
    metadata: {
      ...(command !== undefined ? { command } : {}),
      ...(call.title ? { title: call.title } : {}),
      options: params.options.map((o) => ({ id: o.optionId, kind: o.kind, name: o.name })),
    },
  };
}

/** The option an answer selects: the kind asked for, else its sibling (once ↔ always), else none (cancelled). */
export function optionFor(reply: PermissionReply, options: readonly PermissionOption[]): PermissionOption | undefined {
  const order = reply === "once" ? ["allow_once", "allow_always"] : reply === "always" ? ["allow_always", "allow_once"] : ["reject_once", "reject_always"];
  for (const kind of order) {
    const o = options.find((x) => x.kind === kind);
    if (o) return o;
  }
  return undefined;
}
