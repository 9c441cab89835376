/**
 * A turn this daemon claimed from the store after its owner's lease ran out (the
 * owner died, or lost the database): its outputs get again what they had not
 * acknowledged (same turn id, so the webhook's idempotency keys are the same as
 * the first owner's), then the turn is finished from OpenCode's own record of
 * the session once OpenCode has finished it (the turn's prompt was already sent:
 * OpenCode goes on without the daemon that sent it). The replies continue the
 * stored seq, so followers on any daemon get one gapless stream.
 *
 * A turn whose prompt never reached OpenCode (its owner died between the 202 and
 * the prompt; the prompt's id is committed before it is sent, so this is known)
 * is run from its stored request, as if just accepted.
 *
 * A turn OpenCode is still running is followed again live (the same re-attach as
 * after a restart, src/adapter/follow.ts): the missed part repaired from the
 * record, the rest as it streams, the end checked against the record; its pending
 * permission/question requests are answerable on this daemon. A turn OpenCode has
 * already finished is finished from its record; a turn whose terminal reply was
 * already stored is closed as it ended.
 */
import { createDialect } from "../../adapter/line.js";
import type { ReplyBody } from "../../codec/envelope.js";
import { hasUserMessage } from "../../codec/record.js";
import { isTerminal, type Reply } from "../../codec/reply.js";
import type { DaemonCore } from "../core.js";
import { judgeFromRecord } from "../reconcile.js";
import { TurnRequestSchema } from "../options.js";
import { finishRecovered, resend } from "../recovery.js";
import { endTurn, followTurn, runTurn } from "../run.js";
import { outcomeOf, type TurnRecord } from "../turns.js";
import type { StoredTurn } from "./postgres.js";

/** How often OpenCode's session status is read while waiting for it to finish the turn. */
const POLL_MS = 300;
/** How long a record that does not (yet) show the turn is read again before it is believed. */
const SETTLE_MS = 3_000;

export async function takeOver(core: DaemonCore, row: StoredTurn, record: TurnRecord, turnTimeoutMs: number): Promise<void> {
  const replies = await resendEnded(core, row);
  const ended = replies[replies.length - 1];
  if (ended !== undefined && isTerminal(ended)) {
    // Its owner committed the terminal reply but not the turn's end (it stalled or died in
    // between): the turn is over, with that outcome; nothing may follow its terminal reply.
    core.log.info({ trace_id: row.traceId, replies: replies.length }, "the turn taken over had already ended: closed as it ended");
    endTurn(core, record, outcomeOf(ended));
    return;
  }

  let bodies: ReplyBody[] | undefined;
  let why = "the daemon driving this turn stopped; what OpenCode did after that is not reported";
  try {
    const target = await core.upstream.target();
    const http = createDialect({ ...target, directory: row.directory, requestTimeoutMs: 10_000 });
    const prompt = { traceId: row.traceId, sessionId: row.sessionId, messageId: row.messageId };
    const deadline = row.acceptedMs + turnTimeoutMs;
    // A record that does not show the answer finished is read again for a while: OpenCode may
    // report the session idle for a moment between taking the prompt and starting on it.
    const settleBy = Date.now() + SETTLE_MS;
    // OpenCode goes on with the turn without the daemon that prompted it: wait until the record shows it finished.
    for (;;) {
      // The status first, then the record: a session seen idle has its record complete when it is read
      // (read together, an answer completing in between looked unfinished in an idle session: "lost").
      const status = await http.sessionStatus();
      const messages = await http.sessionMessages(row.sessionId, 200);
      const state = status[row.sessionId];
      const idle = state === undefined || state.type === "idle";
      const verdict = judgeFromRecord(replies, messages, prompt, idle);
      const request = TurnRequestSchema.safeParse(row.request);
      if (verdict.kind === "finished") {
        bodies = verdict.bodies;
        break;
      }
      if (verdict.kind === "running" && row.messageId !== undefined && hasUserMessage(messages, row.messageId)) {
        // OpenCode still runs the turn's own prompt: follow it live from the stored seq on (as a
        // restart does, src/adapter/follow.ts); its record ends when the adapter's turn ends.
        const followed = { traceId: row.traceId, sessionId: row.sessionId, userMessageId: row.messageId, delivered: replies };
        const outcome = await followTurn(core, record, followed, request.success ? request.data : undefined, target);
        core.log.info({ trace_id: row.traceId, outcome }, "followed a turn taken over to its end");
        return;
      }
      const rerun = verdict.kind === "never_sent" && replies.length === 0 && request.success;
      if (rerun && idle && Date.now() > settleBy) {
        // The id is committed before the prompt goes out (SharedTurns.prompt): no id, or one OpenCode
        // does not have, means it never went out. Run the turn from its stored request — once the
        // session is idle: a turn queued behind another of its session waits for that one to end.
        core.log.info({ trace_id: row.traceId }, "the turn taken over was never sent to OpenCode: running it now");
        runTurn(core, record, request.data, target);
        return;
      }
      if (verdict.kind === "never_sent" && !rerun && Date.now() > settleBy) {
        why = "the daemon driving this turn stopped before its prompt was sent to OpenCode: the turn did not run";
        break;
      }
      if (verdict.kind === "lost" && Date.now() > settleBy) {
        why = `the daemon driving this turn stopped, and ${verdict.why}`;
        break;
      }
      if (Date.now() > deadline || record.controller.signal.aborted) {
        why = "the daemon driving this turn stopped, and OpenCode did not finish it within the turn timeout: aborted";
        // A turn never sent has nothing of its own to abort (the session may be running another turn).
        if (verdict.kind !== "never_sent") await http.abort(row.sessionId).catch(() => {});
        break;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (err) {
    core.log.warn({ trace_id: row.traceId, err }, "could not read OpenCode's record of a turn taken over");
  }
  await finishRecovered(core, record, replies.length, bodies ?? why, "finished a turn taken over from OpenCode's record");
}

/** A turn claimed from the store: its outputs get what they had not acknowledged. Returns its stored replies. */
export async function resendEnded(core: DaemonCore, row: StoredTurn): Promise<Reply[]> {
  const [stored, acks] = await Promise.all([core.shared!.pg.replies(row.id), core.shared!.pg.acks(row.id)]);
  const replies = stored.map((r) => JSON.parse(r.json) as Reply);
  await resend(core, [{ replies, acks }], "of a turn taken over");
  return replies;
}
