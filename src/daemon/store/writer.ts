/**
 * One owned turn's writes to the PostgreSQL store, in order: replies are batched
 * (everything queued while a write is in flight goes in the next single INSERT,
 * so a fast stream costs a round trip per batch, not per reply), and the turn's
 * end is written after every reply queued before it. Each `reply()` resolves once
 * its row is committed, in seq order; after the first failure (fenced: another
 * daemon holds the turn; or the database still unreachable after a few tries)
 * every later write fails at once: a turn's replies never land with a hole.
 */
import { FencedError, type PgStore, type StoredReply } from "./postgres.js";

/** Waits (ms) before trying a write again that failed without being refused. */
const RETRIES = [100, 300, 1_000];

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class TurnWriter {
  private queue: Array<{ reply: StoredReply } & Waiter> = [];
  private ending: ({ outcome: string } & Waiter) | undefined;
  private busy = false;
  /** Set by the first failed write; every later write fails with it. */
  failed: Error | undefined;
  /** Replies handed to `reply()` and not committed (or refused) yet. */
  backlog = 0;

  constructor(
    private readonly pg: PgStore,
    readonly turnId: string,
    readonly fence: string,
  ) {}

  reply(r: StoredReply): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    this.backlog++;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ reply: r, resolve, reject });
      void this.pump();
    }).finally(() => this.backlog--);
  }

  end(outcome: string): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => {
      this.ending = { outcome, resolve, reject };
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 || this.ending) {
        if (this.queue.length > 0) {
          const batch = this.queue;
          this.queue = [];
          await this.run(batch, () => this.pg.append(this.turnId, this.fence, batch.map((b) => b.reply)));
        } else {
          const e = this.ending!;
          this.ending = undefined;
          await this.run([e], () => this.pg.end(this.turnId, this.fence, e.outcome));
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private async run(waiters: readonly Waiter[], write: () => Promise<void>): Promise<void> {
    for (let attempt = 0; !this.failed; attempt++) {
      try {
        await write();
        for (const w of waiters) w.resolve();
        return;
      } catch (err) {
        // A refusal is final; a database that did not answer (no free connection in time, a
        // restart) is tried again a few times: the lease outlasts these waits.
        if (err instanceof FencedError || attempt >= RETRIES.length) this.failed = err as Error;
        else await new Promise((r) => setTimeout(r, RETRIES[attempt]));
      }
    }
    for (const w of waiters) w.reject(this.failed);
  }
}
