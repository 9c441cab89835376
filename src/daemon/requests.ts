/**
 * Permission requests and questions in the daemon: who could answer one, and
 * the route that answers it (`POST /v1/turns/:trace_id/requests/:request_id`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestAnswer } from "../codec/requests.js";
import type { DaemonCore } from "./core.js";
import { HttpError, issuesOf, readJson, requireJsonContentType, sendJson, summarizeIssues } from "./http.js";
import { AnswerSchema } from "./options.js";
import type { TurnRecord } from "./turns.js";

/**
 * Under `ask`, a request waits for a client's answer over HTTP, unless nobody
 * could give one: no event subscriber of the turn, no output (webhook, JSON
 * Lines) that carries requests to a host, no client that listed turns in the
 * last minute (the console polls). Then it is rejected at once, saying why.
 */
export function nobodyToAnswer(core: DaemonCore, record: TurnRecord): RequestAnswer | undefined {
  const watched = performance.now() - core.lastListed < 60_000;
  if (record.subscribers.size > 0 || core.outputs.requests || watched) return undefined;
  return {
    reply: "reject",
    message: "opencode-bridge's policy is \"ask\" but no client of the daemon could answer (no event subscriber of the turn, no output, no console open)",
  };
}

export async function postAnswer(core: DaemonCore, req: IncomingMessage, res: ServerResponse, [traceId, requestId]: readonly string[]): Promise<void> {
  requireJsonContentType(req);
  const record = core.store.get(traceId ?? "");
  if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId });
  const body = await readJson(req, core.options.maxBodyBytes);
  const parsed = AnswerSchema.safeParse(body);
  if (!parsed.success) throw new HttpError(400, `invalid answer: ${summarizeIssues(parsed.error)}`, issuesOf(parsed.error));
  const id = requestId ?? "";
  if (!record.pending.has(id)) {
    if (record.requestIds.has(id)) throw new HttpError(409, `request ${id} has already been answered`, { trace_id: record.traceId, request_id: id });
    throw new HttpError(404, `turn ${record.traceId} has no request ${id}`, { trace_id: record.traceId, request_id: id });
  }
  const answerer = record.answerer;
  if (answerer === undefined) throw new HttpError(409, `turn ${record.traceId} has ended`, { trace_id: record.traceId, request_id: id });
  const outcome = await answerer(id, parsed.data);
  if (outcome.status === "answered") {
    core.log.info({ trace_id: record.traceId, request_id: id }, "request answered over HTTP");
    sendJson(res, 200, { trace_id: record.traceId, request_id: id, status: "answered" });
    return;
  }
  const status = outcome.status === "invalid" ? 400 : outcome.status === "unknown" ? 404 : 409;
  throw new HttpError(status, outcome.message, { trace_id: record.traceId, request_id: id });
}
