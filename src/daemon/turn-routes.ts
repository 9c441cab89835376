/**
 * The routes that read, abort or answer a turn: its event stream, the list of
 * turns, one turn, abort, and the answer to one of its permission requests or
 * questions (under `ask` a request waits for it until the answer deadline,
 * `--answer-timeout`, subscriber or not). Starting a turn is ./accept.ts.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DaemonCore } from "./core.js";
import { HttpError, readBody, requireJsonContentType, sendJson } from "./http.js";
import { AnswerSchema } from "./options.js";
import { streamTurn } from "./sse.js";

/** The turn: this daemon's, or (with a shared store) one another daemon accepted. */
const findTurn = async (core: DaemonCore, traceId: string | undefined) => core.store.get(traceId ?? "") ?? (await core.shared?.find(traceId ?? ""));

export async function getEvents(core: DaemonCore, req: IncomingMessage, res: ServerResponse, [traceId]: readonly string[]): Promise<void> {
  const record = await findTurn(core, traceId);
  if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId, retained_turns: core.options.maxTurns });
  const refusal = core.budget.refusal(record);
  if (refusal !== undefined) throw new HttpError(429, `too many event subscribers: ${refusal}`, undefined, { "retry-after": "5" });
  return streamTurn(req, res, core.store, record, {
    heartbeatMs: core.options.heartbeatMs,
    maxBufferedBytes: core.options.maxSubscriberBufferBytes,
    drainTimeoutMs: core.options.subscriberDrainTimeoutMs,
    budget: core.budget,
    log: core.log,
    // Replies reach the socket only once the journal has them (it holds one tick's replies back: src/daemon/journal.ts).
    beforeWrite: core.journal ? () => core.journal?.flush() : undefined,
  });
}

export function getTurns(core: DaemonCore, _req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 200, { turns: core.store.all().map((t) => t.summary()) });
}

export async function getTurn(core: DaemonCore, _req: IncomingMessage, res: ServerResponse, [traceId]: readonly string[]): Promise<void> {
  const record = await findTurn(core, traceId);
  if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId });
  sendJson(res, 200, record.summary());
}

export function postAbort(core: DaemonCore, req: IncomingMessage, res: ServerResponse, [traceId]: readonly string[]): void {
  requireJsonContentType(req, true);
  const record = core.store.get(traceId ?? "");
  if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId });
  if (record.finished) throw new HttpError(409, `turn ${traceId} has already ended`, { trace_id: traceId, outcome: record.outcome });
  if (record.mirrored) throw new HttpError(409, `turn ${traceId} is driven by another daemon of the shared store: send the abort to it`, { trace_id: traceId });
  core.log.info({ trace_id: record.traceId }, "abort requested");
  record.controller.abort();
  sendJson(res, 202, { trace_id: record.traceId, session_id: record.sessionId, status: "aborting" });
}

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
