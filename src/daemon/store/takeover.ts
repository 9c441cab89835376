/**
 * A turn this daemon claimed from the store after its owner's lease ran out (the
 * owner died, or lost the database): its outputs get again what they had not
 * acknowledged (same turn id, so the webhook's idempotency keys are the same as
 * the first owner's), then the turn is finished from OpenCode's own record of
 * the session once OpenCode has finished it (the turn's prompt was already sent:
 * OpenCode goes on without the daemon that sent it). The replies continue the
 * stored seq, so followers on any daemon get one gapless stream.
 *
 * Not yet a live re-attach: between the claim and OpenCode's end, followers get
 * no new replies; then the rest of the answer arrives at once (tool calls and
 * results not yet reported, the missing text, the `final`).
 */
import { OpencodeHttp } from "../../adapter/http.js";
import { Envelope } from "../../codec/envelope.js";
import type { Reply } from "../../codec/reply.js";
import type { DaemonCore } from "../core.js";
import { finishFromRecord } from "../reconcile.js";
import { withEnvelopeSlots } from "../recovery.js";
import { endTurn } from "../run.js";
import type { TurnRecord } from "../turns.js";
import type { StoredTurn } from "./postgres.js";

/** How often OpenCode's session status is read while waiting for it to finish the turn. */
const POLL_MS = 300;

export async function takeOver(core: DaemonCore, row: StoredTurn, record: TurnRecord, turnTimeoutMs: number): Promise<void> {
  const shared = core.shared!;
  const replies = (await shared.pg.replies(row.id)).map((r) => JSON.parse(r.json) as Reply);
  await resend(core, row, replies);

  let bodies: ReturnType<typeof finishFromRecord>;
  let why = "the daemon driving this turn stopped, and OpenCode's record does not show its answer finished";
  try {
    const target = await core.upstream.target();
    const http = new OpencodeHttp({ ...target, directory: row.directory, requestTimeoutMs: 10_000 });
    const deadline = row.acceptedMs + turnTimeoutMs;
    for (;;) {
      const status = await http.sessionStatus();
      const state = status[row.sessionId];
      if (state === undefined || state.type === "idle") break;
      if (Date.now() > deadline || record.controller.signal.aborted) {
        why = "the daemon driving this turn stopped, and OpenCode did not finish it within the turn timeout";
        await http.abort(row.sessionId).catch(() => {});
        break;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    bodies = finishFromRecord(replies, await http.sessionMessages(row.sessionId, 200), row.acceptedMs, true);
  } catch (err) {
    core.log.warn({ trace_id: row.traceId, err: (err as Error).message }, "could not read OpenCode's record of a turn taken over");
  }
  const envelope = new Envelope(row.traceId);
  envelope.seq = replies.length;
  const out = bodies ?? [{ kind: "error" as const, error: why, code: "transport" as const }];
  for (const body of out) await core.replies.sink.deliver(envelope.stamp(withEnvelopeSlots(body), row.sessionId));
  const outcome = bodies ? "final" : "transport";
  core.log.info({ trace_id: row.traceId, outcome, replies: envelope.seq }, "finished a turn taken over from OpenCode's record");
  endTurn(core, record, outcome);
}

/** Each acknowledging output gets, in order, the stored replies it had not acknowledged. */
async function resend(core: DaemonCore, row: StoredTurn, replies: readonly Reply[]): Promise<void> {
  const acks = await core.shared!.pg.acks(row.id);
  for (const { name, sink } of core.outputs.entries()) {
    if (typeof sink.bind !== "function") continue;
    const acked = acks.get(name) ?? -1;
    for (const r of replies) {
      if (r.seq <= acked) continue;
      try {
        await sink.deliver(r);
      } catch (err) {
        core.log.warn({ sink: name, trace_id: r.trace_id, seq: r.seq, err: (err as Error).message }, "could not re-send a reply of a turn taken over");
      }
    }
  }
}
