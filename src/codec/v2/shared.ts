/**
 * What the live translation (translate.ts) and the record conversion (record.ts)
 * must agree on: a block's part id, a tool's output text, and how a 2.x error
 * reads as 1.x's `{name, data}` (which src/codec/mappers.ts turns into a code).
 */

/** The part id of an assistant message's `ordinal`-th block of `kind` (2.x gives blocks no id). */
export function partId(messageID: string, kind: "text" | "reasoning", ordinal: number): string {
  return `${messageID}.${kind}.${ordinal}`;
}

/** A tool's output as 1.x's string: the text of its `content` items, joined. */
export function toolOutput(content: unknown): string | undefined {
  if (!Array.isArray(content)) return undefined;
  let out: string | undefined;
  for (const c of content) {
    const t = (c as { type?: unknown; text?: unknown } | null)?.text;
    if (typeof t === "string") out = (out ?? "") + t;
  }
  return out;
}

/** 2.x's `SessionStructuredError` (its generated types: `{type, message, status?, response?, retryAfterMs?}`). */
export interface V2Error {
  readonly type?: unknown;
  readonly message?: unknown;
  readonly status?: unknown;
}

/**
 * A 2.x execution error as 1.x's error record. A provider's failure (its type
 * names the provider, or it carries an HTTP status) keeps the status and the
 * failing step's provider, so it maps to `upstream` as a 1.x provider error
 * does; any other type is OpenCode's own failure (`server`).
 */
export function v2Error(e: V2Error, providerID: string | undefined): { name: string; data: Record<string, unknown> } {
  const type = typeof e.type === "string" ? e.type : "UnknownError";
  const status = typeof e.status === "number" ? e.status : undefined;
  const provider = /provider|api|auth|rate/i.test(type) || status !== undefined;
  return {
    name: type,
    data: {
      message: typeof e.message === "string" ? e.message : "",
      ...(status !== undefined ? { statusCode: status } : {}),
      ...(provider && providerID !== undefined ? { providerID } : {}),
    },
  };
}
