/**
 * Following a turn again that this process did not start: a daemon restarted
 * while OpenCode went on running the turn. The turn is known by its own user
 * message id; what it had delivered (its journaled replies) is not delivered
 * again. The turn subscribes to the live stream first, then repairs from
 * OpenCode's record exactly as after a dropped stream (src/adapter/repair.ts):
 * the missed part comes from the record, the rest live, replies continue at the
 * next seq, and the end is checked against the record as always.
 */
import { createTurnState } from "../codec/codec.js";
import { DeliveredPrefix } from "../codec/record.js";
import type { Reply } from "../codec/reply.js";
import { errorMessage } from "../util/errors.js";
import { BridgeError } from "./errors.js";
import { turnConfig, type PromptOptions } from "./prompt-options.js";
import { TurnRun, type TurnDeps } from "./start.js";
import { Turn } from "./turn.js";
import type { TurnResult } from "./delivery.js";

/** A turn to follow again. */
export interface FollowedTurn {
  readonly traceId: string;
  readonly sessionId: string;
  /** The turn's own user message id (journaled before its prompt was sent). */
  readonly userMessageId: string;
  /** The replies it delivered before (seq 0 … n-1). */
  readonly delivered: readonly Reply[];
}

/** Follows `turn` to its end; resolves once its terminal reply has been delivered. */
export async function followTurn(deps: TurnDeps, turn: FollowedTurn, opts: PromptOptions): Promise<TurnResult> {
  const log = deps.log.child({ trace_id: turn.traceId, session_id: turn.sessionId, followed: true });
  const cfg = turnConfig(deps.config, opts);
  const state = createTurnState({ traceId: turn.traceId, sessionId: turn.sessionId, userMessageId: turn.userMessageId, holdFinal: cfg.verifyAtEnd });
  const prefix = new DeliveredPrefix(turn.delivered);
  const t = new Turn(state, turn.sessionId, cfg, deps.dialect, deps.sink, log, { prefix, firstSeq: turn.delivered.length });
  const run = new TurnRun(deps, opts.signal);
  try {
    if (prefix.ended) throw new BridgeError("config", "the turn had already ended");
    await deps.serverVersion();
    await deps.hub.open();
    await run.attach(t, turn.sessionId);
    t.sending();
    t.started();
    log.info({ delivered: turn.delivered.length }, "following the turn again: repairing from OpenCode's record");
    // What was missed while nobody followed: the record, as after a gap in the stream.
    t.onResync();
    run.underWay();
  } catch (err) {
    const e = err instanceof BridgeError ? err : new BridgeError("transport", `could not follow the turn again: ${errorMessage(err)}`, { cause: err });
    t.end(e.replyCode, e.message);
  }
  return run.settle(t, log, "followed turn ended");
}
