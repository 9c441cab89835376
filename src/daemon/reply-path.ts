/**
 * The daemon's reply path: what every adapter delivers to. Synchronous per reply:
 * the journal, the turn's record (and its SSE subscribers) and metrics at once,
 * then the outputs (src/sink/fanout.ts), each at its own pace in its own lane per turn.
 */
import type { Logger } from "pino";
import type { Reply } from "../codec/reply.js";
import type { FanoutSink } from "../sink/fanout.js";
import { isRequestEvent, type SinkMessage, type SinkObject } from "../sink/types.js";
import type { TurnLog } from "./store/types.js";
import type { Metrics } from "./metrics.js";
import type { TurnRecord, TurnStore } from "./turns.js";

export class ReplyPath {
  /** Turns whose output failure was logged (once per turn). */
  private readonly outputErrorLogged = new WeakSet<TurnRecord>();
  /**
   * Turn ids of finished turns whose replies an output lane still holds: the
   * turn's record may be forgotten meanwhile, and the webhook's keys and the
   * journal's acknowledgements need its id. Forgotten once no lane holds the turn.
   */
  private readonly pinned = new Map<string, string>();
  /**
   * An output that is not bound (does not call `beforeSend` before it sends) gets a reply
   * only once the journal wrote it: the journal holds a tick's replies back (`coalesce`).
   */
  private readonly flushFirst: boolean;

  constructor(
    private readonly store: TurnStore,
    /** The journal, or the shared store (./store/types.ts). */
    private readonly journal: TurnLog | undefined,
    private readonly metrics: Metrics,
    private readonly outputs: FanoutSink,
    private readonly log: Logger,
  ) {
    // An output that acknowledges (the webhook) tells the journal what it has, and has it write what it holds before a send.
    this.flushFirst = outputs.entries().some(({ sink }) => sink.bind === undefined);
    for (const { name, sink } of outputs.entries()) {
      sink.bind?.({
        beforeSend: () => this.journal?.flush?.(),
        turnIdOf: (r) => this.turnIdOf(r.trace_id),
        acknowledged: (r) => {
          const id = this.turnIdOf(r.trace_id);
          if (id !== undefined) this.journal?.ack(id, name, r.seq);
        },
      });
    }
  }

  private turnIdOf(traceId: string): string | undefined {
    return this.store.get(traceId)?.turnId ?? this.pinned.get(traceId);
  }

  /**
   * What every adapter delivers to: the journal, the turn's record (and its
   * subscribers) and metrics at once, then the outputs, each in its own lane: a
   * slow webhook paces neither the turn, its SSE subscribers nor the other
   * outputs, until its lane holds the fan-out's `maxLag` replies.
   */
  readonly sink: SinkObject<SinkMessage> = {
    requests: true,
    deliver: (m: SinkMessage) => {
      if (isRequestEvent(m)) {
        // Journaled like a reply: a pending request outlives a restart.
        const known = this.store.get(m.trace_id);
        if (known?.mirrored) return undefined;
        if (known && !known.finished) this.journal?.request(known.turnId, m);
        this.store.request(m);
        return this.toOutputs(m);
      }
      // In the journal before anywhere else: nothing reaches a subscriber or an output that a crash could forget.
      const known = this.store.get(m.trace_id);
      // Not a turn this daemon drives (ended, or claimed by another daemon of the shared store): what
      // its fenced adapter still delivers is written nowhere, so it goes nowhere.
      if (this.journal !== undefined && (known === undefined || known.finished || known.mirrored)) return undefined;
      const written = known && !known.finished ? this.journal?.reply(known.turnId, m) : undefined;
      if (written) {
        // The shared store: published once committed, in order (its writes resolve in seq order);
        // dropped if refused (another daemon drives the turn now and serves it from the store).
        const published = written
          .then(
            () => this.publish(m, known),
            () => undefined,
          )
          .catch((err: unknown) => this.log.error({ trace_id: m.trace_id, seq: m.seq, err }, "could not publish a stored reply"));
        return this.journal?.lagging?.(known!.turnId) ? published : undefined;
      }
      return this.publish(m, known);
    },
  };

  /** A reply the log holds: to the turn's record (and its subscribers), metrics, then the outputs. */
  private publish(m: Reply, known: TurnRecord | undefined): void | Promise<void> {
    const record = this.store.add(m);
    this.metrics.reply(m);
    if (record && m.kind === "delta" && !record.sawDelta) {
      record.sawDelta = true;
      this.metrics.timeToFirstDelta.observe((performance.now() - record.acceptedAt) / 1000);
    }
    if (this.flushFirst) this.journal?.flush?.();
    const pending = this.toOutputs(m);
    if ((m.kind === "final" || m.kind === "error") && known !== undefined && this.outputs.holds(m.trace_id)) this.pinned.set(m.trace_id, known.turnId);
    return pending;
  }

  /** No output lane holds the turn any more. */
  released(traceId: string): void {
    this.pinned.delete(traceId);
  }

  /**
   * Hands one message to every output: undefined when each took it or queued it
   * in its lane, a promise only while a lane is full; never throws or rejects (a
   * failure is counted by the output and logged once per turn).
   */
  private toOutputs(m: SinkMessage): void | Promise<void> {
    let pending: void | Promise<void>;
    try {
      pending = this.outputs.deliver(m);
    } catch (err) {
      return this.outputFailed(err, m);
    }
    if (pending === undefined) return undefined;
    return pending.then(undefined, (err: unknown) => this.outputFailed(err, m));
  }

  /** An output failed to take a message (now, or later out of its lane): logged once per turn. */
  outputFailed(err: unknown, m: SinkMessage): void {
    const record = this.store.get(m.trace_id);
    if (record && !this.outputErrorLogged.has(record)) {
      this.outputErrorLogged.add(record);
      this.log.warn({ trace_id: m.trace_id, seq: isRequestEvent(m) ? undefined : m.seq, err }, "an output failed to take a reply (counted; the turn goes on)");
    }
  }
}
