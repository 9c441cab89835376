/**
 * The daemon's journal: append-only JSON Lines in the state directory that
 * outlive the process (segments: src/daemon/journal-file.ts). It records, in order:
 *
 *   {"t":"turn","id","trace_id","session_id","directory","at","h"?,"req"?}   a turn was accepted (its request)
 *   {"t":"prompt","id","m"}                 the turn's own user message id, before the prompt is sent
 *   {"t":"reply","id","r"}                  a reply, before it goes anywhere
 *   {"t":"rq","id","e"}                     a permission/question request event (pending until resolved)
 *   {"t":"end","id","outcome"}              the turn ended
 *   {"t":"ack","id","o","seq"}              an output acknowledged seq (and all before it)
 *
 * Durability: every record is written with a synchronous `write(2)` before the
 * daemon acts on it, so a killed daemon loses nothing. With `coalesce`, the reply
 * records of one turn of the event loop go in one `write(2)` (`flush()`), with one
 * acknowledgement record per turn and output (its highest seq) for that tick: before
 * any of them leaves the process (whatever sends a reply — an SSE subscriber's
 * socket, an output — calls `flush()` first) and at the end of that tick at the
 * latest; every other record flushes them first, so the file keeps their order.
 * `fdatasync` runs when a turn is accepted (before its 202) or ends — one for all
 * the turns of one turn of the event loop (`synced()`) — and at most
 * `syncIntervalMs` after any other record, on libuv's thread pool: the event loop
 * goes on serving other turns while the disk syncs.
 *
 * Bound: the journal retains every running turn and the last `keepFinished`
 * that ended. Nothing is rewritten: a segment is deleted once it holds records
 * of no retained turn, so a turn's end costs an append (and sometimes an unlink)
 * whatever the journal holds.
 *
 * The reply path sees it as a `TurnLog` (./store/types.ts), as it sees the
 * shared PostgreSQL store that takes its place with several daemons.
 */
import type { Reply } from "../codec/reply.js";
import type { RequestEvent } from "../codec/requests.js";
import { replyJson } from "../sink/encoded.js";
import { errorMessage } from "../util/errors.js";
import { SegmentedFile, type JournalFs } from "./journal-file.js";
import { readJournal, type Entry, type JournaledTurn } from "./journal-entry.js";
import { SegmentIndex } from "./journal-segments.js";
import { lockStateDir, unlockStateDir } from "./state.js";
import type { TurnOutcome } from "./turns.js";

export { readJournal, type JournaledTurn } from "./journal-entry.js";

export interface JournalOptions {
  readonly keepFinished: number;
  /** Segment size is an eighth of this: the journal holds its retained turns plus about that. */
  readonly maxBytes: number;
  readonly syncIntervalMs: number;
  /** Reply records of one tick in one write(2), flushed before any of them is sent (see above). */
  readonly coalesce?: boolean;
  /** Called once with the first error writing the journal (the daemon goes on without it). */
  readonly onError: (err: Error) => void;
  readonly fs?: JournalFs;
}

export class Journal {
  private readonly files: SegmentedFile;
  private syncTimer: NodeJS.Timeout | undefined;
  private groupSync: Promise<void> | undefined;
  /** The fdatasync on the thread pool, and the one queued behind it for records written meanwhile. */
  private syncing: Promise<void> | undefined;
  private syncQueued: Promise<void> | undefined;
  /** Reply records held back until `flush()` (`coalesce`), and the turn of each, in order. */
  private held = "";
  private heldIds: string[] = [];
  /**
   * Acknowledgements held back until `flush()` (`coalesce`), the highest seq per turn and
   * output: an ack covers every seq before it, so a batch of acks costs one record.
   */
  private readonly heldAcks = new Map<string, { id: string; o: string; seq: number }>();
  private readonly flushNow = () => this.flush();
  private failed = false;
  /** The last write failed (cleared by the next that succeeds). */
  private failing: Error | undefined;
  /** The store could not be opened for writing: read back, never written. */
  private readOnly: string | undefined;
  /** Records that could not be written. */
  failures = 0;
  /** Lines skipped at `open` (torn or corrupt). */
  skipped = 0;
  /** Which segments hold each retained turn's records. */
  private readonly index: SegmentIndex;
  /** Ended retained turns, oldest end first. */
  private readonly ended = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly opts: JournalOptions,
  ) {
    this.files = new SegmentedFile(dir, Math.max(1024, Math.floor(opts.maxBytes / 8)), (err) => this.fail(err), opts.fs);
    this.index = new SegmentIndex(this.files);
  }

  get file(): string {
    return this.files.file;
  }

  /** Takes the state directory, reads the journal back: the retained turns, in the order accepted. */
  open(): JournaledTurn[] {
    const why = lockStateDir(this.dir);
    if (why !== undefined) this.readOnly = why;
    const turns = new Map<string, JournaledTurn>();
    for (const seg of this.files.segments()) {
      this.skipped += readJournal(seg.file, turns, (id) => this.index.note(id, seg.n)).skipped;
    }
    const all = [...turns.values()];
    for (const t of all) if (t.outcome !== undefined) this.ended.add(t.id);
    this.trim();
    try {
      this.files.open();
    } catch (err) {
      this.readOnly = `the journal cannot be written: ${describe(err)}`;
      this.opts.onError(err as Error);
    }
    return all.filter((t) => this.index.retains(t.id));
  }

  /**
   * An accepted turn, with its request and the outputs it is owed to (an output added
   * later is owed nothing of it); false when it could not be recorded (the daemon then refuses the turn).
   */
  turn(id: string, traceId: string, sessionId: string, directory: string, at: number, requestHash?: string, extra: { readonly request?: unknown; readonly outputs?: readonly string[] } = {}): boolean {
    this.index.retain(id);
    const ok = this.write(
      {
        t: "turn", id, trace_id: traceId, session_id: sessionId, directory, at,
        ...(requestHash ? { h: requestHash } : {}),
        ...(extra.request !== undefined ? { req: extra.request } : {}),
        ...(extra.outputs ? { outs: [...extra.outputs] } : {}),
      },
      id,
    );
    // A turn that could not be recorded is refused: nothing of it is retained.
    if (!ok) this.index.release(id);
    return ok;
  }

  prompt(id: string, messageId: string): void {
    this.write({ t: "prompt", id, m: messageId }, id);
  }

  synced(): Promise<void> {
    this.groupSync ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.groupSync = undefined;
        void this.sync().then(resolve);
      }),
    );
    return this.groupSync;
  }

  /** A reply's record, built around its JSON as encoded once for everything else (src/sink/encoded.ts). */
  reply(id: string, r: Reply): void {
    const line = `{"t":"reply","id":${JSON.stringify(id)},"r":${replyJson(r)}}\n`;
    if (this.opts.coalesce !== true) {
      this.writeLine(line, id);
      return;
    }
    if (this.held === "" && this.heldAcks.size === 0) process.nextTick(this.flushNow);
    this.held += line;
    this.heldIds.push(id);
  }

  /** Writes the records held back (`coalesce`) now: called before anything of them leaves the process. */
  flush(): void {
    if (this.held === "" && this.heldAcks.size === 0) return;
    let lines = this.held;
    const ids = this.heldIds;
    for (const a of this.heldAcks.values()) {
      lines += `${JSON.stringify({ t: "ack", id: a.id, o: a.o, seq: a.seq } satisfies Entry)}\n`;
      ids.push(a.id);
    }
    this.heldAcks.clear();
    this.held = "";
    this.heldIds = [];
    this.append(lines, ids);
  }

  request(id: string, evt: RequestEvent): void {
    this.write({ t: "rq", id, e: evt }, id);
  }

  /** A turn's end, synced with the others of this turn of the event loop; past the bound, the oldest ended turn is let go. */
  end(id: string, outcome: TurnOutcome): void {
    this.write({ t: "end", id, outcome }, id);
    void this.synced();
    if (this.index.retains(id)) this.ended.add(id);
    this.trim();
  }

  ack(id: string, output: string, seq: number): void {
    // A turn no longer retained owes nothing more.
    if (!this.index.retains(id)) return;
    if (this.opts.coalesce !== true) {
      this.write({ t: "ack", id, o: output, seq }, id);
      return;
    }
    const key = `${id}\n${output}`;
    const held = this.heldAcks.get(key);
    if (held !== undefined) {
      held.seq = Math.max(held.seq, seq);
      return;
    }
    if (this.held === "" && this.heldAcks.size === 0) process.nextTick(this.flushNow);
    this.heldAcks.set(key, { id, o: output, seq });
  }

  /** Why new turns cannot be recorded now (undefined: they can). */
  refusal(): string | undefined {
    this.flush();
    if (this.readOnly !== undefined) return this.readOnly;
    if (this.failing === undefined) return undefined;
    // Try again: a full disk may have room now.
    const err = this.failing;
    this.failing = undefined;
    if (this.files.append("\n")) return undefined;
    return `the journal cannot be written: ${describe(this.failing ?? err)}`;
  }

  close(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (!this.files.isOpen) return;
    this.flush();
    this.files.close();
    unlockStateDir(this.dir);
  }

  private write(e: Entry, id: string): boolean {
    return this.writeLine(`${JSON.stringify(e)}\n`, id);
  }

  private writeLine(line: string, id: string): boolean {
    // Held-back reply records first: the file keeps the order the daemon acted in.
    this.flush();
    return this.append(line, [id]);
  }

  /** Appends records of the turns `ids`; a sync follows within `syncIntervalMs`. */
  private append(lines: string, ids: readonly string[]): boolean {
    if (this.readOnly !== undefined) return false;
    // The segment they go to: a roll after this append gives the active one a new number.
    const n = this.files.activeNumber;
    const ok = this.files.append(lines);
    if (ok) this.failing = undefined;
    for (const id of ids) this.index.note(id, n);
    this.syncTimer ??= setTimeout(() => void this.sync(), this.opts.syncIntervalMs);
    return ok;
  }

  /** Lets go of ended turns beyond `keepFinished`. */
  private trim(): void {
    for (const id of this.ended) {
      if (this.ended.size <= this.opts.keepFinished) break;
      this.ended.delete(id);
      this.index.release(id);
    }
  }

  /**
   * fdatasync on the thread pool; resolves once every record written before the call is on
   * disk. One in flight may have started before the latest records: one more runs after it,
   * shared by every caller meanwhile.
   */
  private sync(): Promise<void> {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    this.flush();
    if (this.syncing === undefined) {
      this.syncing = this.files.syncAsync().finally(() => (this.syncing = undefined));
      return this.syncing;
    }
    this.syncQueued ??= this.syncing.then(() => {
      this.syncQueued = undefined;
      return this.sync();
    });
    return this.syncQueued;
  }

  private fail(err: Error): void {
    this.failures++;
    this.failing = err;
    if (this.failed) return;
    this.failed = true;
    this.opts.onError(err);
  }
}

const describe = (err: unknown) => (err as NodeJS.ErrnoException).code ?? errorMessage(err);