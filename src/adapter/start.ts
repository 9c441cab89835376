/**
 * Starting a turn: its session (keyed, given or new), its own user message id,
 * its subscription to the live stream, its prompt; then waiting for its end.
 *
 * A started turn and a followed one (./follow.ts) run in the same frame,
 * `TurnRun`: the running turn (for answers to its requests), subscribed to its
 * session once the stream is open so that no event of it goes unseen, aborted by
 * the host's signal, and all of that undone once it has settled.
 */
import type { Logger } from "pino";
import { createTurnState } from "../codec/codec.js";
import type { ErrorCode } from "../codec/reply.js";
import type { SinkObject } from "../sink/types.js";
import { errorMessage } from "../util/errors.js";
import type { AdapterConfig } from "./config.js";
import type { Dialect, PromptBody } from "./dialect.js";
import { BridgeError } from "./errors.js";
import type { EventHub } from "./event-hub.js";
import { newMessageId } from "./message-id.js";
import type { WirePart } from "./parts.js";
import { turnConfig, type PromptOptions } from "./prompt-options.js";
import type { SessionKeys } from "./sessions.js";
import { Turn } from "./turn.js";
import type { TurnResult } from "./delivery.js";

/** What the adapter lends a turn it starts or follows. */
export interface TurnDeps {
  readonly config: AdapterConfig;
  readonly dialect: Dialect;
  readonly hub: EventHub;
  readonly sink: SinkObject;
  readonly log: Logger;
  serverVersion(): Promise<string>;
  /** The running turn, for answers to its requests (turns are serialized: one at a time). */
  current(turn: Turn | undefined): void;
}

/** A turn that ends at once with `code` (a refused call, a failure before the turn could start). */
export function endedTurn(deps: TurnDeps, cfg: AdapterConfig, traceId: string, sessionId: string | undefined, log: Logger, code: ErrorCode, message: string): Turn {
  const turn = new Turn(createTurnState({ traceId, sessionId }), sessionId ?? "", cfg, deps.dialect, deps.sink, log);
  turn.end(code, message);
  return turn;
}

/** What a turn holds while it runs; `settle` undoes it. */
export class TurnRun {
  private turn: Turn | undefined;
  private unsubscribe: (() => void) | undefined;
  /** The host's abort: abort the server session, let it settle, end with `aborted`. */
  private readonly onAbort = () => void this.turn?.expire("aborted", "the turn was aborted by the host");

  constructor(
    private readonly deps: TurnDeps,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /**
   * Makes `turn` the running turn and subscribes it to its session; resolves once the
   * stream is open (back, when it dropped since it was opened, or failed), so that no
   * event of the turn goes unseen. The caller opened the stream before the turn could start.
   */
  async attach(turn: Turn, sessionId: string): Promise<void> {
    this.turn = turn;
    this.deps.current(turn);
    this.unsubscribe = this.deps.hub.subscribe(sessionId, turn);
    await this.deps.hub.open();
    this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** The turn is under way: an abort that came before the listener was added takes effect now. */
  underWay(): void {
    if (this.signal?.aborted) this.onAbort();
  }

  /** Waits for `turn`'s end (the attached one, or one ended early), then undoes `attach`. */
  async settle(turn: Turn, log: Logger, what: string): Promise<TurnResult> {
    try {
      const result = await turn.settled();
      log.info({ status: result.status, replies: result.replies }, what);
      return result;
    } finally {
      this.deps.current(undefined);
      this.signal?.removeEventListener("abort", this.onAbort);
      this.unsubscribe?.();
    }
  }
}

/** Runs one turn of `parts` to its end: a failure before the prompt went out is its terminal `error` reply. */
export async function startTurn(deps: TurnDeps, keys: SessionKeys, parts: WirePart[], opts: PromptOptions, model: PromptBody["model"]): Promise<TurnResult> {
  const traceId = opts.traceId ?? deps.config.newTraceId();
  let log = deps.log.child({ trace_id: traceId });
  let sessionId = opts.sessionId;
  let turn: Turn | undefined;
  const cfg = turnConfig(deps.config, opts);
  const run = new TurnRun(deps, opts.signal);
  try {
    if (opts.signal?.aborted) throw new BridgeError("config", "the turn was aborted before it started");
    await deps.serverVersion();
    // Open the stream before the session exists, so that no event of the turn can be missed.
    await deps.hub.open();
    let resumed = opts.sessionId !== undefined;
    if (opts.sessionKey !== undefined) {
      const keyed = await keys.ensure(
        opts.sessionKey,
        { ...opts.session, ...(model ? { model: `${model.providerID}/${model.modelID}` } : {}), ...(opts.agent ? { agent: opts.agent } : {}) },
        opts.signal,
      );
      sessionId = keyed.sessionId;
      resumed = !keyed.created;
    }
    sessionId ??= await keys.create({}, opts.signal);
    log = log.child({ session_id: sessionId });
    // User messages already in a resumed session are never taken for this turn's prompt
    // (and an unknown session fails here, 404 → not_found, even on 1.2.x whose prompt_async answers 204).
    const prior = resumed ? await deps.dialect.recentMessageIds(sessionId, 20, opts.signal) : [];
    // The turn's own user message id: exactly that message is admitted as this turn's prompt.
    // On the server's clock when it runs behind ours (never ahead of it), after every id known of the session.
    const offset = Math.min(0, deps.dialect.serverClockOffsetMs ?? 0);
    const messageID = newMessageId(traceId, deps.config.clock.now() + offset, [sessionId, ...prior]);
    const state = createTurnState({
      traceId,
      sessionId,
      priorMessageIds: prior,
      userMessageId: messageID,
      noReply: opts.noReply,
      // A noReply prompt has no answer to verify: its `final` comes once the prompt is stored.
      holdFinal: cfg.verifyAtEnd && opts.noReply !== true,
    });
    turn = new Turn(state, sessionId, cfg, deps.dialect, deps.sink, log);
    await run.attach(turn, sessionId);
    log.info({ parts: parts.length, chars: parts.reduce((n, p) => n + (p.type === "text" ? p.text.length : p.url.length), 0) }, "prompting");
    await opts.onPromptId?.(messageID);
    turn.sending();
    await deps.dialect.prompt(sessionId, {
      messageID,
      parts,
      ...(opts.noReply ? { noReply: true } : {}),
      ...(opts.tools ? { tools: opts.tools } : {}),
      ...(opts.variant ? { variant: opts.variant } : {}),
      ...(model ? { model } : {}),
      ...(opts.agent ? { agent: opts.agent } : {}),
      ...(opts.system ? { system: opts.system } : {}),
    });
    turn.started();
    run.underWay();
  } catch (err) {
    const e =
      err instanceof BridgeError
        ? err
        : opts.signal?.aborted
          ? new BridgeError("config", "the turn was aborted before the prompt was sent")
          : new BridgeError("protocol", `unexpected failure: ${errorMessage(err)}`, { cause: err });
    const code = opts.signal?.aborted ? "aborted" : e.replyCode;
    log.warn({ code, err: e }, "the turn failed before it started");
    if (turn) turn.end(code, e.message);
    else turn = endedTurn(deps, cfg, traceId, sessionId, log, code, e.message);
  }
  const result = await run.settle(turn, log, "turn ended");
  if (opts.sessionKey !== undefined && sessionId !== undefined) {
    await keys
      .ended(opts.sessionKey, sessionId, result.status === "final" ? "final" : (result.error?.code ?? "internal"))
      .catch((err: unknown) => log.warn({ err }, "could not record how the keyed session's turn ended"));
  }
  return result;
}
