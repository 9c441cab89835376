/**
 * The zod schemas of the OpenCode events the bridge reads, lenient at the boundary.
 *
 * Schemas name only the fields the bridge reads; unknown fields pass through
 * unread and unknown event types are not validated at all. Shapes are those
 * seen from real servers (1.2.27, 1.15.13, 1.18.33; see test/fixtures): older
 * servers omit the top-level `sessionID` on some events, so it is optional
 * everywhere (src/codec/session.ts finds the session wherever it is).
 */
import { z } from "zod";

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
  /** 1.18: a `task` tool names its subagent's session here (`sessionId`). */
  metadata: z.unknown().optional(),
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

export const PartUpdatedEnvelope = z.object({
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

/**
 * Control events the adapter acts on (it never turns them into replies). Shapes
 * as OpenCode 1.18.33 sends them (test/fixtures/1.18.33/permission.sse, its
 * OpenAPI); `permission.updated` is the pre-1.15 name, read with the same fields
 * (missing ones default). Request props stay loose: the whole request is handed
 * to the host's permission callback as `raw`.
 */
const PermissionAskedProps = z
  .object({
    id,
    sessionID: id.optional(),
    permission: z.string().optional(),
    patterns: z.array(z.string()).optional(),
    tool: z.object({ messageID: id, callID: id }).optional(),
  })
  .loose();

/** `permission.replied`, `question.replied`, `question.rejected`: the request is settled. */
const RequestSettledProps = z.object({
  sessionID: id.optional(),
  requestID: id.optional(),
  /** Read when `requestID` is absent (the bridge has always accepted either). */
  id: id.optional(),
});

/** `server.connected` (every stream starts with it), `server.instance.disposed` (this stream is finished). */
const ServerEventProps = z.object({ directory: z.string().optional() }).loose().optional();

/** 1.15.13 with OPENCODE_EXPERIMENTAL_EVENT_SYSTEM (captured: test/fixtures/1.15.13/*-experimental.sse). */
const NextStepProps = z.object({ sessionID: id });
const NextTextEndedProps = z.object({ sessionID: id, text: z.string() });

/** The event types that are validated, each with the schema of its `properties`; the rest pass unread. */
export const EVENT_SCHEMAS = {
  "message.part.delta": PartDeltaProps,
  "message.part.updated": PartUpdatedProps,
  "message.updated": z.object({
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
      /** Assistant messages: the model and agent that answered (`mode` is the pre-1.x name of agent). */
      providerID: z.string().optional(),
      modelID: z.string().optional(),
      agent: z.string().optional(),
      mode: z.string().optional(),
      /** User messages: the model and agent the prompt asked for. */
      model: z.object({ providerID: z.string(), modelID: z.string() }).optional().catch(undefined),
    }),
  }),
  "session.status": z.object({
    sessionID: id.optional(),
    status: z.object({
      type: z.string(),
      attempt: z.number().optional(),
      message: z.string().optional(),
      next: z.number().optional(),
    }),
  }),
  "session.idle": z.object({ sessionID: id.optional() }),
  "session.error": z.object({ sessionID: id.optional(), error: ServerError.optional() }),
  "permission.asked": PermissionAskedProps,
  "permission.updated": PermissionAskedProps,
  "permission.replied": RequestSettledProps,
  /** `questions` stay unread here (the adapter reads them defensively, src/adapter/requests.ts). */
  "question.asked": z
    .object({
      id,
      sessionID: id.optional(),
      questions: z.array(z.unknown()).optional(),
      tool: z.object({ messageID: id, callID: id }).optional(),
    })
    .loose(),
  "question.replied": RequestSettledProps,
  "question.rejected": RequestSettledProps,
  "server.connected": ServerEventProps,
  "server.instance.disposed": ServerEventProps,
  /** 1.15.13 (captured: test/fixtures/1.15.13/*.sse). */
  "session.next.model.switched": z.object({
    sessionID: id,
    model: z.object({ id: z.string(), providerID: z.string(), variant: z.string().optional() }),
  }),
  "session.next.agent.switched": z.object({ sessionID: id, agent: z.string() }),
  "session.next.step.started": NextStepProps,
  "session.next.step.ended": NextStepProps,
  "session.next.text.ended": NextTextEndedProps,
  "session.next.reasoning.ended": NextTextEndedProps,
  "session.next.tool.called": z.object({ sessionID: id, callID: z.string(), tool: z.string(), input: z.unknown() }),
  "session.next.tool.success": z.object({
    sessionID: id,
    callID: z.string(),
    content: z.array(z.object({ type: z.string(), text: z.string().optional() }).loose()).optional(),
  }),
  "session.next.tool.failed": z.object({
    sessionID: id,
    callID: z.string(),
    error: z.object({ message: z.string().optional() }).loose().optional(),
  }),
} as const;

export type KnownEventType = keyof typeof EVENT_SCHEMAS;

export type KnownEvent = {
  [K in KnownEventType]: { type: K; properties: z.infer<(typeof EVENT_SCHEMAS)[K]> };
}[KnownEventType];
