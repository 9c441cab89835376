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

/**
 * A reply whose envelope is not stamped yet: what the codec emits. Its envelope
 * fields are placeholders (`UNSTAMPED`) laid out in their final order, so stamping
 * fills them in place — no second object per reply, and every reply of a kind
 * keeps one shape (the hot path stays monomorphic).
 */
export type ReplyBody = Reply;

/** The placeholder envelope of a body; spread right after `kind`. */
export const UNSTAMPED = { trace_id: "", session_id: "", seq: -1 } as const satisfies Pick<Reply, "trace_id" | "session_id" | "seq">;

export class Envelope {
  /** The seq of the next reply (so also: how many replies were stamped). */
  seq = 0;

  constructor(readonly traceId: string) {}

  /** Stamp `body` in place (it becomes the reply) with this turn's trace, the session and the next seq. */
  stamp(body: ReplyBody, sessionId: string): Reply {
    body.trace_id = this.traceId;
    body.session_id = sessionId;
    body.seq = this.seq++;
    return body;
  }
}
