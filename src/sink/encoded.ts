/**
 * A reply's JSON, byte for byte `JSON.stringify(reply)`, for everything that
 * sends or stores it: the daemon's journal line, the turn's record (its byte
 * bound and every SSE subscriber's frame), the webhook's body, replay's output.
 *
 * `delta` and `reasoning` replies (nearly all of a long turn) are written by hand:
 * the codec makes them from one literal (`emitText` in src/codec/text.ts, the ACP
 * codec likewise) with the keys in this order and stamps them in place
 * (src/codec/envelope.ts); strings go through `JSON.stringify` (the same escaping),
 * and the trace, session and part of the stream are encoded once rather than per
 * reply. test/encoded.test.ts holds every captured fixture's replies to
 * `JSON.stringify`.
 *
 * The daemon asks for one reply's JSON twice in a row (journal, then the turn's
 * record): the last text reply's JSON is kept for that (only a text reply's: a
 * `final` holds the whole answer, which must not outlive its turn here). Replies are immutable once
 * delivered (the reply contract), so a later call (the webhook's) encodes the same.
 * A cache per reply (a WeakMap, before) cost more than the encoding it saved.
 */
import type { Reply } from "../codec/reply.js";

let last: Reply | undefined;
let lastJson = "";
let trace = "";
let traceJson = '""';
let session = "";
let sessionJson = '""';
let part = "";
let partJson = '""';

export function replyJson(r: Reply): string {
  if (r.kind !== "delta" && r.kind !== "reasoning") return JSON.stringify(r);
  if (r !== last) {
    if (r.trace_id !== trace) {
      trace = r.trace_id;
      traceJson = JSON.stringify(trace);
    }
    if (r.session_id !== session) {
      session = r.session_id;
      sessionJson = JSON.stringify(session);
    }
    if (r.part_id !== part) {
      part = r.part_id;
      partJson = JSON.stringify(part);
    }
    lastJson = `{"kind":"${r.kind}","trace_id":${traceJson},"session_id":${sessionJson},"seq":${r.seq},"content":${JSON.stringify(r.content)},"part_id":${partJson}}`;
    last = r;
  }
  return lastJson;
}
