/**
 * OpenCode 2.x (2.1.2) behind the dialect seam: everything under `/api/*`, Basic
 * auth always (user `opencode`), the location named in the body instead of a
 * `?directory=` query, and ONE event stream (`GET /api/event`) for every
 * directory, whose frames the pure 2.x codec turns into the codec's 1.x
 * vocabulary (src/codec/v2). Routes as the live server's `GET /openapi.json`
 * describes them (and test/e2e/v2-routes.e2e.test.ts checks against 2.1.2).
 */
import { createV2Translator, v2FormAnswer, v2RecordToMessages } from "../codec/v2/index.js";
import type { RecordMessage } from "../codec/record.js";
import { readV1Payload } from "./dialect-v1.js";
import { OpencodeDialect, type Dialect, type DialectTarget, type PermissionDecision, type PromptBody, type ServerInfo, type SessionCreate, type StreamReceiver } from "./dialect.js";
import { BridgeError } from "./errors.js";
import { summarize } from "./http.js";
import type { WirePart } from "./parts.js";

const enc = encodeURIComponent;

export class OpencodeV2 extends OpencodeDialect implements Dialect {
  constructor(target: DialectTarget) {
    super(target, false, "/api/session");
  }

  async info(signal?: AbortSignal): Promise<ServerInfo> {
    const { body } = await this.http.call("GET", "/api/info", { signal });
    const b = body as { version?: unknown } | undefined;
    if (typeof b !== "object" || b === null || typeof b.version !== "string") {
      throw new BridgeError("protocol", `/api/info did not answer {version, …}: ${summarize(body)}`);
    }
    return { line: 2, healthy: true, version: b.version };
  }

  openEvents(to: StreamReceiver, signal: AbortSignal): Promise<{ ended: Promise<BridgeError> }> {
    // Stateful per connection: where each session's turn is, each open tool call.
    const translator = createV2Translator();
    return this.readStream("/api/event", to, signal, {
      onEvent: (raw) => {
        to.frame();
        // One stream for every directory: events of sessions nobody here listens to stop at parseEventFor.
        for (const payload of translator.translateRaw(raw)) readV1Payload(payload, to);
      },
    });
  }

  async createSession(opts: SessionCreate = {}, signal?: AbortSignal): Promise<string> {
    const body = {
      location: { directory: this.target.directory },
      ...(opts.title !== undefined ? { title: opts.title } : {}),
      ...(opts.parentID !== undefined ? { parentID: opts.parentID } : {}),
      ...(opts.permission !== undefined
        ? { permissions: opts.permission.map((r) => ({ action: r.permission, resource: r.pattern, effect: r.action })) }
        : {}),
    };
    const r = await this.http.call("POST", "/api/session", { body, signal });
    const id = (r.body as { data?: { id?: unknown } } | undefined)?.data?.id;
    if (typeof id !== "string") throw new BridgeError("protocol", `POST /api/session answered no session id: ${summarize(r.body)}`);
    return id;
  }

  /** `GET /api/session/:id/message` answers newest first, 2.x's own record; the codec gives it 1.x's shape. */
  private async record(sessionId: string, limit: number, signal?: AbortSignal): Promise<unknown> {
    const { body } = await this.http.call("GET", `/api/session/${enc(sessionId)}/message`, { query: { limit }, signal });
    if (!Array.isArray((body as { data?: unknown } | undefined)?.data)) {
      throw new BridgeError("protocol", `GET /api/session/${sessionId}/message did not answer {data: [...]}: ${summarize(body)}`);
    }
    return body;
  }

  async sessionMessages(sessionId: string, limit: number, signal?: AbortSignal): Promise<RecordMessage[]> {
    return v2RecordToMessages(await this.record(sessionId, limit, signal));
  }

  async recentMessageIds(sessionId: string, limit: number, signal?: AbortSignal): Promise<string[]> {
    const { data } = (await this.record(sessionId, limit, signal)) as { data: { id?: unknown }[] };
    return data.map((m) => m.id).filter((id): id is string => typeof id === "string");
  }

  /**
   * `POST /api/session/:id/prompt {id, text, files}`: the bridge's message id is the
   * prompt's `id`, so a retry with it is the same message (2.1.2 answers the stored one).
   * The model and agent are the session's (set before the prompt); 2.x has no
   * per-prompt `system`, `tools` or `noReply`: asked for, the turn is refused, not half-done.
   */
  async prompt(sessionId: string, body: PromptBody, signal?: AbortSignal): Promise<void> {
    const unsupported = (["system", "tools", "noReply"] as const).filter((k) => body[k] !== undefined && body[k] !== false);
    if (unsupported.length > 0) {
      throw new BridgeError("config", `OpenCode 2.x has no per-prompt ${unsupported.join(", ")}: leave ${unsupported.length > 1 ? "them" : "it"} out`);
    }
    const sid = enc(sessionId);
    if (body.model) {
      const model = { id: body.model.modelID, providerID: body.model.providerID, ...(body.variant ? { variant: body.variant } : {}) };
      await this.http.call("POST", `/api/session/${sid}/model`, { body: { model }, signal });
    }
    if (body.agent) await this.http.call("POST", `/api/session/${sid}/agent`, { body: { agent: body.agent }, signal });
    await this.http.call("POST", `/api/session/${sid}/prompt`, { body: promptOf(body.parts, body.messageID), signal });
  }

  async abort(sessionId: string): Promise<void> {
    await this.http.call("POST", `/api/session/${enc(sessionId)}/interrupt`);
  }

  /** `GET /api/session/active`: `{data: {ses_…: {type: "running"}}}`; running is the 1.x vocabulary's busy. */
  async sessionStatus(signal?: AbortSignal): Promise<Record<string, { type: string }>> {
    const { body } = await this.http.call("GET", "/api/session/active", { signal });
    const data = (body as { data?: unknown } | undefined)?.data;
    const out: Record<string, { type: string }> = {};
    if (typeof data === "object" && data !== null) for (const id of Object.keys(data)) out[id] = { type: "busy" };
    return out;
  }

  /** 204 answered; 404 (the request or session is gone) is false. */
  async replyPermission(sessionId: string, requestId: string, decision: PermissionDecision, message?: string): Promise<boolean> {
    const r = await this.http.call("POST", `/api/session/${enc(sessionId)}/permission/${enc(requestId)}/reply`, {
      body: message === undefined ? { decision } : { decision, message },
      okStatuses: [404],
    });
    return r.status !== 404;
  }

  /**
   * A question is a form: its fields are read (`GET …/form/:fid`) and the answers
   * put in its shape by the codec (`v2FormAnswer`: each field's key, options' values).
   * 404 (gone) and 409 (already settled) are false.
   */
  async replyQuestion(sessionId: string, requestId: string, answers: readonly (readonly string[])[]): Promise<boolean> {
    const path = `/api/session/${enc(sessionId)}/form/${enc(requestId)}`;
    const got = await this.http.call("GET", path, { okStatuses: [404] });
    if (got.status === 404) return false;
    const form = (got.body as { data?: { fields?: unknown } } | undefined)?.data;
    if (!Array.isArray(form?.fields)) throw new BridgeError("protocol", `GET ${path} answered no form fields: ${summarize(got.body)}`);
    const r = await this.http.call("POST", `${path}/reply`, { body: v2FormAnswer(form, answers), okStatuses: [404, 409] });
    return r.status !== 404 && r.status !== 409;
  }

  async rejectQuestion(sessionId: string, requestId: string): Promise<boolean> {
    const r = await this.http.call("DELETE", `/api/session/${enc(sessionId)}/form/${enc(requestId)}`, { okStatuses: [404, 409] });
    return r.status !== 404 && r.status !== 409;
  }
}

/** 2.x's prompt body: the text parts joined, files as `{uri, name}` (a `data:` URL is a URI too). */
function promptOf(parts: readonly WirePart[], id: string | undefined): Record<string, unknown> {
  const text = parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("\n\n");
  const files = parts.flatMap((p) => (p.type === "file" ? [{ uri: p.url, ...(p.filename ? { name: p.filename } : {}) }] : []));
  return { ...(id !== undefined ? { id } : {}), text, ...(files.length > 0 ? { files } : {}) };
}
