/**
 * The one JSON-over-HTTP client the dialects use (src/adapter/dialect-v1.ts,
 * dialect-v2.ts), over undici. Every call carries HTTP Basic auth when a password
 * is configured (and the project `directory` as a query when the line scopes by
 * it), has a timeout, and fails with a BridgeError whose code says what went
 * wrong. Built in one place: the dialects' base (`OpencodeDialect`, src/adapter/dialect.ts).
 */
import { request, type Dispatcher } from "undici";
import { deadline } from "../util/deadline.js";
import { withoutStack } from "../codec/mappers.js";
import type { DialectTarget } from "./dialect.js";
import { BridgeError } from "./errors.js";

/** The one default for a request to the backend (the adapter's `requestTimeoutMs` default too). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

/** Where the client talks to; `directoryQuery`: add `?directory=` to every URL (1.x scopes each route by it; 2.x names the location in bodies). Default true. */
export type HttpTarget = Omit<DialectTarget, "line" | "maxFrameBytes"> & { readonly directoryQuery?: boolean };

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

  constructor(private readonly opts: HttpTarget) {
    this.auth = basicAuth(opts.username, opts.password);
  }

  /** `path` is absolute (every route starts with `/`), so a trailing slash of `baseUrl` changes nothing. */
  url(path: string, query: Record<string, string | number | undefined> = {}): string {
    const u = new URL(path, `${this.opts.baseUrl}/`);
    if (this.opts.directoryQuery !== false) u.searchParams.set("directory", this.opts.directory);
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
    const limit = deadline(this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, opts.signal);
    let res: Dispatcher.ResponseData;
    let text: string;
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
    } finally {
      limit.clear();
    }
    const status = res.statusCode;
    // NaN without a readable `Date` header.
    const server = typeof res.headers.date === "string" ? Date.parse(res.headers.date) : Number.NaN;
    if (!Number.isNaN(server)) {
      const offset = server - Date.now();
      if (this.serverClockOffsetMs === undefined || offset > this.serverClockOffsetMs) this.serverClockOffsetMs = offset;
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
}

/** 1.15+ answers a request it no longer holds with 404 `PermissionNotFoundError`/`QuestionNotFoundError` (docs/dialects.md). */
export function isNotFound(body: unknown): boolean {
  const tag = (body as { _tag?: unknown; name?: unknown } | undefined)?._tag ?? (body as { name?: unknown } | undefined)?.name;
  return typeof tag === "string" && tag.endsWith("NotFoundError");
}

/** An answer body for a message: OpenCode's own `data.message` when it has one (without stack frames), else the body. */
export function summarize(body: unknown): string {
  if (body === undefined) return "(empty body)";
  // A web page is never quoted: 2.x answers 1.x's routes (and any proxy its own errors) with HTML.
  if (typeof body === "string" && isHtml(body)) return "(an HTML page, not OpenCode's JSON)";
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

/** Does this text look like an HTML page (a web app, a proxy's error page) rather than an API's answer? */
export function isHtml(text: string): boolean {
  return /^\s*<(?:!doctype|html|head|body|\?xml)/i.test(text);
}
