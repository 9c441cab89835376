/**
 * What a settled turn reports to the caller of `prompt`: read from delivery,
 * once every reply has reached the sink, so the status is the terminal reply
 * the sink actually got.
 */
import type { ErrorReply, FinalReply } from "../codec/reply.js";
import type { Delivery } from "./delivery.js";

export interface TurnResult {
  readonly traceId: string;
  readonly sessionId: string;
  readonly status: "final" | "error";
  readonly final?: FinalReply;
  readonly error?: ErrorReply;
  /** How many replies the turn produced (all delivered to the sink before `prompt` resolved). */
  readonly replies: number;
  /** Sink calls that threw or rejected. */
  readonly sinkFailures: number;
}

/** The result of a turn whose replies have all been delivered. */
export function turnResult(
  traceId: string,
  sessionId: string,
  delivery: Pick<Delivery, "terminal" | "count" | "sinkFailures">,
): TurnResult {
  const last = delivery.terminal;
  return {
    traceId,
    sessionId,
    status: last?.kind === "final" ? "final" : "error",
    final: last?.kind === "final" ? last : undefined,
    error: last?.kind === "error" ? last : undefined,
    replies: delivery.count,
    sinkFailures: delivery.sinkFailures,
  };
}
