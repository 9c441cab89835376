/**
 * The daemon's reply path: what every adapter delivers to. Synchronous per reply:
 * the journal, the turn's record (and its SSE subscribers) and metrics at once,
 * then the outputs through the turn's lane (./output-lanes.ts).
 */
import type { Logger } from "pino";
import type { Reply } from "../codec/reply.js";
import type { RequestEvent } from "../codec/requests.js";
import type { FanoutSink } from "../sink/fanout.js";
import type { SinkObject } from "../sink/types.js";
import type { TurnLog } from "./store/types.js";
import type { Metrics } from "./metrics.js";
import { OutputLanes } from "./output-lanes.js";
import type { TurnRecord, TurnStore } from "./turns.js";

/** Replies of one turn that may wait for the outputs before the turn itself waits (docs/daemon.md, the memory bound). */
const OUTPUT_LAG = 10_000;

export class ReplyPath {
  readonly lanes: OutputLanes<Reply | RequestEvent>;
  /** Turns whose output failure was logged (once per turn). */
  private readonly outputErrorLogged = new WeakSet<TurnRecord>();

  constructor(
    private readonly store: TurnStore,
    /** The journal, or the shared store (./store/types.ts). */
    private readonly journal: TurnLog | undefined,
    private readonly metrics: Metrics,
    private readonly outputs: FanoutSink,
    private readonly log: Logger,
  ) {
    this.lanes = new OutputLanes((r) => this.toOutputs(r), OUTPUT_LAG);
    // An output that acknowledges (the webhook) tells the journal what it has.
    for (const { name, sink } of outputs.entries()) {
      sink.bind?.({
        turnIdOf: (r) => this.lanes.turnIdOf(r.trace_id) ?? this.store.get(r.trace_id)?.turnId,
        acknowledged: (r) => {
          const id = this.lanes.turnIdOf(r.trace_id) ?? this.store.get(r.trace_id)?.turnId;
          if (id !== undefined) this.journal?.ack(id, name, r.seq);
        },
      });
    }
  }

  /**
   * What every adapter delivers to: the journal, the turn's record (and its
   * subscribers) and metrics at once, then the outputs through the turn's lane
   * (./output-lanes.ts): a slow webhook does not pace the turn or its SSE
   * subscribers, until its lane holds `OUTPUT_LAG` replies.
   */
  readonly sink: SinkObject = {
    request: (evt: RequestEvent) => {
      // Journaled like a reply: a pending request outlives a restart.
      const known = this.store.get(evt.trace_id);
      if (known && !known.finished) this.journal?.request(known.turnId, evt);
      this.store.request(evt);
      // In the turn's lane, so the outputs see it in its place among the replies.
      return this.lanes.push(evt, this.store.get(evt.trace_id)?.turnId);
    },
    deliver: (reply: Reply) => {
      // In the journal before anywhere else: nothing reaches a subscriber or an output that a crash could forget.
      const known = this.store.get(reply.trace_id);
      const written = known && !known.finished ? this.journal?.reply(known.turnId, reply) : undefined;
      if (written) {
        // The shared store: published once committed, in order (its writes resolve in seq order);
        // dropped if refused (another daemon drives the turn now and serves it from the store).
        const published = written
          .then(
            () => this.publish(reply, known),
            () => undefined,
          )
          .catch((err: unknown) => this.log.error({ trace_id: reply.trace_id, seq: reply.seq, err: (err as Error).message }, "could not publish a stored reply"));
        return this.journal?.lagging?.(known!.turnId) ? published : undefined;
      }
      return this.publish(reply, known);
    },
  };

  /** A reply the log holds: to the turn's record (and its subscribers), metrics, then the outputs. */
  private publish(reply: Reply, known: TurnRecord | undefined): void | Promise<void> {
    const record = this.store.add(reply);
    this.metrics.reply(reply);
    if (record && reply.kind === "delta" && !record.sawDelta) {
      record.sawDelta = true;
      this.metrics.timeToFirstDelta.observe((performance.now() - record.acceptedAt) / 1000);
    }
    return this.lanes.push(reply, known?.turnId);
  }

  /**
   * Hands one reply of a lane to every output: undefined when they took it
   * synchronously (the webhook queues it), else a promise; never throws or rejects
   * (a failure is counted by the output and logged once per turn).
   */
  private readonly toOutputs = (reply: Reply | RequestEvent): void | Promise<void> => {
    let pending: void | Promise<void>;
    try {
      pending = "type" in reply ? this.outputs.request(reply) : this.outputs.deliver(reply);
    } catch (err) {
      return this.outputFailed(reply, err);
    }
    if (pending === undefined) return undefined;
    return pending.then(undefined, (err: unknown) => this.outputFailed(reply, err));
  };

  private outputFailed(reply: Reply | RequestEvent, err: unknown): void {
    const record = this.store.get(reply.trace_id);
    if (record && !this.outputErrorLogged.has(record)) {
      this.outputErrorLogged.add(record);
      this.log.warn({ trace_id: reply.trace_id, seq: "seq" in reply ? reply.seq : undefined, err }, "an output failed to take a reply (counted; the turn goes on)");
    }
  }
}
