/**
 * Which segments of the journal hold each retained turn's records, and which
 * retained turns each segment holds: a segment no retained turn is in any more
 * is deleted (so the journal is never rewritten whole; see journal.ts).
 */
import type { SegmentedFile } from "./journal-file.js";

export class SegmentIndex {
  private readonly turnSegs = new Map<string, Set<number>>();
  private readonly segTurns = new Map<number, Set<string>>();
  private lastNoted: string | undefined;
  private lastNotedSeg = -1;

  /** `isOpen`: writing has begun (after start-up's read-back); `activeNumber`: the segment being written, never dropped. */
  constructor(private readonly files: Pick<SegmentedFile, "isOpen" | "activeNumber" | "drop">) {}

  /** Turn `id` is retained from now on (a new turn, before its first record). */
  retain(id: string): void {
    this.turnSegs.set(id, new Set());
  }

  retains(id: string): boolean {
    return this.turnSegs.has(id);
  }

  /** Turn `id` has a record in segment `n`. */
  note(id: string, n: number): void {
    // The hot path (a turn's replies, one after another): the same turn and segment as the last record.
    if (id === this.lastNoted && n === this.lastNotedSeg) return;
    let segs = this.turnSegs.get(id);
    if (segs === undefined) {
      if (this.files.isOpen) return; // not retained (let go already)
      segs = new Set();
      this.turnSegs.set(id, segs);
    }
    this.lastNoted = id;
    this.lastNotedSeg = n;
    if (segs.has(n)) return;
    segs.add(n);
    let turns = this.segTurns.get(n);
    if (turns === undefined) this.segTurns.set(n, (turns = new Set()));
    turns.add(id);
  }

  /** Turn `id` is retained no more: a segment that no retained turn is in is deleted. */
  release(id: string): void {
    for (const n of this.turnSegs.get(id) ?? []) {
      const turns = this.segTurns.get(n);
      turns?.delete(id);
      if (turns?.size === 0 && n < this.files.activeNumber) {
        this.segTurns.delete(n);
        this.files.drop(n);
      }
    }
    this.turnSegs.delete(id);
    if (this.lastNoted === id) this.lastNoted = undefined;
  }
}
