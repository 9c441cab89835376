/**
 * The daemon's HTTP plumbing: one error type for every answer that is not a
 * success, JSON bodies shaped `{error, details?}`, and a request-body reader
 * with a size cap that checks the body against its schema.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import { issueList } from "../util/zod.js";
import { errorMessage } from "../util/errors.js";

/** An answer other than success: `status`, a sentence for people, and details for programs. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, err.details === undefined ? { error: err.message } : { error: err.message, details: err.details }, err.headers);
}

/** Whether a Content-Type header names JSON (`application/json`, parameters allowed). */
export function isJsonContentType(value: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(value?.trim() ?? "");
}

/**
 * Refuses a POST whose body is not declared JSON (415). Browsers send
 * `text/plain`, form and multipart bodies cross-origin without asking first (a
 * CORS "simple request"); a JSON body needs their preflight, which the daemon
 * answers only for allowed origins. `optional`: a request without any body may omit it.
 */
export function requireJsonContentType(req: IncomingMessage, optional = false): void {
  const type = req.headers["content-type"];
  const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  if (type === undefined && optional && !hasBody) return;
  if (!isJsonContentType(type)) {
    throw new HttpError(415, `the body must be application/json, got ${type === undefined ? "no content-type" : JSON.stringify(type)}`, {
      expected: "application/json",
      got: type ?? null,
    });
  }
}

/**
 * Reads a JSON body of at most `maxBytes` and checks it against `schema`: 413 beyond
 * the size, 400 when it is not JSON or not valid (`invalid <what>:` and every zod
 * issue as `{path, message}`, zod's messages saying what was expected and received).
 */
export async function readBody<S extends z.ZodType>(req: IncomingMessage, maxBytes: number, schema: S, what: string): Promise<z.output<S>> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, `the body is larger than ${maxBytes} bytes`, { limit_bytes: maxBytes, got_bytes: declared }, { connection: "close" });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes) {
      throw new HttpError(413, `the body is larger than ${maxBytes} bytes`, { limit_bytes: maxBytes }, { connection: "close" });
    }
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "the body is empty: expected a JSON object");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "the body is not valid JSON", { reason: errorMessage(err) });
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = issueList(parsed.error, "(body)");
  throw new HttpError(400, `invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
}
