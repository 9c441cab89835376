/**
 * The journal's files: an active segment `journal.jsonl` that records are
 * appended to, and older segments `journal.<n>.jsonl` (n ascending), each a
 * JSON Lines file. A segment is deleted once no turn the journal retains has a
 * record in it, so the journal is never rewritten: a turn's end costs an append
 * and, now and then, an `unlink` (src/daemon/journal.ts decides which).
 *
 * Rolling (the active segment grew past its bound): the next file is created
 * first, then the active one is renamed to its number and the new one takes its
 * name. Any step that fails leaves the old descriptor open and in use (the
 * failure is reported, and the roll tried again after as many bytes again): a
 * descriptor is closed only once its successor is open.
 *
 * A write that fails part-way (a full disk) may leave a torn line: the next
 * write starts with a newline, so only the torn record is lost, and readers skip
 * the torn line. Reading goes line by line through a fixed buffer: no limit on
 * the size of a segment (a string cannot exceed ~512 MiB).
 */
import * as nodeFs from "node:fs";
import { join } from "node:path";

/** The few fs calls the journal makes: injectable, so tests can make a disk full or a file uncreatable. */
export type JournalFs = Pick<
  typeof nodeFs,
  "openSync" | "closeSync" | "writeSync" | "fdatasyncSync" | "fdatasync" | "close" | "renameSync" | "unlinkSync" | "readdirSync" | "readSync" | "fstatSync" | "statSync"
>;

const ACTIVE = "journal.jsonl";
const NEXT = "journal.next.jsonl";
const NUMBERED = /^journal\.(\d+)\.jsonl$/;

/** Calls `each` with every line of `file` (without its newline), read through a 1 MiB buffer. */
export function forEachLine(file: string, each: (line: string) => void, fs: JournalFs = nodeFs): void {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let carry: Buffer[] = [];
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      let start = 0;
      for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < n; nl = buf.indexOf(10, start)) {
        const piece = buf.subarray(start, nl);
        each(carry.length === 0 ? piece.toString("utf8") : Buffer.concat([...carry, piece]).toString("utf8"));
        carry = [];
        start = nl + 1;
      }
      if (start < n) carry.push(Buffer.from(buf.subarray(start, n)));
    }
    if (carry.length > 0) each(Buffer.concat(carry).toString("utf8"));
  } finally {
    fs.closeSync(fd);
  }
}

export class SegmentedFile {
  private fd: number | undefined;
  /** The number the active segment gets when it is rolled. */
  activeNumber = 0;
  /** Bytes in the active segment. */
  bytes = 0;
  /** Roll once the active segment holds this many bytes. */
  private rollAt: number;
  /** The last write failed: the next one starts on a fresh line. */
  private torn = false;
  /** Descriptors of rolled segments, synced and closed at the next `sync`. */
  private readonly retired: number[] = [];

  constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    private readonly onError: (err: Error) => void,
    readonly fs: JournalFs = nodeFs,
  ) {
    this.rollAt = segmentBytes;
  }

  get file(): string {
    return join(this.dir, ACTIVE);
  }

  /** The segments to read, oldest first: numbered ones, the active one, a successor a crash left unrenamed. */
  segments(): { n: number; file: string }[] {
    const numbered = this.fs
      .readdirSync(this.dir)
      .flatMap((f) => {
        const m = NUMBERED.exec(f);
        return m ? [{ n: Number(m[1]), file: join(this.dir, f) }] : [];
      })
      .sort((a, b) => a.n - b.n);
    const top = numbered.length > 0 ? (numbered[numbered.length - 1]?.n ?? 0) + 1 : 0;
    this.activeNumber = top;
    // The active segment and a successor left by a crash mid-roll read as one: the latter's records came after.
    return [...numbered, { n: top, file: join(this.dir, ACTIVE) }, { n: top, file: join(this.dir, NEXT) }];
  }

  /** Opens the active segment for appending (after `segments()`); a successor left by a crash is folded in first. */
  open(): void {
    const next = join(this.dir, NEXT);
    if (exists(this.fs, next)) {
      if (exists(this.fs, this.file)) this.fs.renameSync(this.file, join(this.dir, `journal.${this.activeNumber}.jsonl`));
      this.fs.renameSync(next, this.file);
      this.activeNumber++;
    }
    this.fd = this.fs.openSync(this.file, "a+", 0o600);
    this.bytes = this.fs.fstatSync(this.fd).size;
    // A torn last line (the process died mid-write) must not swallow the next record.
    this.torn = this.bytes > 0 && !endsWithNewline(this.fs, this.fd, this.bytes);
    this.rollAt = Math.max(this.segmentBytes, this.bytes + this.segmentBytes / 2);
  }

  get isOpen(): boolean {
    return this.fd !== undefined;
  }

  /** Appends `line` (newline-terminated); false when it could not be written (reported). */
  append(line: string): boolean {
    if (this.fd === undefined) return false;
    try {
      if (this.torn) {
        this.bytes += this.fs.writeSync(this.fd, "\n");
        this.torn = false;
      }
      const n = this.fs.writeSync(this.fd, line);
      this.bytes += n;
      // A short write (a disk filling up): write the rest, which then fails with the true cause.
      if (n !== line.length || Buffer.byteLength(line) !== n) this.writeRest(Buffer.from(line), n);
    } catch (err) {
      this.torn = true;
      this.onError(err as Error);
      return false;
    }
    if (this.bytes >= this.rollAt) this.roll();
    return true;
  }

  private writeRest(buf: Buffer, done: number): void {
    for (let off = done; off < buf.length; ) {
      const n = this.fs.writeSync(this.fd as number, buf, off, buf.length - off);
      if (n <= 0) throw Object.assign(new Error("the journal took no bytes"), { code: "EIO" });
      off += n;
      this.bytes += n;
    }
  }

  /**
   * Syncs the active segment, and syncs and closes the ones rolled since the last
   * sync, off the event loop (libuv's thread pool): resolves once what was written
   * before the call is on disk. An `fdatasync` takes the disk milliseconds (2-10 ms
   * here); in the event loop it held every turn's replies and subscribers that long.
   * Never rejects (a failure is reported).
   */
  syncAsync(): Promise<void> {
    const fs = this.fs;
    const one = (fd: number, close: boolean) =>
      new Promise<void>((resolve) =>
        fs.fdatasync(fd, (err) => {
          // A descriptor closed meanwhile (close() at shutdown syncs it itself) is no failure.
          if (err && (close || fd === this.fd)) this.onError(err);
          if (!close) return resolve();
          fs.close(fd, () => resolve());
        }),
      );
    const all = this.retired.splice(0).map((fd) => one(fd, true));
    if (this.fd !== undefined) all.push(one(this.fd, false));
    return Promise.all(all).then(() => undefined);
  }

  /** Deletes the numbered segment `n` (no retained turn has a record in it). */
  drop(n: number): void {
    if (n >= this.activeNumber) return;
    if (this.fd === undefined) {
      // At start-up (not open yet): at once, so what is read next is what remains.
      try {
        this.fs.unlinkSync(join(this.dir, `journal.${n}.jsonl`));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.onError(err as Error);
      }
      return;
    }
    // Off the event loop: freeing a large file's blocks takes the file system a while.
    nodeFs.unlink(join(this.dir, `journal.${n}.jsonl`), (err) => {
      if (err && err.code !== "ENOENT") this.onError(err);
    });
  }

  /** Starts a new active segment; on any failure the current one stays open and in use. */
  private roll(): void {
    if (this.fd === undefined) return;
    const next = join(this.dir, NEXT);
    let fd: number;
    try {
      fd = this.fs.openSync(next, "w", 0o600);
    } catch (err) {
      this.rollAt = this.bytes + this.segmentBytes;
      this.onError(err as Error);
      return;
    }
    const numbered = join(this.dir, `journal.${this.activeNumber}.jsonl`);
    try {
      this.fs.renameSync(this.file, numbered);
    } catch (err) {
      this.fs.closeSync(fd);
      try {
        this.fs.unlinkSync(next);
      } catch {
        // Left behind: read (empty) and folded in at the next start.
      }
      this.rollAt = this.bytes + this.segmentBytes;
      this.onError(err as Error);
      return;
    }
    try {
      this.fs.renameSync(next, this.file);
    } catch (err) {
      // The old segment already has its number; the new one is read after it under its own name.
      this.onError(err as Error);
    }
    // The old descriptor is synced and closed with the next sync (the caller's timer), not here on the write's path.
    this.retired.push(this.fd);
    this.fd = fd;
    this.activeNumber++;
    this.bytes = 0;
    this.torn = false;
    this.rollAt = this.segmentBytes;
  }

  /** Syncs and closes the active segment and the ones rolled since the last sync. */
  close(): void {
    if (this.fd === undefined) return;
    for (const fd of [...this.retired.splice(0), this.fd]) {
      try {
        this.fs.fdatasyncSync(fd);
      } catch (err) {
        this.onError(err as Error);
      }
      this.fs.closeSync(fd);
    }
    this.fd = undefined;
  }
}

function exists(fs: JournalFs, file: string): boolean {
  try {
    fs.statSync(file);
    return true;
  } catch {
    return false;
  }
}

function endsWithNewline(fs: JournalFs, fd: number, size: number): boolean {
  const b = Buffer.alloc(1);
  return fs.readSync(fd, b, 0, 1, size - 1) === 1 && b[0] === 10;
}
