/**
 * Permission requests and questions in the daemon: the route that answers one
 * (`POST /v1/turns/:trace_id/requests/:request_id`). Under `ask` a request waits
 * for it until the answer deadline (`--answer-timeout`), subscriber or not.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DaemonCore } from "./core.js";
import { HttpError, readBody, requireJsonContentType, sendJson } from "./http.js";
import { AnswerSchema } from "./options.js";

export async function postAnswer(core: DaemonCore, req: IncomingMessage, res: ServerResponse, [traceId, requestId]: readonly string[]): Promise<void> {
  requireJsonContentType(req);
  const record = core.store.get(traceId ?? "");
  if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId });
  const answer = await readBody(req, core.options.maxBodyBytes, AnswerSchema, "answer");
  const id = requestId ?? "";
  if (!record.pending.has(id)) {
    if (record.requestIds.has(id)) throw new HttpError(409, `request ${id} has already been answered`, { trace_id: record.traceId, request_id: id });
    throw new HttpError(404, `turn ${record.traceId} has no request ${id}`, { trace_id: record.traceId, request_id: id });
  }
  const answerer = record.answerer;
  if (answerer === undefined) throw new HttpError(409, `turn ${record.traceId} has ended`, { trace_id: record.traceId, request_id: id });
  const outcome = await answerer(id, answer);
  if (outcome.status === "answered") {
    core.log.info({ trace_id: record.traceId, request_id: id }, "request answered over HTTP");
    sendJson(res, 200, { trace_id: record.traceId, request_id: id, status: "answered" });
    return;
  }
  const status = outcome.status === "invalid" ? 400 : outcome.status === "unknown" ? 404 : 409;
  throw new HttpError(status, outcome.message, { trace_id: record.traceId, request_id: id });
}
