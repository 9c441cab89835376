/**
 * The reply contract: the small, stable vocabulary opencode-bridge delivers to
 * hosts. Field names are what session recorders consume (`kind`, `trace_id`,
 * `content`, `error`); everything else is snake_case too.
 *
 * Invariants of one turn's replies:
 * - `seq` is 0, 1, 2 … with no gaps;
 * - exactly one terminal reply (`final` or `error`), and it is the last;
 * - `final.content` is the concatenation of the turn's `delta` contents;
 * - `reasoning` text never appears in `delta` or `final`;
 * - one `tool_call` per call id, and at most one `tool_result` per call id, after its `tool_call`.
 */
import { z } from "zod";

export const ERROR_CODES = [
  "upstream", // the model provider failed (HTTP error, bad key, overloaded, context overflow …)
  "server", // OpenCode itself failed (HTTP 5xx, an UnknownError of its own)
  "not_found", // something the turn names does not exist (the session, the project directory)
  "auth", // the OpenCode server refused the bridge's credentials
  "timeout", // a first-event, idle or turn timeout expired
  "aborted", // the turn was aborted (by the host or on the server)
  "permission", // a permission or question request could not be answered
  "transport", // the connection to OpenCode failed or ended before the turn did
  "protocol", // OpenCode sent something the bridge cannot read, and the turn is affected
  "invalid_request", // the host asked wrongly (an empty prompt, a malformed model name, bad options); the message names the field
  "internal", // a bug in the bridge; the message says where
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const base = {
  trace_id: z.string(),
  session_id: z.string(),
  seq: z.number().int().nonnegative(),
};

export const UsageSchema = z.object({
  input: z.number(),
  output: z.number(),
  reasoning: z.number(),
  cache_read: z.number(),
  cache_write: z.number(),
});
export type Usage = z.infer<typeof UsageSchema>;

export const DeltaReplySchema = z.object({ kind: z.literal("delta"), ...base, content: z.string(), part_id: z.string() });
export const ReasoningReplySchema = z.object({
  kind: z.literal("reasoning"),
  ...base,
  content: z.string(),
  part_id: z.string(),
});
export const ToolCallReplySchema = z.object({
  kind: z.literal("tool_call"),
  ...base,
  call_id: z.string(),
  tool: z.string(),
  input: z.unknown(),
});
export const ToolResultReplySchema = z.object({
  kind: z.literal("tool_result"),
  ...base,
  call_id: z.string(),
  tool: z.string(),
  status: z.enum(["completed", "error"]),
  output: z.string().optional(),
  error: z.string().optional(),
  title: z.string().optional(),
});
export const FinalReplySchema = z.object({
  kind: z.literal("final"),
  ...base,
  content: z.string(),
  usage: UsageSchema.optional(),
  cost: z.number().optional(),
  /** The model that answered, "provider/model" (from the answering message, or `session.next.model.switched`). */
  model: z.string().optional(),
  /** The agent that answered. */
  agent: z.string().optional(),
});
export const ErrorReplySchema = z.object({
  kind: z.literal("error"),
  ...base,
  error: z.string(),
  code: z.enum(ERROR_CODES),
});

export const ReplySchema = z.discriminatedUnion("kind", [
  DeltaReplySchema,
  ReasoningReplySchema,
  ToolCallReplySchema,
  ToolResultReplySchema,
  FinalReplySchema,
  ErrorReplySchema,
]);

export type DeltaReply = z.infer<typeof DeltaReplySchema>;
export type ReasoningReply = z.infer<typeof ReasoningReplySchema>;
export type ToolCallReply = z.infer<typeof ToolCallReplySchema>;
export type ToolResultReply = z.infer<typeof ToolResultReplySchema>;
export type FinalReply = z.infer<typeof FinalReplySchema>;
export type ErrorReply = z.infer<typeof ErrorReplySchema>;
export type Reply = z.infer<typeof ReplySchema>;
export type ReplyKind = Reply["kind"];
export type TerminalReply = FinalReply | ErrorReply;

export const REPLY_KINDS: readonly ReplyKind[] = ["delta", "reasoning", "tool_call", "tool_result", "final", "error"];

export function isTerminal(reply: Reply): reply is TerminalReply {
  return reply.kind === "final" || reply.kind === "error";
}

/**
 * Checks one turn's replies against the contract's invariants; returns the
 * violations (empty when the turn is well-formed). Hosts can use it in their own tests.
 */
export function contractViolations(replies: readonly Reply[]): string[] {
  const problems: string[] = [];
  const called = new Set<string>();
  const resulted = new Set<string>();
  let text = "";
  replies.forEach((r, i) => {
    const parsed = ReplySchema.safeParse(r);
    if (!parsed.success) problems.push(`reply ${i} does not match the schema: ${parsed.error.message}`);
    if (r.seq !== i) problems.push(`reply ${i} has seq ${r.seq}`);
    if (i > 0 && (r.trace_id !== replies[0]?.trace_id || r.session_id !== replies[0]?.session_id)) {
      problems.push(`reply ${i} changes trace_id or session_id`);
    }
    switch (r.kind) {
      case "delta":
        text += r.content;
        break;
      case "reasoning":
      case "error":
        break;
      case "tool_call":
        if (called.has(r.call_id)) problems.push(`tool_call ${r.call_id} repeated at ${i}`);
        called.add(r.call_id);
        break;
      case "tool_result":
        if (!called.has(r.call_id)) problems.push(`tool_result ${r.call_id} at ${i} has no tool_call before it`);
        if (resulted.has(r.call_id)) problems.push(`tool_result ${r.call_id} repeated at ${i}`);
        resulted.add(r.call_id);
        break;
      case "final":
        if (r.content !== text) problems.push(`final.content differs from the concatenated deltas`);
        break;
      default: {
        const never: never = r;
        problems.push(`unknown reply ${JSON.stringify(never)}`);
      }
    }
    if (isTerminal(r) && i !== replies.length - 1) problems.push(`terminal ${r.kind} at ${i} is not the last reply`);
  });
  const last = replies[replies.length - 1];
  if (!last || !isTerminal(last)) problems.push("the turn has no terminal reply");
  return problems;
}
