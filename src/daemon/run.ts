/**
 * Running an accepted turn: one adapter lease per turn (./pool.ts), the turn in
 * the background, and its record closed — counted, journaled, subscribers told —
 * when the adapter's turn has ended.
 */
import type { OpencodeAdapter } from "../adapter/adapter.js";
import type { PromptOptions } from "../adapter/prompt-options.js";
import type { AcpUpstream } from "./acp.js";
import { BridgeError } from "../adapter/errors.js";
import type { FollowedTurn } from "../adapter/follow.js";
import type { TurnResult } from "../adapter/delivery.js";
import type { DaemonCore } from "./core.js";
import type { TurnRequest } from "./options.js";
import type { Lease, TurnAdapter } from "./pool.js";
import type { TurnOutcome, TurnRecord } from "./turns.js";
import type { OpencodeTarget } from "./upstream.js";

/** A session key as the daemon stores it: scoped by the turn's directory. */
export const keyIn = (directory: string, key: string) => `${directory}\u0000${key}`;

/**
 * Runs the turn in the background; its record ends when the adapter's turn has ended.
 * `target` is the OpenCode server's; without one the daemon runs an ACP agent (./acp.ts).
 */
export function runTurn(core: DaemonCore, record: TurnRecord, turn: TurnRequest, target: OpencodeTarget | undefined): void {
  const input = turn.parts ? [{ type: "text" as const, text: turn.text }, ...turn.parts] : turn.text;
  const lease: Lease = target ? opencodeLease(core, target, record) : (core.upstream as AcpUpstream).lease(record.directory, record.sessionId);
  void drive(core, record, turn, lease, (adapter, common) =>
    adapter.prompt(input, {
      ...common,
      model: turn.model,
      agent: turn.agent,
      system: turn.system,
      // The turn's own user message id, journaled before the prompt is sent: it is what recovers the turn after a restart.
      onPromptId: (messageId) => (core.journal ?? core.shared)?.prompt(record.turnId, messageId),
      noReply: turn.no_reply,
      tools: turn.tools,
      variant: turn.variant,
    }),
  );
}

/**
 * After a restart: follows a turn OpenCode is still running to its end (src/adapter/follow.ts),
 * with the policy and timeouts it was accepted with; its replies go on at the journaled seq.
 */
export function followTurn(core: DaemonCore, record: TurnRecord, turn: FollowedTurn, request: TurnRequest | undefined, target: OpencodeTarget): Promise<TurnOutcome> {
  return drive(core, record, request, opencodeLease(core, target, record), (adapter, common) => adapter.follow(turn, common));
}

/** The OpenCode session's adapter: one per server, directory and session. */
function opencodeLease(core: DaemonCore, target: OpencodeTarget, record: TurnRecord): Lease<OpencodeAdapter> {
  const key = `${target.baseUrl}\u0000${record.directory}\u0000${record.sessionId}`;
  return core.pool.acquire(key, () => core.makeAdapter(target, record.directory));
}

/**
 * One adapter lease for the turn; the options every turn of the daemon gets (its
 * trace, session, abort, policy, timeouts); the record ended when the adapter's turn has.
 */
function drive<A extends TurnAdapter>(
  core: DaemonCore,
  record: TurnRecord,
  turn: TurnRequest | undefined,
  lease: Lease<A>,
  run: (adapter: A, common: PromptOptions) => Promise<TurnResult>,
): Promise<TurnOutcome> {
  core.shared?.driving.add(record.turnId);
  record.answerer = (id, answer) => lease.adapter.answer(id, answer);
  const common: PromptOptions = {
    traceId: record.traceId,
    sessionId: record.sessionId,
    signal: record.controller.signal,
    ...(turn?.permission ? { permission: turn.permission } : {}),
    ...(turn?.question ? { question: turn.question } : {}),
    // Under `ask` a request waits for an HTTP answer (a client, the console) until the answer
    // deadline: anyone may subscribe or answer later, so nobody is ever assumed absent.
    onRequest: () => undefined,
    ...(turn?.timeouts
      ? { timeouts: { firstEventMs: turn.timeouts.first_event_ms, idleMs: turn.timeouts.idle_ms, turnMs: turn.timeouts.turn_ms, toolMs: turn.timeouts.tool_ms } }
      : {}),
  };
  return run(lease.adapter, common)
    .then(
      (result): TurnOutcome => (result.status === "final" ? "final" : (result.error?.code ?? "internal")),
      (err: unknown): TurnOutcome => {
        // The adapter rejects only for a call it refused (options the body's schema let through),
        // after delivering the turn's terminal error reply: the outcome is that reply's code.
        core.log.error({ trace_id: record.traceId, err }, "the adapter refused the turn");
        return err instanceof BridgeError ? err.replyCode : "internal";
      },
    )
    .then((outcome) => {
      endTurn(core, record, outcome, turn?.session_key);
      return outcome;
    })
    .finally(() => lease.release());
}

/** A turn has ended: counted, journaled, and its subscribers told. */
export function endTurn(core: DaemonCore, record: TurnRecord, outcome: TurnOutcome, sessionKey?: string): void {
  if (sessionKey !== undefined) {
    const known = core.sessionStore.get(keyIn(record.directory, sessionKey));
    void Promise.resolve(known).then((k) => {
      if (k?.sessionId === record.sessionId) return core.sessionStore.set(keyIn(record.directory, sessionKey), { ...k, lastOutcome: outcome });
    }).catch((err: unknown) => core.log.warn({ err }, "could not record how a keyed session's turn ended"));
  }
  core.metrics.turnEnded(outcome);
  if (core.shared) {
    // Written after the turn's replies, then finished here; a turn another daemon drives now is left to it.
    core.shared.end(record, outcome);
  } else {
    core.journal?.end(record.turnId, outcome);
    core.store.finish(record, outcome);
  }
  core.log.debug({ trace_id: record.traceId, session_id: record.sessionId, outcome, replies: record.total }, "turn record closed");
}
