/** Keeps every reply in memory: for tests and for hosts that read a turn after it ends. */
import type { Reply } from "../codec/reply.js";
import type { SinkObject } from "./types.js";

export class MemorySink implements SinkObject {
  readonly replies: Reply[] = [];
  deliver(reply: Reply): void {
    this.replies.push(reply);
  }
  /** Replies of one turn, in order. */
  turn(traceId: string): Reply[] {
    return this.replies.filter((r) => r.trace_id === traceId);
  }
}
