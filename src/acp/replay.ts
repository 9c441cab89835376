/**
 * Replays a captured ACP conversation (scripts/capture-acp.ts: one
 * `{"dir":"in"|"out","msg":…}` per line) into the replies and requests the live
 * backend makes of it: the `session/update`s of the prompted session through the
 * codec, its permission requests as `BridgeRequest`s, the prompt's answer (or
 * JSON-RPC error) as the terminal reply. Pure: strings in, replies out.
 */
import type { RequestPermissionRequest, SessionNotification } from "@agentclientprotocol/sdk";
import { Envelope, type ReplyBody } from "../codec/envelope.js";
import type { Reply } from "../codec/reply.js";
import type { BridgeRequest } from "../codec/requests.js";
import { createAcpTurnState, finishAcp, mapAcpUpdate, promptErrorOutcome, promptOutcome, type RpcError } from "./codec.js";
import { toBridgeRequest } from "./requests.js";

export interface CapturedMessage {
  readonly dir: "in" | "out";
  readonly msg: { id?: string | number; method?: string; params?: unknown; result?: unknown; error?: RpcError };
}

export interface AcpReplay {
  readonly sessionId: string;
  readonly replies: Reply[];
  readonly requests: BridgeRequest[];
  /** The prompt got no answer in the capture (the agent never ended the turn): no terminal reply. */
  readonly unanswered: boolean;
}

export function parseCapture(text: string): CapturedMessage[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as CapturedMessage);
}

export function replayAcpCapture(messages: readonly CapturedMessage[], traceId = "trace-replay"): AcpReplay {
  const prompt = messages.find((m) => m.dir === "out" && m.msg.method === "session/prompt");
  const sessionId = (prompt?.msg.params as { sessionId?: string } | undefined)?.sessionId ?? "";
  const state = createAcpTurnState();
  const envelope = new Envelope(traceId);
  const replies: Reply[] = [];
  const requests: BridgeRequest[] = [];
  const out: ReplyBody[] = [];
  const flush = () => {
    for (const b of out.splice(0)) replies.push(envelope.stamp(b, sessionId));
  };
  const permissionAsks = new Map<string | number, RequestPermissionRequest>();
  let started = false;
  let unanswered = true;
  for (const m of messages) {
    if (m === prompt) started = true;
    if (!started) continue;
    if (m.dir === "out") {
      // The client's answer to a permission request: a reject option counts for the turn's end.
      const asked = m.msg.id !== undefined ? permissionAsks.get(m.msg.id) : undefined;
      const chosen = (m.msg.result as { outcome?: { optionId?: string } } | undefined)?.outcome?.optionId;
      if (asked && asked.options.find((o) => o.optionId === chosen)?.kind.startsWith("reject")) state.rejected = true;
      continue;
    }
    if (m.msg.method === "session/update") {
      const n = m.msg.params as SessionNotification;
      if (n.sessionId === sessionId) mapAcpUpdate(n.update, state, out);
    } else if (m.msg.method === "session/request_permission") {
      const p = m.msg.params as RequestPermissionRequest;
      if (m.msg.id !== undefined) permissionAsks.set(m.msg.id, p);
      requests.push(toBridgeRequest(`acp_perm_${requests.length + 1}`, p, { traceId, sessionId }));
    } else if (m.msg.method === undefined && m.msg.id === prompt?.msg.id) {
      unanswered = false;
      finishAcp(state, m.msg.error ? promptErrorOutcome(m.msg.error) : promptOutcome(m.msg.result as { stopReason: string }), out);
    }
    flush();
  }
  return { sessionId, replies, requests, unanswered };
}
