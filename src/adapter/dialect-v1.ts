/**
 * OpenCode 1.x (1.2 … 1.19) behind the dialect seam: its routes, each scoped by
 * `?directory=`, and its `/event` stream, whose frames already are the codec's
 * vocabulary (parsed once here: src/codec/events.ts; deltas in their captured
 * form without JSON.parse: src/stream/fast-delta.ts). docs/dialects.md has what
 * each version answers.
 */
import { isParsedEvent, parseEventFor } from "../codec/events.js";
import type { RecordMessage } from "../codec/record.js";
import { isRecord } from "../codec/session.js";
import { OpencodeDialect, type Dialect, type DialectTarget, type PermissionDecision, type PromptBody, type ServerInfo, type SessionCreate, type StreamReceiver } from "./dialect.js";
import { BridgeError } from "./errors.js";
import { isNotFound, summarize } from "./http.js";

const enc = encodeURIComponent;

export class OpencodeV1 extends OpencodeDialect implements Dialect {
  constructor(target: DialectTarget) {
    super(target, true, "/session");
  }

  async info(signal?: AbortSignal): Promise<ServerInfo> {
    const { body } = await this.http.call("GET", "/global/health", { signal });
    const b = body as { healthy?: unknown; version?: unknown } | undefined;
    if (typeof b !== "object" || b === null || typeof b.version !== "string") {
      throw new BridgeError("protocol", `/global/health did not answer {healthy, version}: ${summarize(body)}`);
    }
    return { line: 1, healthy: b.healthy === true, version: b.version };
  }

  openEvents(to: StreamReceiver, signal: AbortSignal): Promise<{ ended: Promise<BridgeError> }> {
    const handlers = {
      onEvent: (payload: unknown) => {
        to.frame();
        // A delta in its captured form, read without JSON.parse: already parsed (a delta announces no child).
        if (isParsedEvent(payload)) to.event(payload);
        else readV1Payload(payload, to);
      },
      // A frame of a session nobody listens to: counted, not parsed (its event would be dropped).
      onSkipped: () => to.frame(),
    };
    // Frames of sessions nobody listens to are not parsed (their events would be dropped: parseEventFor).
    return this.readStream("/event", to, signal, handlers, { fastDelta: true, listening: to.listening });
  }

  /** `POST /session`; `title`, `parentID`, `permission` rules (all 1.2+). */
  async createSession(opts: SessionCreate = {}, signal?: AbortSignal): Promise<string> {
    const { body } = await this.http.call("POST", "/session", { body: opts, signal });
    const id = (body as { id?: unknown } | undefined)?.id;
    if (typeof id !== "string") throw new BridgeError("protocol", `POST /session answered no session id: ${summarize(body)}`);
    return id;
  }

  async sessionMessages(sessionId: string, limit: number, signal?: AbortSignal): Promise<RecordMessage[]> {
    const { body } = await this.http.call("GET", `/session/${enc(sessionId)}/message`, { query: { limit }, signal });
    if (!Array.isArray(body)) throw new BridgeError("protocol", `GET /session/${sessionId}/message did not answer a list`);
    return body.filter((m: unknown): m is RecordMessage => isRecord(m) && isRecord(m.info) && typeof m.info.id === "string");
  }

  async recentMessageIds(sessionId: string, limit: number, signal?: AbortSignal): Promise<string[]> {
    return (await this.sessionMessages(sessionId, limit, signal)).map((m) => m.info.id);
  }

  /** `prompt_async`: answers once the prompt is stored; the same `messageID` again is the same message. */
  async prompt(sessionId: string, body: PromptBody, signal?: AbortSignal): Promise<void> {
    await this.http.call("POST", `/session/${enc(sessionId)}/prompt_async`, { body, signal });
  }

  async abort(sessionId: string): Promise<void> {
    await this.http.call("POST", `/session/${enc(sessionId)}/abort`, { body: {} });
  }

  async sessionStatus(signal?: AbortSignal): Promise<Record<string, { type: string }>> {
    const { body } = await this.http.call("GET", "/session/status", { signal });
    return (typeof body === "object" && body !== null ? body : {}) as Record<string, { type: string }>;
  }

  /**
   * Falls back to the pre-1.15 route, which takes no message, when the new one is
   * missing (a 404 that is not 1.15's `PermissionNotFoundError`).
   */
  async replyPermission(sessionId: string, requestId: string, reply: PermissionDecision, message?: string): Promise<boolean> {
    const r = await this.http.call("POST", `/permission/${enc(requestId)}/reply`, {
      body: message === undefined ? { reply } : { reply, message },
      okStatuses: [404],
    });
    if (r.status !== 404) return true;
    if (isNotFound(r.body)) return false;
    await this.http.call("POST", `/session/${enc(sessionId)}/permissions/${enc(requestId)}`, { body: { response: reply } });
    return true;
  }

  async replyQuestion(_sessionId: string, requestId: string, answers: readonly (readonly string[])[]): Promise<boolean> {
    const r = await this.http.call("POST", `/question/${enc(requestId)}/reply`, { body: { answers }, okStatuses: [404] });
    return r.status !== 404;
  }

  async rejectQuestion(_sessionId: string, requestId: string): Promise<boolean> {
    const r = await this.http.call("POST", `/question/${enc(requestId)}/reject`, { body: {}, okStatuses: [404] });
    return r.status !== 404;
  }
}

/**
 * One 1.x event payload (a 1.x frame's, or what the 2.x translator made of a 2.x
 * frame) to the receiver: a child session it announces, then the event parsed
 * once — unless it is of a session nobody listens to (not validated: nobody would read it).
 */
export function readV1Payload(payload: unknown, to: StreamReceiver): void {
  const child = childOf(payload);
  if (child !== undefined) to.childSession(child.child, child.parent);
  const evt = parseEventFor(payload, to.listening);
  if (evt !== undefined) to.event(evt);
}

/** `session.created` / `session.updated` of a session with a `parentID`, read before validation (cheap; rare frames). */
export function childOf(payload: unknown): { child: string; parent: string } | undefined {
  const p = payload as { type?: unknown; properties?: { info?: { id?: unknown; parentID?: unknown } } } | null;
  if (p?.type !== "session.created" && p?.type !== "session.updated") return undefined;
  const info = p.properties?.info;
  return typeof info?.id === "string" && typeof info.parentID === "string" ? { child: info.id, parent: info.parentID } : undefined;
}
