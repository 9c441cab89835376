/**
 * The daemon's journal: an append-only JSON Lines file in the state directory
 * (`journal.jsonl`) that outlives the process. It records, in order:
 *
 *   {"t":"turn","id":turn_id,"trace_id","session_id","directory","at"}   a turn was accepted
 *   {"t":"reply","id":turn_id,"r":reply}                                 a reply, before it goes anywhere
 *   {"t":"end","id":turn_id,"outcome"}                                   the turn ended
 *   {"t":"ack","id":turn_id,"o":output,"seq"}                            an output acknowledged seq (and all before it)
 *
 * Durability: every record is written with a synchronous `write(2)` before the
 * daemon acts on it (a reply reaches no subscriber or output before its record
 * is in the file), so a killed or crashed daemon (SIGKILL, OOM, an exception)
 * loses nothing. `fdatasync` runs when a turn is accepted (before its 202) or
 * ends — one for all the turns accepted or ended in the same turn of the event
 * loop (`synced()`, a group commit) — and at most `syncIntervalMs` after any other
 * record: a power loss can lose at most that window of replies and acknowledgements.
 *
 * Why a file and not a database: Node 20 has no built-in SQLite, and
 * better-sqlite3 downloads or compiles a native module at install. One daemon
 * appends and reads its own log, which is all this needs. The records are
 * plain rows (turn, reply, end, ack), so several daemons sharing PostgreSQL later
 * would map them onto three tables with the same keys.
 *
 * Bound: the journal is compacted when the daemon starts and whenever it grows
 * past `maxBytes`: only turns still running, and the last `keepFinished` turns
 * that ended, are kept (with their acknowledgements). A torn last line (the
 * process died mid-write) is ignored.
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Reply } from "../codec/reply.js";
import { replyJson } from "../sink/encoded.js";
import type { TurnOutcome } from "./turns.js";

export interface JournaledTurn {
  readonly id: string;
  readonly traceId: string;
  readonly sessionId: string;
  readonly directory: string;
  /** Wall-clock ms when the turn was accepted. */
  readonly at: number;
  /** The hash of the request that started it (a repeated request is recognised across a restart). */
  readonly requestHash?: string;
  readonly replies: Reply[];
  outcome: TurnOutcome | undefined;
  /** Per output: the highest seq it acknowledged. */
  readonly acks: Map<string, number>;
}

type Entry =
  | { t: "turn"; id: string; trace_id: string; session_id: string; directory: string; at: number; h?: string }
  | { t: "reply"; id: string; r: Reply }
  | { t: "end"; id: string; outcome: TurnOutcome }
  | { t: "ack"; id: string; o: string; seq: number };

export interface JournalOptions {
  readonly keepFinished: number;
  readonly maxBytes: number;
  readonly syncIntervalMs: number;
  /** Called once with the first error writing the journal (the daemon goes on without it). */
  readonly onError: (err: Error) => void;
}

/** Reads a journal file: turns in the order accepted. Unreadable lines are skipped. */
export function readJournal(file: string): JournaledTurn[] {
  if (!existsSync(file)) return [];
  const turns = new Map<string, JournaledTurn>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    let e: Entry;
    try {
      e = JSON.parse(line) as Entry;
    } catch {
      continue;
    }
    if (e.t === "turn") {
      turns.set(e.id, { id: e.id, traceId: e.trace_id, sessionId: e.session_id, directory: e.directory, at: e.at, ...(e.h ? { requestHash: e.h } : {}), replies: [], outcome: undefined, acks: new Map() });
      continue;
    }
    const t = turns.get(e.id);
    if (!t) continue;
    if (e.t === "reply") {
      if (e.r.seq === t.replies.length) t.replies.push(e.r);
    } else if (e.t === "end") t.outcome = e.outcome;
    else if (e.t === "ack") t.acks.set(e.o, Math.max(e.seq, t.acks.get(e.o) ?? -1));
  }
  return [...turns.values()];
}

/** The turns a compaction keeps: every running one, and the last `keepFinished` that ended. */
function retained(turns: readonly JournaledTurn[], keepFinished: number): JournaledTurn[] {
  const finished = turns.filter((t) => t.outcome !== undefined);
  const drop = new Set(finished.slice(0, Math.max(0, finished.length - keepFinished)));
  return turns.filter((t) => !drop.has(t));
}

function entriesOf(t: JournaledTurn): Entry[] {
  const out: Entry[] = [{ t: "turn", id: t.id, trace_id: t.traceId, session_id: t.sessionId, directory: t.directory, at: t.at, ...(t.requestHash ? { h: t.requestHash } : {}) }];
  for (const r of t.replies) out.push({ t: "reply", id: t.id, r });
  if (t.outcome !== undefined) out.push({ t: "end", id: t.id, outcome: t.outcome });
  for (const [o, seq] of t.acks) out.push({ t: "ack", id: t.id, o, seq });
  return out;
}

export class Journal {
  readonly file: string;
  private fd: number | undefined;
  private bytes = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  private groupSync: Promise<void> | undefined;
  private failed = false;
  /** Records that could not be written. */
  failures = 0;

  constructor(
    dir: string,
    private readonly opts: JournalOptions,
  ) {
    this.file = join(dir, "journal.jsonl");
  }

  /**
   * Takes the state directory (one daemon at a time: a second one would
   * interleave and compact the same file), compacts the journal and opens it
   * for appending; returns the turns it holds (for recovery).
   */
  open(): JournaledTurn[] {
    this.lock();
    const turns = this.compact();
    this.fd = openSync(this.file, "a", 0o600);
    this.bytes = statSync(this.file).size;
    return turns;
  }

  /** An accepted turn; its `202` waits for `synced()`. */
  turn(id: string, traceId: string, sessionId: string, directory: string, at: number, requestHash?: string): void {
    this.write({ t: "turn", id, trace_id: traceId, session_id: sessionId, directory, at, ...(requestHash ? { h: requestHash } : {}) }, false);
  }

  /**
   * Resolves once everything written so far is synced: one `fdatasync` for all the
   * records written in this turn of the event loop (a group commit: N turns accepted
   * or ended together cost one disk flush, not N).
   */
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

  /** A reply's record, built around its JSON as encoded once for everything else (src/sink/encoded.ts): the same line as `{t, id, r}` would give. */
  reply(id: string, r: Reply): void {
    this.writeLine(`{"t":"reply","id":${JSON.stringify(id)},"r":${replyJson(r)}}\n`, false);
  }

  /** A turn's end, synced with the others of this turn of the event loop (`synced()`). */
  end(id: string, outcome: TurnOutcome): void {
    this.write({ t: "end", id, outcome }, false);
    void this.synced();
    if (this.bytes > this.opts.maxBytes) this.recompact();
  }

  ack(id: string, output: string, seq: number): void {
    this.write({ t: "ack", id, o: output, seq }, false);
  }

  /** Syncs and closes the file, and lets go of the state directory. */
  close(): void {
    if (this.fd === undefined) return;
    this.sync();
    closeSync(this.fd);
    this.fd = undefined;
    try {
      unlinkSync(this.lockFile);
    } catch {
      // Gone already: nothing to let go of.
    }
  }

  private get lockFile(): string {
    return join(dirname(this.file), "daemon.pid");
  }

  /** `daemon.pid` names the daemon using the directory; one left by a process that is gone (killed) is taken over. */
  private lock(): void {
    try {
      writeFileSync(this.lockFile, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number(readFileSync(this.lockFile, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new Error(`the state directory ${dirname(this.file)} is in use by another daemon (pid ${pid}); give each daemon its own --state-dir`);
    }
    writeFileSync(this.lockFile, `${process.pid}\n`, { mode: 0o600 });
  }

  private write(e: Entry, syncNow: boolean): void {
    this.writeLine(`${JSON.stringify(e)}\n`, syncNow);
  }

  private writeLine(line: string, syncNow: boolean): void {
    if (this.fd === undefined) return;
    try {
      this.bytes += writeSync(this.fd, line);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (syncNow) this.sync();
    else this.syncTimer ??= setTimeout(() => this.sync(), this.opts.syncIntervalMs);
  }

  private sync(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.fd === undefined) return;
    try {
      fdatasyncSync(this.fd);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private fail(err: Error): void {
    this.failures++;
    if (this.failed) return;
    this.failed = true;
    this.opts.onError(err);
  }

  /** Rewrites the file with the retained turns only (write a copy, fsync, rename): a crash midway leaves the old file. */
  private compact(): JournaledTurn[] {
    const turns = retained(readJournal(this.file), this.opts.keepFinished);
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      for (const t of turns) writeSync(fd, entriesOf(t).map((e) => `${JSON.stringify(e)}\n`).join(""));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    return turns;
  }

  private recompact(): void {
    try {
      if (this.fd !== undefined) {
        this.sync();
        closeSync(this.fd);
      }
      this.compact();
      this.fd = openSync(this.file, "a", 0o600);
      this.bytes = statSync(this.file).size;
    } catch (err) {
      this.fail(err as Error);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
