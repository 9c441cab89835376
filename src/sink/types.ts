/**
 * Where replies go. A sink is a plain callback, or an object with `deliver` (and
 * optionally `flush`/`close`). The adapter calls it once per reply, in `seq`
 * order per turn, and waits for each call before the next of the same turn; a
 * sink that throws or rejects is logged and counted, never breaks the turn.
 */
import type { Reply } from "../codec/reply.js";

export type SinkCallback = (reply: Reply) => void | Promise<void>;

export interface SinkObject {
  deliver(reply: Reply): void | Promise<void>;
  /** Resolves when everything delivered so far has reached its destination. */
  flush?(): Promise<void>;
  close?(): Promise<void>;
}

export type Sink = SinkCallback | SinkObject;

export function toSinkObject(sink: Sink): SinkObject {
  if (typeof sink === "function") return { deliver: sink };
  if (typeof sink === "object" && sink !== null && typeof sink.deliver === "function") return sink;
  throw new TypeError(`sink must be a function (reply) => void or an object with deliver(reply), got ${sink === null ? "null" : typeof sink}`);
}
