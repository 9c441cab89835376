/**
 * The routes that read or abort a turn: its event stream, the list of turns,
 * one turn, and abort. Starting a turn is ./accept.ts, answering its requests ./requests.ts.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DaemonCore } from "./core.js";
import { HttpError, requireJsonContentType, sendJson } from "./http.js";
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
  const turns = core.store.all();
  sendJson(res, 200, { turns: turns.map((t) => t.summary()) });
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
