/**
 * OpenCode's HTTP routes the adapter uses, over undici. Every call passes the
 * project `directory`, carries HTTP Basic auth when a password is configured,
 * has a timeout, and fails with a BridgeError whose code says what went wrong.
 */
import { request, type Dispatcher } from "undici";
import { deadline } from "../util/deadline.js";
import { withoutStack } from "../codec/mappers.js";
import { BridgeError } from "./errors.js";
import type { WirePart } from "./parts.js";

export interface HttpOptions {
  readonly baseUrl: string;
  readonly directory: string;
  readonly username?: string;
  readonly password?: string;
  readonly requestTimeoutMs: number;
  readonly dispatcher?: Dispatcher;
}

/** One message of `GET /session/:id/message`; read through the codec's schemas, not here. */
export interface RecordedMessage {
  info: { id: string } & Record<string, unknown>;
  parts?: unknown[];
}

export interface PromptBody {
  /** The turn's user message id (src/adapter/message-id.ts). */
  messageID?: string;
  parts: WirePart[];
  noReply?: boolean;
  tools?: Record<string, boolean>;
  variant?: string;
  model?: { providerID: string; modelID: string };
  agent?: string;
  system?: string;
}

/** The `Authorization` header for OpenCode's HTTP Basic auth, or undefined without a password. */
export function basicAuth(username: string | undefined, password: string | undefined): string | undefined {
  if (password === undefined || password === "") return undefined;
  return `Basic ${Buffer.from(`${username ?? "opencode"}:${password}`).toString("base64")}`;
}

/** The URL without its query (the directory), for messages. */
const shown = (url: string) => url.split("?")[0] ?? url;

/** Connection-level failures (refused, reset, DNS, timeouts) as a BridgeError. */
export function transportError(err: unknown, url: string): BridgeError {
  if (err instanceof BridgeError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  if (e.name === "TimeoutError" || e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT") {
    return new BridgeError("timeout", `OpenCode did not answer ${shown(url)} in time`, { url, cause: err });
  }
  const what = e.code ?? e.name ?? "error";
  return new BridgeError("transport", `cannot reach OpenCode at ${shown(url)}: ${what}${e.message ? ` (${e.message})` : ""}`, {
    url,
    cause: err,
  });
}

export class OpencodeHttp {
  readonly auth: string | undefined;
  /**
   * The server's clock minus ours, as far as its `Date` headers tell: the largest
   * (serverDate − local receipt time) seen. `Date` is floored to the second, so this
   * never puts the server's clock ahead of where it is (at most ~1 s behind). Undefined before any.
   */
  serverClockOffsetMs: number | undefined;

  constructor(private readonly opts: HttpOptions) {
    this.auth = basicAuth(opts.username, opts.password);
  }

  url(path: string, query: Record<string, string | number | undefined> = {}): string {
    const u = new URL(path, `${this.opts.baseUrl}/`);
    u.searchParams.set("directory", this.opts.directory);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { accept: "application/json", ...extra };
    if (this.auth) h.authorization = this.auth;
    return h;
  }

  /** One JSON request. Resolves with the decoded body (undefined for an empty one). */
  async call(method: "GET" | "POST" | "DELETE", path: string, opts: { body?: unknown; query?: Record<string, string | number | undefined>; signal?: AbortSignal; okStatuses?: number[] } = {}): Promise<{ status: number; body: unknown }> {
    const url = this.url(path, opts.query);
    // Held strongly until the request and its body settle (see util/deadline.ts: AbortSignal.any can lose a timeout to GC).
    const limit = deadline(this.opts.requestTimeoutMs, opts.signal);
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      try {
        res = await request(url, {
          method,
          headers: this.headers(opts.body === undefined ? {} : { "content-type": "application/json" }),
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: limit.signal,
          dispatcher: this.opts.dispatcher,
        });
        text = await res.body.text();
      } catch (err) {
        throw transportError(err, url);
      }
    } finally {
      limit.clear();
    }
    const status = res.statusCode;
    const date = res.headers.date;
    if (typeof date === "string") {
      const server = Date.parse(date);
      if (!Number.isNaN(server)) {
        const offset = server - Date.now();
        if (this.serverClockOffsetMs === undefined || offset > this.serverClockOffsetMs) this.serverClockOffsetMs = offset;
      }
    }
    let body: unknown = undefined;
    if (text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (status === 401 || status === 403) {
      throw new BridgeError(
        "auth",
        `OpenCode refused the credentials (HTTP ${status} for ${method} ${path}): ${
          this.auth ? "check the password (OPENCODE_SERVER_PASSWORD) and username" : "the server needs a password: set OPENCODE_SERVER_PASSWORD"
        }`,
        { status, url },
      );
    }
    if ((status < 200 || status >= 300) && !(opts.okStatuses ?? []).includes(status)) {
      throw new BridgeError(status === 404 ? "not_found" : "server", `OpenCode answered HTTP ${status} to ${method} ${path}: ${summarize(body)}`, {
        status,
        url,
      });
    }
    return { status, body };
  }

  async health(): Promise<{ healthy: boolean; version: string }> {
    const { body } = await this.call("GET", "/global/health");
    const b = body as { healthy?: unknown; version?: unknown } | undefined;
    if (typeof b !== "object" || b === null || typeof b.version !== "string") {
      throw new BridgeError("protocol", `/global/health did not answer {healthy, version}: ${summarize(body)}`);
    }
    return { healthy: b.healthy === true, version: b.version };
  }

  /** `POST /session`; `body` may carry `title`, `parentID`, `permission` rules (all 1.2+). */
  async createSession(signal?: AbortSignal, create: Record<string, unknown> = {}): Promise<string> {
    const { body } = await this.call("POST", "/session", { body: create, signal });
    const id = (body as { id?: unknown } | undefined)?.id;
    if (typeof id !== "string") throw new BridgeError("protocol", `POST /session answered no session id: ${summarize(body)}`);
    return id;
  }

  /** Does the session exist? (`GET /session/:id`: 404 is no.) */
  async sessionExists(sessionId: string, signal?: AbortSignal): Promise<boolean> {
    const r = await this.call("GET", `/session/${encodeURIComponent(sessionId)}`, { signal, okStatuses: [404] });
    return r.status !== 404;
  }

  /** `DELETE /session/:id`: true when it was deleted, false when it did not exist. */
  async deleteSession(sessionId: string): Promise<boolean> {
    const r = await this.call("DELETE", `/session/${encodeURIComponent(sessionId)}`, { okStatuses: [404] });
    return r.status !== 404;
  }

  /** The server's record of the session's most recent messages, oldest first: [{info, parts}]. */
  async sessionMessages(sessionId: string, limit: number, signal?: AbortSignal): Promise<RecordedMessage[]> {
    const { body } = await this.call("GET", `/session/${encodeURIComponent(sessionId)}/message`, {
      query: { limit },
      signal,
    });
    if (!Array.isArray(body)) throw new BridgeError("protocol", `GET /session/${sessionId}/message did not answer a list`);
    return body.filter(
      (m: unknown): m is RecordedMessage =>
        typeof m === "object" && m !== null && typeof (m as { info?: { id?: unknown } }).info?.id === "string",
    );
  }

  /** Ids of the session's most recent messages (to tell a new prompt from republished old ones). */
  async recentMessageIds(sessionId: string, limit: number, signal?: AbortSignal): Promise<string[]> {
    return (await this.sessionMessages(sessionId, limit, signal)).map((m) => m.info.id);
  }

  async promptAsync(sessionId: string, body: PromptBody, signal?: AbortSignal): Promise<void> {
    await this.call("POST", `/session/${encodeURIComponent(sessionId)}/prompt_async`, { body, signal });
  }

  async abort(sessionId: string): Promise<void> {
    await this.call("POST", `/session/${encodeURIComponent(sessionId)}/abort`, { body: {} });
  }

  /** Status of every busy session of the directory (idle ones are absent). */
  async sessionStatus(): Promise<Record<string, { type: string }>> {
    const { body } = await this.call("GET", "/session/status");
    return (typeof body === "object" && body !== null ? body : {}) as Record<string, { type: string }>;
  }

  /**
   * Answer a permission request (a message goes to the model with a rejection);
   * falls back to the pre-1.15 route, which takes no message, when the new one is
   * missing. Resolves false when the server no longer knows the request (answered elsewhere).
   */
  async replyPermission(sessionId: string, requestId: string, reply: "once" | "always" | "reject", message?: string): Promise<boolean> {
    const r = await this.call("POST", `/permission/${encodeURIComponent(requestId)}/reply`, {
      body: message === undefined ? { reply } : { reply, message },
      okStatuses: [404],
    });
    if (r.status !== 404) return true;
    if (isNotFound(r.body)) return false;
    await this.call(
      "POST",
      `/session/${encodeURIComponent(sessionId)}/permissions/${encodeURIComponent(requestId)}`,
      { body: { response: reply } },
    );
    return true;
  }

  /** Answer a question: one array of chosen labels per question. False when the server no longer knows it. */
  async replyQuestion(requestId: string, answers: readonly (readonly string[])[]): Promise<boolean> {
    const r = await this.call("POST", `/question/${encodeURIComponent(requestId)}/reply`, { body: { answers }, okStatuses: [404] });
    return r.status !== 404;
  }

  /** Dismiss a question. False when the server no longer knows it. */
  async rejectQuestion(requestId: string): Promise<boolean> {
    const r = await this.call("POST", `/question/${encodeURIComponent(requestId)}/reject`, { body: {}, okStatuses: [404] });
    return r.status !== 404;
  }
}

/** 1.15+ answers a request it no longer holds with 404 `PermissionNotFoundError`/`QuestionNotFoundError` (docs/dialects.md). */
function isNotFound(body: unknown): boolean {
  const tag = (body as { _tag?: unknown; name?: unknown } | undefined)?._tag ?? (body as { name?: unknown } | undefined)?.name;
  return typeof tag === "string" && tag.endsWith("NotFoundError");
}

/** An answer body for a message: OpenCode's own `data.message` when it has one (without stack frames), else the body. */
function summarize(body: unknown): string {
  if (body === undefined) return "(empty body)";
  const b = body as { name?: unknown; _tag?: unknown; message?: unknown; data?: { message?: unknown } } | null;
  const words = typeof b === "object" && b !== null ? (typeof b.data?.message === "string" ? b.data.message : b.message) : undefined;
  const name = typeof b === "object" && b !== null ? (b.name ?? b._tag) : undefined;
  const s =
    typeof words === "string"
      ? `${typeof name === "string" ? `${name}: ` : ""}${withoutStack(words)}`
      : typeof body === "string"
        ? body
        : JSON.stringify(body);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}
