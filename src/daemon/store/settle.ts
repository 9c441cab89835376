/**
 * Ended turns whose outputs have not acknowledged every reply yet ("unsettled"):
 * the daemon that ended a turn keeps its lease (renewed with the running ones)
 * until each acknowledging output (the webhook) has acknowledged the terminal
 * reply; then the turn is marked settled in the store. When that daemon dies
 * first, the lease runs out and another daemon claims the ended turn only to
 * re-send what was not acknowledged (same idempotency keys): a reply committed
 * and published by a daemon killed before its webhook delivered it still reaches
 * the webhook (at least once), as after a restart of one daemon.
 */
export interface Unsettled {
  readonly id: string;
  readonly fence: string;
  /** The turn's terminal reply's seq. */
  readonly last: number;
  /** Per acknowledging output, the highest seq it acknowledged. */
  readonly acked: Map<string, number>;
}

export class Settling {
  private readonly turns = new Map<string, Unsettled>();
  /** Acknowledgements not written yet (the highest per turn and output), written with the next renewal. */
  private readonly pending = new Map<string, { turnId: string; output: string; seq: number }>();
  /** Per turn this daemon drives, what each output acknowledged (for settling it once ended). */
  private readonly driven = new Map<string, Map<string, number>>();

  /** `outputs`: the names of the outputs that acknowledge (with `bind`). */
  constructor(private readonly outputs: () => readonly string[]) {}

  /** The turn ended (or was claimed ended) with its terminal reply at `last`; acknowledgements known so far. */
  add(id: string, fence: string, last: number, acked: ReadonlyMap<string, number> = new Map()): void {
    this.turns.set(id, { id, fence, last, acked: new Map(acked) });
  }

  /** The turn ended here, its terminal reply at `last`: leased on until acknowledged. */
  ended(id: string, fence: string, last: number): void {
    this.add(id, fence, last, this.driven.get(id));
    this.driven.delete(id);
  }

  /** An output acknowledged `seq` of a turn (`driven`: this daemon drives it). */
  ack(id: string, output: string, seq: number, driven: boolean): void {
    const k = `${id}\u0000${output}`;
    if ((this.pending.get(k)?.seq ?? -1) < seq) this.pending.set(k, { turnId: id, output, seq });
    const acked = this.turns.get(id)?.acked ?? (driven ? (this.driven.get(id) ?? this.driven.set(id, new Map()).get(id)) : undefined);
    if (acked && (acked.get(output) ?? -1) < seq) acked.set(output, seq);
  }

  /** The acknowledgements not written yet, taken. */
  unwritten(): Array<{ turnId: string; output: string; seq: number }> {
    const out = [...this.pending.values()];
    this.pending.clear();
    return out;
  }

  /** The leases held for settling (renewed with the running turns'). */
  held(): Array<{ id: string; fence: string }> {
    return [...this.turns.values()].map((t) => ({ id: t.id, fence: t.fence }));
  }

  /** Forgets a turn (its lease was lost: another daemon settles it). */
  drop(id: string): void {
    this.turns.delete(id);
    this.driven.delete(id);
  }

  /** Takes the turns every acknowledging output has acknowledged to the end. */
  done(): Unsettled[] {
    const names = this.outputs();
    const out = [...this.turns.values()].filter((t) => names.every((n) => (t.acked.get(n) ?? -1) >= t.last));
    for (const t of out) this.turns.delete(t.id);
    return out;
  }
}
