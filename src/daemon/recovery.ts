/**
 * After a restart on the same state directory: the journal read back (each turn
 * as it was accepted: its request, policy, accepted time, pending requests),
 * what each output was owed and had not acknowledged sent again, and the turns
 * that were running when the daemon died reconciled from OpenCode's record by
 * their own user message id (./reconcile.ts).
 */
import { createDialect } from "../adapter/line.js";
import { Envelope, type ReplyBody } from "../codec/envelope.js";
import { unstamped } from "../codec/record.js";
import { isTerminal, type Reply } from "../codec/reply.js";
import type { DaemonCore } from "./core.js";
import type { Journal, JournaledTurn } from "./journal.js";
import { TurnRequestSchema } from "./options.js";
import { judgeFromRecord } from "./reconcile.js";
import { endTurn, followTurn } from "./run.js";
import { describeStored, outcomeOf, type TurnRecord } from "./turns.js";

export interface Recovered {
  readonly turn: JournaledTurn;
  readonly record: TurnRecord;
}

/**
 * Reads the journal back (before listening). Turns that had ended come back for
 * event subscribers as they were; a turn that was running when the daemon died
 * comes back running, to be reconciled by `resumeRecovered`.
 */
export function recoverJournal(core: DaemonCore, journal: Journal): Recovered[] {
  const recovered: Recovered[] = [];
  for (const t of journal.open()) {
    if (core.store.has(t.traceId)) continue;
    const record = core.store.create(t.traceId, t.sessionId, t.directory, performance.now(), t.id, t.at);
    describeStored(record, t.requestHash, t.request);
    for (const r of t.replies) core.store.add(r);
    const last = t.replies[t.replies.length - 1];
    if (t.outcome === undefined && last && isTerminal(last)) {
      t.outcome = outcomeOf(last);
      journal.end(t.id, t.outcome);
    }
    if (t.outcome !== undefined) core.store.finish(record, t.outcome);
    else for (const evt of t.pending.values()) core.store.request(evt);
    recovered.push({ turn: t, record });
  }
  const skipped = journal.skipped;
  if (recovered.length > 0 || skipped > 0) {
    core.log.info({ turns: recovered.length, running: recovered.filter((r) => !r.record.finished).length, lines_skipped: skipped }, "turns recovered from the journal");
  }
  if (skipped > 0) core.log.warn({ lines_skipped: skipped }, "the journal had unreadable lines (torn or corrupt): skipped");
  return recovered;
}

/**
 * Re-sends what each output was owed and had not acknowledged, then reconciles
 * each turn that was running, its new replies reaching every output after what
 * was re-sent.
 */
export async function resumeRecovered(core: DaemonCore, recovered: readonly Recovered[]): Promise<void> {
  await resend(core, recovered.map((r) => r.turn), "after the restart");
  await Promise.all(recovered.filter((r) => !r.record.finished).map((r) => reconcile(core, r.turn, r.record)));
}

/**
 * Outputs that acknowledge (they have `bind`) get what they were owed and had
 * not acknowledged — only turns they were configured for when the turn was
 * accepted (`outputs`; undefined: every output) — interleaved across turns (one
 * reply of each turn in turn), so one turn's backlog does not hold back the others.
 * `when` completes the log's sentences ("after the restart", "of a turn taken over").
 */
export async function resend(
  core: DaemonCore,
  turns: readonly { readonly replies: readonly Reply[]; readonly acks: ReadonlyMap<string, number>; readonly outputs?: readonly string[] }[],
  when: string,
): Promise<void> {
  await Promise.all(
    core.outputs.entries().map(async ({ name, sink }) => {
      if (typeof sink.bind !== "function") return;
      const owed = turns
        .filter((turn) => turn.outputs === undefined || turn.outputs.includes(name))
        .map((turn) => turn.replies.filter((r) => r.seq > (turn.acks.get(name) ?? -1)));
      const longest = Math.max(0, ...owed.map((rs) => rs.length));
      let n = 0;
      for (let i = 0; i < longest; i++) {
        for (const rs of owed) {
          const r = rs[i];
          if (r === undefined) continue;
          try {
            await sink.deliver(r);
            n++;
          } catch (err) {
            core.log.warn({ sink: name, trace_id: r.trace_id, seq: r.seq, err }, `could not re-send a reply ${when}`);
          }
        }
      }
      if (n > 0) core.log.info({ sink: name, replies: n }, `re-sent the replies not acknowledged ${when}`);
    }),
  );
}

/**
 * Ends a turn that was running when the daemon died: finished from OpenCode's
 * record when the answer to its own prompt is complete there, else ended
 * `error` `transport` — and a session still busy with it is aborted, so it does
 * not go on unobserved.
 */
async function reconcile(core: DaemonCore, t: JournaledTurn, record: TurnRecord): Promise<void> {
  let bodies: ReplyBody[] | undefined;
  let why = "the bridge restarted while the turn was running; what OpenCode did after that is not reported";
  try {
    const target = await core.upstream.target();
    const dialect = createDialect({ ...target, directory: t.directory });
    // The status first, then the record: a session seen idle has its record complete when it is read.
    const status = await dialect.sessionStatus();
    const messages = await dialect.sessionMessages(t.sessionId, 200);
    const state = status[t.sessionId];
    const idle = state === undefined || state.type === "idle";
    const verdict = judgeFromRecord(t.replies, messages, { traceId: t.traceId, sessionId: t.sessionId, messageId: t.messageId }, idle);
    if (verdict.kind === "finished") bodies = verdict.bodies;
    else if (verdict.kind === "never_sent") why = "the bridge restarted before the turn's prompt reached OpenCode: the turn did not run";
    else if (verdict.kind === "lost") why = `the bridge restarted while the turn was running, and ${verdict.why}`;
    else if (t.messageId !== undefined) {
      // OpenCode still runs it: follow it again to its end (re-attach), from the journaled seq on.
      const request = TurnRequestSchema.safeParse(t.request);
      const followed = { traceId: t.traceId, sessionId: t.sessionId, userMessageId: t.messageId, delivered: t.replies };
      const outcome = await followTurn(core, record, followed, request.success ? request.data : undefined, target);
      core.log.info({ trace_id: t.traceId, outcome }, "followed a turn the restart interrupted to its end");
      return;
    }
  } catch (err) {
    core.log.warn({ trace_id: t.traceId, session_id: t.sessionId, err }, "could not read OpenCode's record of a turn the restart interrupted");
  }
  await finishRecovered(core, record, t.replies.length, bodies ?? why, bodies ? "finished a turn the restart interrupted from OpenCode's record" : "ended a turn the restart interrupted");
}

/**
 * Ends a turn with the replies OpenCode's record gave it, or with an `error`
 * `transport` saying why it could not. The turn's envelope goes on after the
 * `delivered` replies (what the journal or the store holds): seq stays gapless.
 */
export async function finishRecovered(core: DaemonCore, record: TurnRecord, delivered: number, bodies: ReplyBody[] | string, message: string): Promise<void> {
  const out = typeof bodies === "string" ? [unstamped({ kind: "error" as const, error: bodies, code: "transport" as const })] : bodies;
  const envelope = new Envelope(record.traceId);
  envelope.seq = delivered;
  for (const body of out) await core.replies.sink.deliver(envelope.stamp(body, record.sessionId));
  const outcome = outcomeOf(out[out.length - 1]);
  core.log.info({ trace_id: record.traceId, outcome, replies: envelope.seq }, message);
  endTurn(core, record, outcome);
}
