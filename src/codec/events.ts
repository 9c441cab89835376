/**
 * The OpenCode events the codec reads, validated leniently at the boundary.
 *
 * Schemas name only the fields the codec reads; unknown fields pass through
 * unread and unknown event types are not validated at all. Shapes are those
 * seen from real servers (1.2.27, 1.15.13, 1.18.33; see test/fixtures): older
 * servers omit the top-level `sessionID` on some events, so it is optional
 * everywhere and recovered from the part or message where needed.
 */
import { z } from "zod";
import { issueAt } from "../util/zod.js";

const id = z.string();

export const PartDeltaProps = z.object({
  sessionID: id.optional(),
  messageID: id.optional(),
  partID: id,
  field: z.string(),
  delta: z.string(),
});

const TimeSpan = z.object({ start: z.number().optional(), end: z.number().optional() }).optional();

const TextPart = z.object({
  type: z.enum(["text", "reasoning"]),
  id,
  messageID: id,
  sessionID: id.optional(),
  text: z.string().optional(),
  synthetic: z.boolean().optional(),
  ignored: z.boolean().optional(),
  time: TimeSpan,
});

const ToolState = z.object({
  status: z.string(),
  input: z.unknown().optional(),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
  title: z.unknown().optional(),
});

const ToolPart = z.object({
  type: z.literal("tool"),
  id,
  messageID: id,
  sessionID: id.optional(),
  callID: id.optional(),
  tool: z.string(),
  state: ToolState,
});

const OtherPart = z.object({
  type: z.string(),
  id,
  messageID: id,
  sessionID: id.optional(),
});

/**
 * The lenient union, kept as the reference shape. `parseEvent` validates a part
 * with the schema of its own `type` instead (faster, and stricter: the union would
 * let a malformed text or tool part through as an "other" part).
 */
export const PartUpdatedProps = z.object({
  sessionID: id.optional(),
  part: z.union([TextPart, ToolPart, OtherPart]),
  /** Servers before message.part.delta existed put the increment here. */
  delta: z.string().optional(),
});

/** The part schema for a part's `type`. */
export function partSchemaFor(type: unknown): z.ZodType {
  if (type === "text" || type === "reasoning") return TextPart;
  if (type === "tool") return ToolPart;
  return OtherPart;
}

const PartUpdatedEnvelope = z.object({
  sessionID: id.optional(),
  part: z.object({ type: z.string() }).loose(),
  delta: z.string().optional(),
});

const Tokens = z
  .object({
    input: z.number().optional(),
    output: z.number().optional(),
    reasoning: z.number().optional(),
    cache: z.object({ read: z.number().optional(), write: z.number().optional() }).optional(),
  })
  .optional();

export const ServerError = z.object({
  name: z.string().optional(),
  data: z
    .object({
      message: z.unknown().optional(),
      statusCode: z.number().optional(),
      providerID: z.string().optional(),
    })
    .optional(),
});
export type ServerError = z.infer<typeof ServerError>;

export const MessageUpdatedProps = z.object({
  sessionID: id.optional(),
  info: z.object({
    id,
    sessionID: id.optional(),
    role: z.string(),
    parentID: id.optional(),
    error: ServerError.optional().nullable(),
    tokens: Tokens,
    cost: z.number().optional(),
    time: z.object({ created: z.number().optional(), completed: z.number().optional() }).optional(),
  }),
});

export const SessionStatusProps = z.object({
  sessionID: id.optional(),
  status: z.object({
    type: z.string(),
    attempt: z.number().optional(),
    message: z.string().optional(),
    next: z.number().optional(),
  }),
});

export const SessionIdleProps = z.object({ sessionID: id.optional() });

export const SessionErrorProps = z.object({
  sessionID: id.optional(),
  error: ServerError.optional(),
});

/** The event types the codec reads, each with the schema of its `properties`. */
export const EVENT_SCHEMAS = {
  "message.part.delta": PartDeltaProps,
  "message.part.updated": PartUpdatedProps,
  "message.updated": MessageUpdatedProps,
  "session.status": SessionStatusProps,
  "session.idle": SessionIdleProps,
  "session.error": SessionErrorProps,
} as const;

export type KnownEventType = keyof typeof EVENT_SCHEMAS;

export type KnownEvent = {
  [K in KnownEventType]: { type: K; properties: z.infer<(typeof EVENT_SCHEMAS)[K]> };
}[KnownEventType];

export type ParsedEvent =
  | { ok: true; event: KnownEvent }
  | { ok: true; event: undefined; type: string } // a type the codec does not read
  | { ok: false; type: string | undefined; sessionID: string | undefined; reason: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Best-effort session id of any event, for attributing one that failed validation. */
function sniffSession(props: unknown): string | undefined {
  if (!isRecord(props)) return undefined;
  if (typeof props.sessionID === "string") return props.sessionID;
  for (const k of ["part", "info"]) {
    const inner = props[k];
    if (isRecord(inner) && typeof inner.sessionID === "string") return inner.sessionID;
  }
  return undefined;
}

const optString = (v: unknown) => v === undefined || typeof v === "string";

/**
 * The hottest event by far is `message.part.delta` (one per streamed token).
 * This guard accepts exactly what `PartDeltaProps` accepts, without the copy zod
 * makes; anything it does not accept goes through zod for the precise verdict.
 * (test/events.test.ts checks the two agree.)
 */
export function isPartDeltaProps(p: unknown): p is z.infer<typeof PartDeltaProps> {
  if (!isRecord(p)) return false;
  return (
    typeof p.partID === "string" &&
    typeof p.field === "string" &&
    typeof p.delta === "string" &&
    optString(p.sessionID) &&
    optString(p.messageID)
  );
}

function failure(type: string, props: unknown, error: z.ZodError, prefix = "properties"): ParsedEvent {
  const issue = error.issues[0];
  const where = issue ? issueAt(issue, prefix) : error.message;
  return { ok: false, type, sessionID: sniffSession(props), reason: where };
}

/** `message.part.updated`, validated as `PartUpdatedProps` would, choosing the part schema by its type. */
function parsePartUpdated(props: unknown): ParsedEvent {
  const type = "message.part.updated";
  const env = PartUpdatedEnvelope.safeParse(props);
  if (!env.success) return failure(type, props, env.error);
  const part = partSchemaFor(env.data.part.type).safeParse(env.data.part);
  if (!part.success) return failure(type, props, part.error, "properties.part");
  return { ok: true, event: { type, properties: { ...env.data, part: part.data } } as KnownEvent };
}

/** Validate one decoded `/event` payload. Never throws. */
export function parseEvent(raw: unknown): ParsedEvent {
  if (!isRecord(raw) || typeof raw.type !== "string") {
    return { ok: false, type: undefined, sessionID: undefined, reason: "not an object with a string `type`" };
  }
  const type = raw.type;
  if (type === "message.part.delta" && isPartDeltaProps(raw.properties)) {
    return { ok: true, event: raw as KnownEvent };
  }
  if (type === "message.part.updated") return parsePartUpdated(raw.properties);
  const schema = (EVENT_SCHEMAS as Record<string, z.ZodType>)[type];
  if (!schema) return { ok: true, event: undefined, type };
  const parsed = schema.safeParse(raw.properties);
  if (!parsed.success) return failure(type, raw.properties, parsed.error);
  return { ok: true, event: { type, properties: parsed.data } as KnownEvent };
}
