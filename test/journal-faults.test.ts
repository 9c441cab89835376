/**
 * The journal under faults: a roll whose next file cannot be created, a full
 * disk (a real small tmpfs when this process may mount one, and a simulated
 * ENOSPC through an injected fs), corrupt lines, and what a turn end does with
 * 200 MiB of retained turns (its cost in time: bench/store-journal.ts).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import { Journal, readJournal } from "../src/daemon/journal.js";
import type { JournalFs } from "../src/daemon/journal-file.js";

const dirs: string[] = [];
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync("umount", [m]);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "journal-faults-"));
  dirs.push(d);
  return d;
};
const delta = (trace: string, seq: number, content = `w${seq} `): Reply => ({ kind: "delta", trace_id: trace, session_id: "ses_1", seq, content, part_id: "prt_1" });

/** The journal's files in `dir` and their sizes. */
function filesOf(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of readdirSync(dir).filter((f) => f.startsWith("journal"))) {
    // A segment wholly past retention is deleted in the background: it may go between the listing and its stat.
    const size = statSync(join(dir, f), { throwIfNoEntry: false })?.size;
    if (size !== undefined) out.set(f, size);
  }
  return out;
}

/** Every record of every journal file in `dir`, read back. */
function readAll(dir: string) {
  const j = new Journal(dir, { keepFinished: 1_000_000, maxBytes: 1 << 30, syncIntervalMs: 10, onError: () => {} });
  const turns = j.open();
  const skipped = j.skipped;
  j.close();
  return { turns, skipped };
}

describe("journal faults", () => {
  it("a roll whose next file cannot be created leaves the old journal in use, its descriptor intact", () => {
    const dir = tempDir();
    const errors: Error[] = [];
    const j = new Journal(dir, { keepFinished: 10, maxBytes: 8 * 1024, syncIntervalMs: 10, onError: (e) => errors.push(e) });
    j.open();
    // The next segment's name is taken by a directory: it cannot be created.
    mkdirSync(join(dir, "journal.next.jsonl"));
    const before = statSync(join(dir, "journal.jsonl")).ino;
    j.turn("id-a", "a", "ses_1", "/p", 1);
    for (let i = 0; i < 50; i++) j.reply("id-a", delta("a", i, "x".repeat(100)));
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(["EISDIR"]);
    // A descriptor opened now takes the lowest free number: were the journal's closed, this would be it.
    const other = join(dir, "other.txt");
    const fd = openSync(other, "w");
    for (let i = 50; i < 60; i++) j.reply("id-a", delta("a", i));
    j.end("id-a", "final");
    closeSync(fd);
    j.close();
    expect(readFileSync(other, "utf8")).toBe("");
    expect(statSync(join(dir, "journal.jsonl")).ino).toBe(before);
    rmSync(join(dir, "journal.next.jsonl"), { recursive: true });
    const back = readAll(dir);
    expect(back.turns[0]?.replies.map((r) => r.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(back.turns[0]?.outcome).toBe("final");
    expect(back.skipped).toBe(0);
  });

  it("ENOSPC (injected fs): failed records are counted, the descriptor stays, a torn line costs only itself, writing resumes when there is room", () => {
    const dir = tempDir();
    let room = 2_000;
    const full: JournalFs = {
      ...fs,
      writeSync: ((fd: number, data: string) => {
        const want = Buffer.byteLength(data);
        if (room >= want) {
          room -= want;
          return fs.writeSync(fd, data);
        }
        // A partial write, as a filling disk gives, then the error.
        if (room > 0) {
          fs.writeSync(fd, Buffer.from(data).subarray(0, room));
          room = 0;
        }
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }) as JournalFs["writeSync"],
    };
    const errors: Error[] = [];
    const j = new Journal(dir, { keepFinished: 10, maxBytes: 1 << 20, syncIntervalMs: 10, onError: (e) => errors.push(e), fs: full });
    j.open();
    const ino = statSync(join(dir, "journal.jsonl")).ino;
    expect(j.turn("id-a", "a", "ses_1", "/p", 1)).toBe(true);
    let i = 0;
    while (room > 0) j.reply("id-a", delta("a", i++));
    expect(j.failures).toBeGreaterThan(0);
    expect(j.refusal()).toMatch(/ENOSPC/);
    expect(j.turn("id-b", "b", "ses_1", "/p", 2)).toBe(false);
    room = 1 << 20; // space again
    expect(j.refusal()).toBeUndefined();
    expect(j.turn("id-c", "c", "ses_1", "/p", 3)).toBe(true);
    j.reply("id-c", delta("c", 0));
    j.end("id-c", "final");
    j.close();
    expect(statSync(join(dir, "journal.jsonl")).ino).toBe(ino);
    expect(errors).toHaveLength(1);
    const back = readAll(dir);
    // Replies of a up to the torn one, c whole; the torn line alone was skipped.
    expect(back.turns.map((t) => t.traceId)).toEqual(["a", "c"]);
    expect(back.turns[0]?.replies.length).toBe(i - 1);
    expect(back.turns[1]?.replies.map((r) => r.seq)).toEqual([0]);
    expect(back.skipped).toBe(1);
  });

  it("a full filesystem (a 256 KiB tmpfs, where this process may mount one): refused, then resumed in the same file", (ctx) => {
    const dir = tempDir();
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir], { stdio: "ignore" });
    } catch {
      ctx.skip(); // not allowed to mount here: the injected ENOSPC above covers the same path
    }
    mounts.push(dir);
    const errors: Error[] = [];
    const j = new Journal(dir, { keepFinished: 10, maxBytes: 64 << 20, syncIntervalMs: 10, onError: (e) => errors.push(e) });
    j.open();
    const ino = statSync(join(dir, "journal.jsonl")).ino;
    j.turn("id-a", "a", "ses_1", "/p", 1);
    // Fill the rest of the file system.
    const filler = openSync(join(dir, "filler"), "w");
    try {
      for (;;) fs.writeSync(filler, Buffer.alloc(4096, 120));
    } catch {
      // full
    }
    closeSync(filler);
    for (let i = 0; i < 200; i++) j.reply("id-a", delta("a", i, "y".repeat(200)));
    expect(j.refusal()).toMatch(/ENOSPC/);
    fs.unlinkSync(join(dir, "filler"));
    expect(j.refusal()).toBeUndefined();
    j.end("id-a", "final");
    j.close();
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(["ENOSPC"]);
    expect(statSync(join(dir, "journal.jsonl")).ino).toBe(ino);
    const back = readAll(dir);
    expect(back.turns[0]?.outcome).toBe("final");
    expect(back.turns[0]?.replies.length).toBeGreaterThan(0);
  });

  it("start-up survives corrupt lines (null, a reply record without its reply): skipped and counted", () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "journal.jsonl"),
      [
        JSON.stringify({ t: "turn", id: "id-a", trace_id: "a", session_id: "ses_1", directory: "/p", at: 1 }),
        "null",
        '{"t":"reply","id":"id-a","r":null}',
        "[1,2]",
        '{"t":"reply","id":"id-a"}',
        JSON.stringify({ t: "reply", id: "id-a", r: delta("a", 0) }),
        '{"t":"end","id":"id-a","outcome":null}',
        "not json",
        JSON.stringify({ t: "end", id: "id-a", outcome: "final" }),
        "",
      ].join("\n"),
    );
    const back = readAll(dir);
    expect(back.skipped).toBe(6);
    expect(back.turns.map((t) => [t.traceId, t.replies.length, t.outcome])).toEqual([["a", 1, "final"]]);
    expect(readJournal(join(dir, "journal.jsonl")).skipped).toBe(6);
  });

  it("200 MiB of retained turns: a turn end rewrites nothing, the files stay bounded, and every retained turn reads back", async () => {
    // What a turn end costs in time with this much retained is measured by `npm run bench` (bench/store-journal.ts).
    const dir = tempDir();
    const j = new Journal(dir, { keepFinished: 100, maxBytes: 64 << 20, syncIntervalMs: 200, onError: (e) => { throw e; } });
    j.open();
    const chunk = "z".repeat(16 * 1024);
    const perTurn = 2 * 1024 * 1024; // 2 MiB a turn: 100 retained turns hold 200 MiB
    let written = 0;
    for (let n = 0; n < 130; n++) {
      const id = `id-${n}`;
      j.turn(id, `t${n}`, "ses_1", "/p", n);
      for (let seq = 0; seq * chunk.length < perTurn; seq++) j.reply(id, delta(`t${n}`, seq, chunk));
      const before = filesOf(dir);
      j.end(id, "final");
      // A turn end appends (or rolls to a new segment, or deletes a segment wholly past retention): it never rewrites one.
      const after = filesOf(dir);
      for (const [f, size] of after) if (before.has(f)) expect(size, f).toBeGreaterThanOrEqual(before.get(f)!);
      written += 1;
      // The periodic sync gets its turn, as in a daemon.
      await new Promise((r) => setImmediate(r));
    }
    j.close();
    expect(written).toBe(130);
    const bytes = [...filesOf(dir).values()].reduce((s, n) => s + n, 0);
    expect(bytes).toBeGreaterThan(200 * 2 ** 20);
    expect(bytes).toBeLessThan(200 * 2 ** 20 + 2 * (8 << 20) + 4 * 2 ** 20);
    // Read back without a size limit (a string cannot hold 512 MiB; the read goes line by line).
    const back = readAll(dir);
    // The last 100 ended turns are all there; older ones only where they share a segment with them.
    expect(back.turns.length).toBeGreaterThanOrEqual(100);
    expect(back.turns.slice(-100).map((t) => t.traceId)).toEqual(Array.from({ length: 100 }, (_, i) => `t${i + 30}`));
    expect(back.turns.slice(-100).every((t) => t.outcome === "final" && t.replies.length === perTurn / chunk.length)).toBe(true);
  }, 120_000);
});
