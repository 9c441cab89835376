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
 * daemon acts on it, so a killed daemon loses nothing. `fdatasync` runs when a
 * turn is accepted (before its 202) or ends — one for all the turns of one turn
 * of the event loop (`synced()`) — and at most `syncIntervalMs` after any other record.
 *
 * Bound: the journal retains every running turn and the last `keepFinished`
 * that ended. Nothing is rewritten: a segment is deleted once it holds records
 * of no retained turn, so a turn's end costs an append (and sometimes an unlink)
 * whatever the journal holds.
 *
 * Behind a small interface (`TurnJournal`) so that another store (PostgreSQL:
 * tables turn, reply, request, ack with the same keys) can take its place.
 */
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Reply } from "../codec/reply.js";
import type { RequestEvent } from "../codec/requests.js";
import { replyJson } from "../sink/encoded.js";
import { forEachLine, SegmentedFile, type JournalFs } from "./journal-file.js";
import { entryOf, type Entry, type JournaledTurn } from "./journal-entry.js";
import type { TurnOutcome } from "./turns.js";

export type { JournaledTurn } from "./journal-entry.js";

/** What the daemon needs of a journal: what a turn is, what it said, how it ended, what outputs have. */
export interface TurnJournal {
  /** Takes the store, reads it back: the retained turns, in the order accepted. */
  open(): JournaledTurn[];
  /** An accepted turn; false when it could not be recorded (the daemon then refuses the turn). */
  turn(id: string, traceId: string, sessionId: string, directory: string, at: number, requestHash?: string, extra?: TurnExtra): boolean;
  prompt(id: string, messageId: string): void;
  reply(id: string, r: Reply): void;
  request(id: string, evt: RequestEvent): void;
  end(id: string, outcome: TurnOutcome): void;
  ack(id: string, output: string, seq: number): void;
  synced(): Promise<void>;
  /** Why new turns cannot be recorded now (undefined: they can). */
  refusal(): string | undefined;
  close(): void;
}

/** What else a turn is: its request, and the outputs it is owed to (an output added later is owed nothing of it). */
export interface TurnExtra {
  readonly request?: unknown;
  readonly outputs?: readonly string[];
}

export interface JournalOptions {
  readonly keepFinished: number;
  /** Segment size is an eighth of this: the journal holds its retained turns plus about that. */
  readonly maxBytes: number;
  readonly syncIntervalMs: number;
  /** Called once with the first error writing the journal (the daemon goes on without it). */
  readonly onError: (err: Error) => void;
  readonly fs?: JournalFs;
}

/** Reads one journal file: turns in the order accepted. Unreadable lines are skipped (and counted in `skipped`). */
export function readJournal(file: string, into = new Map<string, JournaledTurn>(), seen?: (id: string) => void): JournaledTurn[] & { skipped: number } {
  let skipped = 0;
  forEachLine(file, (line) => {
    if (line === "") return;
    const e = entryOf(line);
    if (e === undefined || !apply(into, e)) skipped++;
    else seen?.(e.id);
  });
  return Object.assign([...into.values()], { skipped });
}

/** One record into the turns read so far; false when it names no turn read. */
function apply(turns: Map<string, JournaledTurn>, e: Entry): boolean {
  if (e.t === "turn") {
    turns.set(e.id, {
      id: e.id, traceId: e.trace_id, sessionId: e.session_id, directory: e.directory, at: e.at,
      ...(e.h ? { requestHash: e.h } : {}), ...(e.req !== undefined ? { request: e.req } : {}), ...(e.outs ? { outputs: e.outs } : {}),
      messageId: undefined, replies: [], outcome: undefined, acks: new Map(), pending: new Map(),
    });
    return true;
  }
  const t = turns.get(e.id);
  if (!t) return false;
  if (e.t === "reply") {
    if (e.r.seq === t.replies.length) t.replies.push(e.r);
  } else if (e.t === "prompt") t.messageId = e.m;
  else if (e.t === "rq") {
    if (e.e.type === "request") t.pending.set(e.e.request.request_id, e.e);
    else t.pending.delete(e.e.request_id);
  } else if (e.t === "end") {
    t.outcome = e.outcome;
    t.pending.clear();
  } else t.acks.set(e.o, Math.max(e.seq, t.acks.get(e.o) ?? -1));
  return true;
}

export class Journal implements TurnJournal {
  private readonly files: SegmentedFile;
  private syncTimer: NodeJS.Timeout | undefined;
  private groupSync: Promise<void> | undefined;
  private failed = false;
  /** The last write failed (cleared by the next that succeeds). */
  private failing: Error | undefined;
  /** The store could not be opened for writing: read back, never written. */
  private readOnly: string | undefined;
  /** Records that could not be written. */
  failures = 0;
  /** Lines skipped at `open` (torn or corrupt). */
  skipped = 0;
  /** Retained turn → the segments holding its records; segment → the retained turns with records in it. */
  private readonly turnSegs = new Map<string, Set<number>>();
  private readonly segTurns = new Map<number, Set<string>>();
  /** Ended retained turns, oldest end first. */
  private readonly ended = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly opts: JournalOptions,
  ) {
    this.files = new SegmentedFile(dir, Math.max(1024, Math.floor(opts.maxBytes / 8)), (err) => this.fail(err), opts.fs);
  }

  get file(): string {
    return this.files.file;
  }

  open(): JournaledTurn[] {
    this.lock();
    const turns = new Map<string, JournaledTurn>();
    for (const seg of this.files.segments()) {
      this.skipped += readJournal(seg.file, turns, (id) => this.note(id, seg.n)).skipped;
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
    return all.filter((t) => this.turnSegs.has(t.id));
  }

  turn(id: string, traceId: string, sessionId: string, directory: string, at: number, requestHash?: string, extra: TurnExtra = {}): boolean {
    this.turnSegs.set(id, new Set());
    return this.write(
      {
        t: "turn", id, trace_id: traceId, session_id: sessionId, directory, at,
        ...(requestHash ? { h: requestHash } : {}),
        ...(extra.request !== undefined ? { req: extra.request } : {}),
        ...(extra.outputs ? { outs: [...extra.outputs] } : {}),
      },
      id,
    );
  }

  prompt(id: string, messageId: string): void {
    this.write({ t: "prompt", id, m: messageId }, id);
  }

  synced(): Promise<void> {
    this.groupSync ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.groupSync = undefined;
        this.sync();
        resolve();
      }),
    );
    return this.groupSync;
  }

  /** A reply's record, built around its JSON as encoded once for everything else (src/sink/encoded.ts). */
  reply(id: string, r: Reply): void {
    this.writeLine(`{"t":"reply","id":${JSON.stringify(id)},"r":${replyJson(r)}}\n`, id);
  }

  request(id: string, evt: RequestEvent): void {
    this.write({ t: "rq", id, e: evt }, id);
  }

  /** A turn's end, synced with the others of this turn of the event loop; past the bound, the oldest ended turn is let go. */
  end(id: string, outcome: TurnOutcome): void {
    this.write({ t: "end", id, outcome }, id);
    void this.synced();
    if (this.turnSegs.has(id)) this.ended.add(id);
    this.trim();
  }

  ack(id: string, output: string, seq: number): void {
    // A turn no longer retained owes nothing more.
    if (this.turnSegs.has(id)) this.write({ t: "ack", id, o: output, seq }, id);
  }

  refusal(): string | undefined {
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
    this.files.close();
    try {
      if (readFileSync(this.lockFile, "utf8").split("\n")[0] === String(process.pid)) unlinkSync(this.lockFile);
    } catch {
      // Gone already: nothing to let go of.
    }
  }

  private get lockFile(): string {
    return join(this.dir, "daemon.pid");
  }

  /**
   * `daemon.pid` names the daemon using the directory (its pid and its start time,
   * so a pid the system gave to another process since is not taken for it).
   */
  private lock(): void {
    let held = "";
    try {
      held = readFileSync(this.lockFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const [pidText, started] = held.split("\n");
    const pid = Number(pidText?.trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isOurDaemon(pid, started?.trim())) {
      throw new Error(`the state directory ${this.dir} is in use by another daemon (pid ${pid}); give each daemon its own --state-dir`);
    }
    try {
      writeFileSync(this.lockFile, `${process.pid}\n${startTime(process.pid) ?? ""}\n`, { mode: 0o600 });
    } catch (err) {
      // A full or read-only directory: the daemon starts, serves what it has, refuses new turns.
      this.readOnly = `the state directory cannot be written: ${describe(err)}`;
    }
  }

  private write(e: Entry, id: string): boolean {
    return this.writeLine(`${JSON.stringify(e)}\n`, id);
  }

  private writeLine(line: string, id: string): boolean {
    if (this.readOnly !== undefined) return false;
    const ok = this.files.append(line);
    if (ok) this.failing = undefined;
    this.note(id, this.files.activeNumber);
    this.syncTimer ??= setTimeout(() => this.sync(), this.opts.syncIntervalMs);
    return ok;
  }

  /** Turn `id` has a record in segment `n`. */
  private note(id: string, n: number): void {
    let segs = this.turnSegs.get(id);
    if (segs === undefined) {
      if (this.files.isOpen) return; // not retained (let go already)
      segs = new Set();
      this.turnSegs.set(id, segs);
    }
    if (segs.has(n)) return;
    segs.add(n);
    let turns = this.segTurns.get(n);
    if (turns === undefined) this.segTurns.set(n, (turns = new Set()));
    turns.add(id);
  }

  /** Lets go of ended turns beyond `keepFinished`; a segment no retained turn is in is deleted. */
  private trim(): void {
    for (const id of this.ended) {
      if (this.ended.size <= this.opts.keepFinished) break;
      this.ended.delete(id);
      for (const n of this.turnSegs.get(id) ?? []) {
        const turns = this.segTurns.get(n);
        turns?.delete(id);
        if (turns?.size === 0 && n < this.files.activeNumber) {
          this.segTurns.delete(n);
          this.files.drop(n);
        }
      }
      this.turnSegs.delete(id);
    }
  }

  private sync(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    this.files.sync();
  }

  private fail(err: Error): void {
    this.failures++;
    this.failing = err;
    if (this.failed) return;
    this.failed = true;
    this.opts.onError(err);
  }
}

const describe = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** The process's start time in clock ticks since boot (Linux), or undefined. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Is `pid` alive and the daemon that wrote the pid file (same start time; without one, a process running `serve`)? */
function isOurDaemon(pid: number, started: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = startTime(pid);
  if (now === undefined) return true; // no /proc: alive is all we can tell
  if (started) return started === now;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("serve");
  } catch {
    return true;
  }
}
