/**
 * After a restart on the same state directory: the journal read back (each turn
 * as it was accepted: its request, policy, accepted time, pending requests),
 * what each output was owed and had not acknowledged sent again, and the turns
 * that were running when the daemon died reconciled from OpenCode's record by
 * their own user message id (./reconcile.ts).
 */
import type { Logger } from "pino";
import { createDialect } from "../adapter/line.js";
import type { ReplyBody } from "../codec/envelope.js";
import { unstamped } from "../codec/record.js";
import { isTerminal, type Reply } from "../codec/reply.js";
import { Envelope } from "../codec/envelope.js";
import type { FanoutSink } from "../sink/fanout.js";
import type { JournaledTurn, TurnJournal } from "./journal.js";
import type { FollowedTurn } from "../adapter/follow.js";
import { TurnRequestSchema, type TurnRequest } from "./options.js";
import { judgeFromRecord } from "./reconcile.js";
import { turnInfo, type TurnOutcome, type TurnRecord, type TurnStore } from "./turns.js";
import type { Upstream } from "./upstream.js";

export interface RecoveryContext {
  readonly journal: TurnJournal;
  readonly store: TurnStore;
  readonly outputs: FanoutSink;
  readonly upstream: Upstream;
  readonly log: Logger;
  /** Where the new replies of a reconciled turn go: journal, record and subscribers, outputs. */
  deliver(reply: Reply): Promise<void>;
  /** Ends a turn's record: counted, journaled, subscribers told. */
  end(record: TurnRecord, outcome: TurnOutcome): void;
  /** Follows a turn OpenCode still runs to its end (src/adapter/follow.ts); resolves with its outcome once ended. */
  follow(record: TurnRecord, turn: FollowedTurn, request: TurnRequest | undefined): Promise<TurnOutcome>;
}

export interface Recovered {
  readonly turn: JournaledTurn;
  readonly record: TurnRecord;
}

/**
 * Reads the journal back (before listening). Turns that had ended come back for
 * event subscribers as they were; a turn that was running when the daemon died
 * comes back running, to be reconciled by `resumeRecovered`.
 */
export function recoverJournal(ctx: RecoveryContext): Recovered[] {
  const recovered: Recovered[] = [];
  for (const t of ctx.journal.open()) {
    if (ctx.store.has(t.traceId)) continue;
    const record = ctx.store.create(t.traceId, t.sessionId, t.directory, performance.now(), t.id, t.at);
    record.requestHash = t.requestHash;
    const request = TurnRequestSchema.safeParse(t.request);
    if (request.success) record.info = turnInfo(request.data);
    for (const r of t.replies) ctx.store.add(r);
    const last = t.replies[t.replies.length - 1];
    if (t.outcome === undefined && last && isTerminal(last)) {
      t.outcome = last.kind === "final" ? "final" : last.code;
      ctx.journal.end(t.id, t.outcome);
    }
    if (t.outcome !== undefined) ctx.store.finish(record, t.outcome);
    else for (const evt of t.pending.values()) ctx.store.request(evt);
    recovered.push({ turn: t, record });
  }
  const skipped = (ctx.journal as { skipped?: number }).skipped ?? 0;
  if (recovered.length > 0 || skipped > 0) {
    ctx.log.info({ turns: recovered.length, running: recovered.filter((r) => !r.record.finished).length, lines_skipped: skipped }, "turns recovered from the journal");
  }
  if (skipped > 0) ctx.log.warn({ lines_skipped: skipped }, "the journal had unreadable lines (torn or corrupt): skipped");
  return recovered;
}

/**
 * Outputs that acknowledge (they have `bind`) get what they were owed and had
 * not acknowledged — only turns they were configured for when the turn was
 * accepted — interleaved across turns (one reply of each turn in turn), so one
 * turn's backlog does not hold back the others. Then each turn that was running
 * is reconciled, its new replies reaching every output after what was re-sent.
 */
export async function resumeRecovered(ctx: RecoveryContext, recovered: readonly Recovered[]): Promise<void> {
  await Promise.all(
    ctx.outputs.entries().map(async ({ name, sink }) => {
      if (typeof sink.bind !== "function") return;
      const owed = recovered
        .filter(({ turn }) => turn.outputs === undefined || turn.outputs.includes(name))
        .map(({ turn }) => turn.replies.filter((r) => r.seq > (turn.acks.get(name) ?? -1)))
        .filter((rs) => rs.length > 0);
      let n = 0;
      for (let i = 0; owed.length > 0; i++) {
        for (let k = 0; k < owed.length; k++) {
          const r = (owed[k] as Reply[])[i];
          if (r === undefined) {
            owed.splice(k--, 1);
            continue;
          }
          try {
            await sink.deliver(r);
            n++;
          } catch (err) {
            ctx.log.warn({ sink: name, trace_id: r.trace_id, seq: r.seq, err }, "could not re-send a reply after the restart");
          }
        }
      }
      if (n > 0) ctx.log.info({ sink: name, replies: n }, "re-sent replies not acknowledged before the restart");
    }),
  );
  await Promise.all(recovered.filter((r) => !r.record.finished).map((r) => reconcile(ctx, r.turn, r.record)));
}

/**
 * Ends a turn that was running when the daemon died: finished from OpenCode's
 * record when the answer to its own prompt is complete there, else ended
 * `error` `transport` — and a session still busy with it is aborted, so it does
 * not go on unobserved.
 */
async function reconcile(ctx: RecoveryContext, t: JournaledTurn, record: TurnRecord): Promise<void> {
  let bodies: ReplyBody[] | undefined;
  let why = "the bridge restarted while the turn was running; what OpenCode did after that is not reported";
  try {
    const target = await ctx.upstream.target();
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
      const outcome = await ctx.follow(record, { traceId: t.traceId, sessionId: t.sessionId, userMessageId: t.messageId, delivered: t.replies }, request.success ? request.data : undefined);
      ctx.log.info({ trace_id: t.traceId, outcome }, "followed a turn the restart interrupted to its end");
      return;
    }
  } catch (err) {
    ctx.log.warn({ trace_id: t.traceId, session_id: t.sessionId, err }, "could not read OpenCode's record of a turn the restart interrupted");
  }
  const replies = bodies ?? [unstamped({ kind: "error" as const, error: why, code: "transport" as const })];
  // The turn's envelope goes on where the journal left it: seq stays gapless.
  const envelope = new Envelope(t.traceId);
  envelope.seq = t.replies.length;
  for (const body of replies) await ctx.deliver(envelope.stamp(body, t.sessionId));
  const last = replies[replies.length - 1];
  const outcome: TurnOutcome = last?.kind === "final" ? "final" : last?.kind === "error" ? last.code : "transport";
  ctx.log.info(
    { trace_id: t.traceId, outcome, replies: envelope.seq },
    bodies ? "finished a turn the restart interrupted from OpenCode's record" : "ended a turn the restart interrupted",
  );
  ctx.end(record, outcome);
}
