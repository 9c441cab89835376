/**
 * `POST /v1/turns`: a turn request validated, its session resolved, the turn
 * journaled (and synced) before the 202, then run in the background (./run.ts).
 */
import { randomUUID } from "node:crypto";
import { statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BridgeError } from "../adapter/errors.js";
import { createDialect } from "../adapter/line.js";
import { defaultTitle, SessionKeys } from "../adapter/sessions.js";
import type { DaemonCore } from "./core.js";
import { HttpError, readBody, requireJsonContentType, sendJson } from "./http.js";
import { requestHash, TurnRequestSchema, type TurnRequest } from "./options.js";
import { directoryRefusal } from "./directories.js";
import { isAcp } from "./acp.js";
import type { Lease } from "./pool.js";
import { keyIn, runTurn } from "./run.js";
import { turnInfo, type TurnRecord } from "./turns.js";
import type { OpencodeTarget } from "./upstream.js";
import { errorMessage } from "../util/errors.js";

export async function postTurn(core: DaemonCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (core.draining) throw core.unavailable();
  requireJsonContentType(req);
  const turn = await readBody(req, core.options.maxBodyBytes, TurnRequestSchema, "turn request");
  const active = core.store.running().length + core.reserved.size;
  if (active >= core.options.maxActiveTurns) {
    throw new HttpError(429, `too many turns in progress (the limit is ${core.options.maxActiveTurns})`, { limit: core.options.maxActiveTurns }, { "retry-after": "1" });
  }
  const traceId = turn.trace_id ?? randomUUID();
  const hash = requestHash(turn);
  // With a shared store, a turn another daemon accepted counts as existing here too (mirrored from the store).
  const existing = core.store.get(traceId) ?? (core.reserved.has(traceId) ? undefined : await core.shared?.find(traceId));
  if (existing && existing.requestHash === hash) {
    // The same request again (a host retrying after a lost answer): the turn it started, not a second prompt
    // (answered once the turn's record is synced, like the first answer).
    await core.journal?.synced();
    sendJson(res, 200, { trace_id: traceId, session_id: existing.sessionId, events: `/v1/turns/${encodeURIComponent(traceId)}/events`, existing: true });
    return;
  }
  if (existing || core.reserved.has(traceId)) {
    throw new HttpError(
      409,
      existing
        ? `trace_id ${traceId} is already in use by a turn with a different request`
        : `trace_id ${traceId} is being started by another request right now; retry to get its turn`,
      { trace_id: traceId },
    );
  }
  const directory = turn.directory ?? core.options.directory;
  if (!isDirectory(directory)) throw new HttpError(400, `directory ${directory} does not exist or is not a directory`, { directory });
  const refusal = directoryRefusal(directory, core.options.directory, core.options.allowDirectories);
  if (refusal !== undefined) throw new HttpError(403, refusal, { directory });

  // A state directory that cannot take the turn's record refuses it before any session is made for it.
  const refused = core.journal?.refusal();
  if (refused !== undefined) throw journalRefusal(core, refused);

  core.reserved.add(traceId);
  let record: TurnRecord;
  // OpenCode's server; none for an ACP agent, whose session's adapter is held (`acp`) until the turn runs on it.
  let target: OpencodeTarget | undefined;
  let acp: Lease | undefined;
  try {
    let sessionId: string;
    if (isAcp(core.upstream)) {
      ({ sessionId, lease: acp } = await core.upstream.session(directory, turn));
    } else {
      try {
        target = await core.upstream.target();
      } catch (err) {
        throw new HttpError(502, "OpenCode is not available", errorMessage(err));
      }
      sessionId = await resolveSession(core, target, directory, turn);
    }
    // Shutdown may have begun while the session was being created.
    if (core.draining) throw core.unavailable();
    // Journaled (and synced) — or stored in the shared store — before the 202: what the turn is, and the
    // outputs it is owed to: an accepted turn outlives a crash. One fdatasync for all the turns accepted in this turn of the event loop.
    const turnId = randomUUID();
    const at = Date.now();
    if (core.shared) {
      // Stored (leased to this daemon); another daemon may have stored the same trace_id meanwhile.
      const raced = await core.shared.accept({ id: turnId, traceId, sessionId, directory, request: turn, requestHash: hash, acceptedMs: at });
      if (raced) {
        if (raced.requestHash !== hash) throw new HttpError(409, `trace_id ${traceId} is already in use by a turn with a different request`, { trace_id: traceId });
        acp?.release();
        sendJson(res, 200, { trace_id: traceId, session_id: raced.sessionId, events: `/v1/turns/${encodeURIComponent(traceId)}/events`, existing: true });
        return;
      }
    }
    const outputs = core.outputs.entries().map((o) => o.name);
    if (core.journal && !core.journal.turn(turnId, traceId, sessionId, directory, at, hash, { request: turn, outputs })) {
      // A session made for this turn alone would be left behind: remove it.
      if (target && turn.session_id === undefined && turn.session_key === undefined) {
        await createDialect({ ...target, directory })
          .deleteSession(sessionId)
          .catch((err: unknown) => core.log.warn({ session_id: sessionId, err }, "could not remove the session of a refused turn"));
      }
      throw journalRefusal(core, core.journal.refusal() ?? "the journal cannot be written");
    }
    record = core.store.create(traceId, sessionId, directory, performance.now(), turnId, at);
    record.info = turnInfo(turn);
    record.requestHash = hash;
    // The turn list's watchers (GET /v1/turn-list, the console) hear of it now that it has its info.
    core.store.changed(record);
    await core.journal?.synced();
  } catch (err) {
    acp?.release();
    throw err;
  } finally {
    core.reserved.delete(traceId);
  }
  runTurn(core, record, turn, target);
  acp?.release();
  core.log.info({ trace_id: traceId, session_id: record.sessionId }, "turn accepted");
  sendJson(res, 202, {
    trace_id: traceId,
    session_id: record.sessionId,
    events: `/v1/turns/${encodeURIComponent(traceId)}/events`,
  });
}

/** The session to run in: the one named (checked to exist), the key's, or a new one. */
async function resolveSession(core: DaemonCore, target: OpencodeTarget, directory: string, turn: TurnRequest): Promise<string> {
  const dialect = createDialect({ ...target, directory });
  const keys = new SessionKeys(dialect, core.sessionStore);
  const sessionId = turn.session_id;
  try {
    if (turn.session_key !== undefined) {
      const opts = { ...(turn.title ? { title: turn.title } : {}), ...(turn.model ? { model: turn.model } : {}), ...(turn.agent ? { agent: turn.agent } : {}) };
      return (await keys.ensure(keyIn(directory, turn.session_key), { title: defaultTitle(turn.session_key), ...opts })).sessionId;
    }
    if (sessionId === undefined) return await keys.create();
    if (!(await dialect.sessionExists(sessionId))) throw new HttpError(404, `OpenCode has no session ${sessionId}`, { session_id: sessionId, directory });
    return sessionId;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    const e = err as BridgeError;
    throw new HttpError(502, sessionId === undefined ? "could not create an OpenCode session" : "could not look up the OpenCode session", {
      code: e.code,
      reason: e.message,
    });
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** 503: the journal cannot record a new turn (a full or read-only state directory); /healthz says so too. */
function journalRefusal(core: DaemonCore, why: string): HttpError {
  core.log.warn({ reason: why }, "refused a turn: its record cannot be kept");
  return new HttpError(503, `the bridge cannot record new turns: ${why} (free space in the state directory, or fix its permissions)`, { reason: why }, { "retry-after": "5" });
}
