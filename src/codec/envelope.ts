/**
 * The reply envelope: `trace_id`, `session_id` and `seq`.
 *
 * The codec produces reply bodies (what happened); the envelope says whose turn
 * it is and where in the turn. This is the one place a reply is stamped: the
 * codec's public functions stamp with the turn state's envelope as they return,
 * and the adapter's delivery stamps each reply as it hands it to the sink (so
 * `seq` stays gapless whatever the queue merged).
 */
import type { Reply } from "./reply.js";

type Body<R> = R extends Reply ? Omit<R, "trace_id" | "session_id" | "seq"> : never;
/** A reply without its envelope: what the codec emits. */
export type ReplyBody = Body<Reply>;

export class Envelope {
  /** The seq of the next reply (so also: how many replies were stamped). */
  seq = 0;

  constructor(readonly traceId: string) {}

  stamp(body: ReplyBody, sessionId: string): Reply {
    // The hot path: a literal of fixed shape keeps text replies monomorphic.
    if (body.kind === "delta" || body.kind === "reasoning") {
      return { kind: body.kind, trace_id: this.traceId, session_id: sessionId, seq: this.seq++, content: body.content, part_id: body.part_id };
    }
    return Object.assign({ kind: body.kind, trace_id: this.traceId, session_id: sessionId, seq: this.seq++ }, body) as Reply;
  }
}
