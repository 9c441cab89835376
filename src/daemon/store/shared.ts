/**
 * A daemon's side of the shared PostgreSQL store (./postgres.ts): which turns it
 * drives (owned, under a lease it renews every third of `leaseMs`) and which it
 * only serves (mirrored: another daemon drives them; their replies are read from
 * the store when it notifies a change, and at least once a second, and handed to
 * the local TurnRecord, so event subscribers — SSE, `Last-Event-ID` — work the same
 * on every daemon).
 *
 * Invariants:
 * - A reply reaches this daemon's record, subscribers and outputs only after its
 *   row is committed under this daemon's fence (ReplyPath publishes after `reply()`
 *   resolves). Outputs get replies only from the turn's owner.
 * - An owned turn whose write or renewal fails is given up at once (`lose`): its lease is
 *   released, its record becomes a mirror; what its adapter still delivers goes nowhere.
 * - A turn is claimed only when no local adapter still runs it (`driving`); an ended one
 *   stays leased until its outputs acknowledged it all (./settle.ts).
 */
import type { Reply } from "../../codec/reply.js";
import type { RequestEvent } from "../../codec/requests.js";
import { replyJson } from "../../sink/encoded.js";
import type { DaemonCore } from "../core.js";
import { describeStored, type TurnOutcome, type TurnRecord } from "../turns.js";
import { FencedError, type NewTurn, type PgStore, type StoredTurn } from "./postgres.js";
import { Settling } from "./settle.js";
import { resendEnded, takeOver } from "./takeover.js";
import { TurnWriter } from "./writer.js";

const WRITE_LAG = 1_000; // replies of one turn waiting for the database before the adapter is made to wait
/** Mirrors are read at least this often, whatever notifications say (a lost LISTEN connection costs at most this). */
const POLL_MS = 1_000;

interface Mirror {
  readonly record: TurnRecord;
  busy: boolean;
  again: boolean;
}

export class SharedTurns {
  private readonly owned = new Map<string, TurnWriter>();
  private readonly mirrors = new Map<string, Mirror>();
  /** Turns whose adapter runs in this process (set by run.ts until the adapter's turn ends). */
  readonly driving = new Set<string>();
  /** Acknowledgements, and ended turns leased until acknowledged (./settle.ts). */
  private readonly settling = new Settling(() => this.core.outputs.entries().filter(({ sink }) => typeof sink.bind === "function").map(({ name }) => name));
  private timers: NodeJS.Timeout[] = [];
  private ticks = 0;
  private ticking = false;
  takeovers = 0; // turns claimed from other daemons (for the log and /metrics)

  constructor(
    private readonly core: DaemonCore,
    readonly pg: PgStore,
  ) {}

  async open(): Promise<void> {
    await this.pg.open();
    this.pg.onChange((id) => {
      if (this.mirrors.has(id)) void this.refresh(id);
    });
  }

  /** Starts renewing, claiming and polling. */
  start(): void {
    this.timers.push(setInterval(() => void this.tick(), Math.max(50, Math.floor(this.core.options.leaseMs / 3))));
    this.timers.push(setInterval(() => { for (const id of this.mirrors.keys()) void this.refresh(id); }, POLL_MS));
    void this.tick();
  }

  /** Stores a turn accepted here, owned by this daemon (undefined); or returns the turn already stored under its trace id. */
  async accept(t: NewTurn): Promise<StoredTurn | undefined> {
    const r = await this.pg.accept(t);
    if (!r.created) return r.existing;
    this.owned.set(t.id, new TurnWriter(this.pg, t.id, r.fence));
    return undefined;
  }

  /**
   * Writes an owned turn's reply. `written` resolves once it is committed (and
   * rejects if this daemon no longer drives the turn); `wait` is set when the
   * turn's backlog is past `WRITE_LAG`, for the adapter to wait on.
   */
  reply(turnId: string, reply: Reply): Promise<void> {
    const w = this.owned.get(turnId);
    if (!w) return Promise.reject(new FencedError(turnId, "not driven by this daemon"));
    return w.reply({ seq: reply.seq, json: replyJson(reply) }).catch((err: unknown) => {
      this.lose(turnId, err as Error);
      throw err;
    });
  }

  /**
   * The turn's user message id, committed before the prompt goes out (the adapter waits): a
   * successor that finds no id, or an id OpenCode does not have, knows the prompt was never sent.
   * When it cannot be stored the turn is given up unsent (another daemon runs it).
   */
  async prompt(turnId: string, messageId: string): Promise<void> {
    const w = this.owned.get(turnId);
    if (!w) throw new FencedError(turnId, "not driven by this daemon: not prompted");
    try {
      await this.pg.prompt(turnId, w.fence, messageId);
    } catch (err) {
      this.lose(turnId, err as Error);
      throw err;
    }
  }

  request(_turnId: string, _evt: RequestEvent): void {} // pending requests live on the daemon that drives the turn

  /** Whether the adapter should wait for the writes of this turn (bounded memory). */
  lagging(turnId: string): boolean {
    return (this.owned.get(turnId)?.backlog ?? 0) > WRITE_LAG;
  }

  /** An owned turn ended: written after its replies, then finished here. A turn driven elsewhere is left to its mirror. */
  end(record: TurnRecord, outcome: TurnOutcome): void {
    this.driving.delete(record.turnId);
    const w = this.owned.get(record.turnId);
    if (!w) return;
    w.end(outcome).then(
      () => {
        this.owned.delete(record.turnId);
        // Still leased until the outputs acknowledged it all (./settle.ts).
        this.settling.ended(record.turnId, w.fence, record.total - 1);
        this.core.store.finish(record, outcome);
      },
      (err: unknown) => this.lose(record.turnId, err as Error),
    );
  }

  /** An output acknowledged `seq` of a turn: written with the next renewal (the highest only). */
  ack(turnId: string, output: string, seq: number): void {
    this.settling.ack(turnId, output, seq, this.owned.has(turnId));
  }

  /** The turn under `traceId`: this daemon's record, or one mirrored from the store (with its replies so far). */
  async find(traceId: string): Promise<TurnRecord | undefined> {
    const local = this.core.store.get(traceId);
    if (local) return local;
    const row = await this.pg.byTrace(traceId);
    if (!row) return undefined;
    return this.mirror(row);
  }

  /** A local record of a turn driven elsewhere, kept up to date from the store. */
  async mirror(row: StoredTurn): Promise<TurnRecord> {
    const record = this.core.store.get(row.traceId) ?? this.core.store.create(row.traceId, row.sessionId, row.directory, performance.now(), row.id, row.acceptedMs);
    describeStored(record, row.requestHash, row.request);
    if (!record.finished && !this.mirrors.has(row.id) && !this.owned.has(row.id)) {
      record.mirrored = true;
      this.mirrors.set(row.id, { record, busy: false, again: false });
    }
    await this.refresh(row.id);
    return record;
  }

  /** Reads a mirrored turn's new replies (and its end) from the store; one read at a time per turn. */
  private async refresh(turnId: string): Promise<void> {
    const m = this.mirrors.get(turnId);
    if (!m) return;
    if (m.busy) {
      m.again = true;
      return;
    }
    m.busy = true;
    try {
      do {
        m.again = false;
        // The state before the replies: a turn seen ended has all its replies written already.
        const row = await this.pg.byId(turnId);
        for (const r of await this.pg.replies(turnId, m.record.total)) this.core.store.add(JSON.parse(r.json) as Reply);
        if (this.mirrors.get(turnId) !== m) return;
        if (!row) {
          this.mirrors.delete(turnId);
          this.core.store.finish(m.record, "internal");
        } else if (row.state === "ended") {
          this.mirrors.delete(turnId);
          this.core.store.finish(m.record, (row.outcome ?? "internal") as TurnOutcome);
        }
      } while (m.again);
    } catch (err) {
      this.core.log.warn({ turn_id: turnId, err: (err as Error).message }, "could not read a turn from the store (retried within a second)");
    } finally {
      m.busy = false;
    }
  }

  /** Gives up an owned turn after a failed write or renewal: its lease released, its record a mirror. */
  private lose(turnId: string, err: Error): void {
    const w = this.owned.get(turnId);
    if (!w) return;
    this.owned.delete(turnId);
    this.settling.drop(turnId);
    const record = [...this.core.store.all()].find((t) => t.turnId === turnId);
    this.core.log.warn({ turn_id: turnId, trace_id: record?.traceId, err: err.message }, "this daemon no longer drives the turn: another may claim it");
    void this.pg.release([{ id: turnId, fence: w.fence }]).catch(() => {});
    if (record && !record.finished) {
      record.mirrored = true;
      this.mirrors.set(turnId, { record, busy: false, again: false });
      void this.refresh(turnId);
    }
  }

  /** Renews the leases held, gives up those lost, flushes acknowledgements, claims turns whose lease ran out. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const held = [...this.owned.values()].map((w) => ({ id: w.turnId, fence: w.fence }));
      const settling = this.settling.held();
      const still = await this.pg.renew([...held, ...settling]);
      for (const h of held) if (!still.has(h.id) && this.owned.get(h.id)?.fence === h.fence) this.lose(h.id, new FencedError(h.id, "lease not renewed"));
      for (const h of settling) if (!still.has(h.id)) this.settling.drop(h.id);
      for (const a of this.settling.unwritten()) await this.pg.ack(a.turnId, a.output, a.seq);
      // Acknowledged to the end (and written just above): settled, the lease given up with it.
      await this.pg.settle(this.settling.done());
      // How many more turns this daemon may drive now: claims take at most this many.
      const room = this.core.draining ? 0 : this.core.options.maxActiveTurns - this.core.store.running().length - this.core.reserved.size;
      if (room > 0) for (const row of await this.pg.claim(room)) await this.claimed(row);
      if (++this.ticks % 20 === 0) await this.pg.prune(this.core.options.maxTurns);
    } catch (err) {
      this.core.log.warn({ err: (err as Error).message }, "the store could not be reached (leases, claims): retrying");
    } finally {
      this.ticking = false;
    }
  }

  private async claimed(row: StoredTurn): Promise<void> {
    if (row.state === "ended") {
      // Ended, but its outputs had not acknowledged all of it when its daemon stopped: re-sent, then settled here.
      const [, replies, acks] = await Promise.all([this.mirror(row), this.pg.replies(row.id), this.pg.acks(row.id)]);
      this.settling.add(row.id, row.fence, replies.length - 1, acks);
      this.core.log.info({ trace_id: row.traceId, turn_id: row.id, previous_owner: row.previousOwner }, "re-sending an ended turn its outputs had not acknowledged");
      void resendEnded(this.core, row).catch((err: unknown) => this.core.log.warn({ trace_id: row.traceId, err: (err as Error).message }, "could not re-send an ended turn"));
      return;
    }
    if (this.driving.has(row.id)) {
      // Our own adapter still runs it (we lost the lease a moment ago): let another daemon take it.
      await this.pg.release([{ id: row.id, fence: row.fence }]);
      return;
    }
    const record = await this.mirror(row);
    this.mirrors.delete(row.id);
    record.mirrored = false;
    this.owned.set(row.id, new TurnWriter(this.pg, row.id, row.fence));
    this.takeovers++;
    this.core.log.info({ trace_id: row.traceId, turn_id: row.id, replies: record.total, previous_owner: row.previousOwner }, "took over a turn whose lease ran out");
    void takeOver(this.core, row, record, this.core.input.adapter?.turnTimeoutMs ?? 30 * 60_000).catch((err: unknown) => this.lose(row.id, err as Error));
  }

  /** Shutting down with turns still running: stops renewing and claiming, releases every lease held (another daemon claims them at once). Returns how many. */
  async handOver(): Promise<number> {
    this.stopTimers();
    const held = [...[...this.owned.values()].map((w) => ({ id: w.turnId, fence: w.fence })), ...this.settling.held()];
    this.owned.clear();
    await this.pg.release(held).catch((err: unknown) => this.core.log.warn({ err: (err as Error).message }, "could not release the leases (they run out by themselves)"));
    if (held.length > 0) this.core.log.info({ turns: held.length }, "handed the running turns over to the other daemons");
    return held.length;
  }

  private stopTimers(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  /** Stops the timers, writes the last acknowledgements and closes the connections. */
  async close(): Promise<void> {
    this.stopTimers();
    for (const a of this.settling.unwritten()) await this.pg.ack(a.turnId, a.output, a.seq).catch(() => {});
    await this.pg.close();
  }
}
