/**
 * A reply's JSON, encoded once for everything that sends or stores it: in the
 * daemon, the journal line, the turn's record (its byte bound and every SSE
 * subscriber's frame) and the webhook's body are the same text. Replies are
 * immutable once delivered (the reply contract), so the first encoding is the
 * reply; the cache holds it only as long as the reply object lives.
 */
import type { Reply } from "../codec/reply.js";

const encoded = new WeakMap<Reply, string>();

export function replyJson(reply: Reply): string {
  let json = encoded.get(reply);
  if (json === undefined) {
    json = JSON.stringify(reply);
    encoded.set(reply, json);
  }
  return json;
}
