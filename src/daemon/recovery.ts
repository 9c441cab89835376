/**
 * After a restart on the same state directory: the journal read back, what the
 * outputs had not acknowledged sent again, and the turns that were running when
 * the daemon died reconciled from OpenCode's record (see reconcile.ts).
 */
import type { Logger } from "pino";
import { createDialect } from "../adapter/line.js";
import { isTerminal, type Reply } from "../codec/reply.js";
import { Envelope, UNSTAMPED } from "../codec/envelope.js";
import type { FanoutSink } from "../sink/fanout.js";
import type { Journal, JournaledTurn } from "./journal.js";
import { finishFromRecord } from "./reconcile.js";
import type { TurnOutcome, TurnRecord, TurnStore } from "./turns.js";
import type { Upstream } from "./upstream.js";

export interface RecoveryContext {
  readonly journal: Journal;
  readonly store: TurnStore;
  readonly outputs: FanoutSink;
  readonly upstream: Upstream;
  readonly log: Logger;
  /** Where the new replies of a reconciled turn go: journal, record and subscribers, outputs. */
  deliver(reply: Reply): Promise<void>;
  /** Ends a turn's record: counted, journaled, subscribers told. */
  end(record: TurnRecord, outcome: TurnOutcome): void;
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
    const record = ctx.store.create(t.traceId, t.sessionId, t.directory, performance.now(), t.id);
    record.requestHash = t.requestHash;
    for (const r of t.replies) ctx.store.add(r);
    const last = t.replies[t.replies.length - 1];
    if (t.outcome === undefined && last && isTerminal(last)) {
      t.outcome = last.kind === "final" ? "final" : last.code;
      ctx.journal.end(t.id, t.outcome);
    }
    if (t.outcome !== undefined) ctx.store.finish(record, t.outcome);
    recovered.push({ turn: t, record });
  }
  if (recovered.length > 0) {
    ctx.log.info({ turns: recovered.length, running: recovered.filter((r) => !r.record.finished).length }, "turns recovered from the journal");
  }
  return recovered;
}

/**
 * Outputs that acknowledge (they have `bind`) get, in order, what they had not
 * acknowledged; then each turn that was running is reconciled, its new replies
 * reaching every output after what was re-sent.
 */
export async function resumeRecovered(ctx: RecoveryContext, recovered: readonly Recovered[]): Promise<void> {
  await Promise.all(
    ctx.outputs.entries().map(async ({ name, sink }) => {
      if (typeof sink.bind !== "function") return;
      let n = 0;
      for (const { turn } of recovered) {
        const acked = turn.acks.get(name) ?? -1;
        for (const r of turn.replies) {
          if (r.seq <= acked) continue;
          try {
            await sink.deliver(r);
            n++;
          } catch (err) {
            ctx.log.warn({ sink: name, trace_id: r.trace_id, seq: r.seq, err: (err as Error).message }, "could not re-send a reply after the restart");
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
 * record when the answer is complete there, else ended `error` `transport` —
 * and a session still busy is aborted, so it does not go on unobserved.
 */
/** A body with the envelope's fields right after `kind`, as the codec lays out its replies. */
function withEnvelopeSlots(body: { kind: Reply["kind"] }): Reply {
  const { kind, ...rest } = body;
  return { kind, ...UNSTAMPED, ...rest } as Reply;
}

async function reconcile(ctx: RecoveryContext, t: JournaledTurn, record: TurnRecord): Promise<void> {
  let bodies: ReturnType<typeof finishFromRecord>;
  let why = "the bridge restarted while the turn was running; what OpenCode did after that is not reported";
  try {
    const target = await ctx.upstream.target();
    const dialect = createDialect({ ...target, directory: t.directory });
    const [messages, status] = await Promise.all([dialect.sessionMessages(t.sessionId, 200), dialect.sessionStatus()]);
    const state = status[t.sessionId];
    const idle = state === undefined || state.type === "idle";
    bodies = finishFromRecord(t.replies, messages, t.at, idle);
    if (!bodies && !idle) {
      why = "the bridge restarted while the turn was running; the session was still busy and has been aborted";
      await dialect.abort(t.sessionId).catch((err: unknown) => ctx.log.warn({ trace_id: t.traceId, err: (err as Error).message }, "could not abort the session"));
    }
  } catch (err) {
    ctx.log.warn({ trace_id: t.traceId, session_id: t.sessionId, err: (err as Error).message }, "could not read OpenCode's record of a turn the restart interrupted");
  }
  const replies = bodies ?? [{ kind: "error" as const, error: why, code: "transport" as const }];
  // The turn's envelope goes on where the journal left it: seq stays gapless.
  const envelope = new Envelope(t.traceId);
  envelope.seq = t.replies.length;
  for (const body of replies) await ctx.deliver(envelope.stamp(withEnvelopeSlots(body), t.sessionId));
  const seq = envelope.seq;
  const outcome = bodies ? "final" : "transport";
  ctx.log.info(
    { trace_id: t.traceId, outcome, replies: seq },
    bodies ? "finished a turn the restart interrupted from OpenCode's record" : "ended a turn the restart interrupted",
  );
  ctx.end(record, outcome);
}
