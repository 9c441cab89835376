/**
 * Following a turn again that this process did not start: a daemon restarted
 * while OpenCode went on running the turn. The turn is known by its own user
 * message id; what it had delivered (its journaled replies) is not delivered
 * again. The turn subscribes to the live stream first, then repairs from
 * OpenCode's record exactly as after a dropped stream (src/adapter/repair.ts):
 * the missed part comes from the record, the rest live, replies continue at the
 * next seq, and the end is checked against the record as always.
 */
import type { Logger } from "pino";
import { createTurnState } from "../codec/codec.js";
import { DeliveredPrefix } from "../codec/record.js";
import type { Reply } from "../codec/reply.js";
import type { SinkObject } from "../sink/types.js";
import type { AdapterConfig } from "./config.js";
import { BridgeError } from "./errors.js";
import type { EventHub } from "./event-hub.js";
import type { Dialect } from "./dialect.js";
import { turnConfig, type PromptOptions } from "./prompt-options.js";
import { Turn, type TurnResult } from "./turn.js";

/** A turn to follow again. */
export interface FollowedTurn {
  readonly traceId: string;
  readonly sessionId: string;
  /** The turn's own user message id (journaled before its prompt was sent). */
  readonly userMessageId: string;
  /** The replies it delivered before (seq 0 … n-1). */
  readonly delivered: readonly Reply[];
}

export interface FollowDeps {
  readonly config: AdapterConfig;
  readonly dialect: Dialect;
  readonly hub: EventHub;
  readonly sink: SinkObject;
  readonly log: Logger;
  serverVersion(): Promise<string>;
  /** The running turn, for answers to its requests. */
  current(turn: Turn | undefined): void;
}

/** Follows `turn` to its end; resolves once its terminal reply has been delivered. */
export async function followTurn(deps: FollowDeps, turn: FollowedTurn, opts: PromptOptions): Promise<TurnResult> {
  const log = deps.log.child({ trace_id: turn.traceId, session_id: turn.sessionId, followed: true });
  const cfg = turnConfig(deps.config, opts);
  const state = createTurnState({ traceId: turn.traceId, sessionId: turn.sessionId, userMessageId: turn.userMessageId, holdFinal: cfg.verifyAtEnd });
  const prefix = new DeliveredPrefix(turn.delivered);
  const t = new Turn(state, turn.sessionId, cfg, deps.dialect, deps.sink, log, { prefix, firstSeq: turn.delivered.length });
  deps.current(t);
  const onAbort = () => void t.abortByHost("the turn was aborted by the host");
  let unsubscribe: (() => void) | undefined;
  try {
    if (prefix.ended) throw new BridgeError("config", "the turn had already ended");
    await deps.serverVersion();
    await deps.hub.open();
    unsubscribe = deps.hub.subscribe(turn.sessionId, t);
    await deps.hub.open();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    t.sending();
    t.started();
    log.info({ delivered: turn.delivered.length }, "following the turn again: repairing from OpenCode's record");
    // What was missed while nobody followed: the record, as after a gap in the stream.
    t.onResync();
    if (opts.signal?.aborted) onAbort();
  } catch (err) {
    const e = err instanceof BridgeError ? err : new BridgeError("transport", `could not follow the turn again: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    t.end(e.replyCode, e.message);
  }
  try {
    const result = await t.settled();
    log.info({ status: result.status, replies: result.replies }, "followed turn ended");
    return result;
  } finally {
    deps.current(undefined);
    opts.signal?.removeEventListener("abort", onAbort);
    unsubscribe?.();
  }
}
