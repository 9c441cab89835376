/**
 * What the live translation (translate.ts) and the record conversion (record.ts)
 * must agree on: a block's part id, a tool's output text, and how a 2.x error
 * reads as 1.x's `{name, data}` (which src/codec/mappers.ts turns into a code).
 */
import { isRecord } from "../session.js";

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

/**
 * A 2.x execution error (its `SessionStructuredError`: `{type, message, status?,
 * response?, retryAfterMs?}`; anything else reads as an empty one) as 1.x's error
 * record. A provider's failure (its type names the provider, or it carries an HTTP
 * status) keeps the status and the failing step's provider, so it maps to
 * `upstream` as a 1.x provider error does; any other type is OpenCode's own
 * failure (`server`).
 */
export function v2Error(error: unknown, providerID: string | undefined): { name: string; data: Record<string, unknown> } {
  const e = isRecord(error) ? error : {};
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

/** A 1.x-shaped event payload (`{type, properties}`), what `parseEvent` reads. */
export interface V1Payload {
  readonly type: string;
  readonly properties: Record<string, unknown>;
}

export type Rec = Record<string, unknown>;
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
export const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/**
 * A tool's metadata, with a subagent's session also under 1.x's name: 2.x's
 * `subagent` tool names its child as `metadata.sessionID` (captured), 1.x's
 * `task` as `metadata.sessionId`, which the child-session stage reads.
 */
export function toolMetadata(m: unknown): { metadata?: Rec } {
  if (!isRecord(m)) return {};
  return { metadata: typeof m.sessionID === "string" ? { ...m, sessionId: m.sessionID } : m };
}
