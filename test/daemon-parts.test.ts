/** The daemon's small parts on their own: the request guard, the JSON content-type rule, the journal. */
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import { RequestGuard } from "../src/daemon/auth.js";
import { isJsonContentType } from "../src/daemon/http.js";
import { Journal, readJournal } from "../src/daemon/journal.js";
import { JsonlSink } from "../src/sink/jsonl.js";

describe("RequestGuard", () => {
  const guard = new RequestGuard(["bridge.internal"], ["http://app.example"]);
  it("accepts IP addresses, localhost and configured names in Host; refuses every other name", () => {
    for (const host of ["127.0.0.1:4141", "[::1]:4141", "LOCALHOST:4141", "localhost", "10.1.2.3", "bridge.internal:80", undefined]) {
      expect(guard.refusal(host, undefined), String(host)).toBeUndefined();
    }
    for (const host of ["evil.example:4141", "127.0.0.1.evil.example", "localhost.evil.example", "", "bridge.internal.evil"]) {
      expect(guard.refusal(host, undefined), host).toMatch(/is not accepted/);
    }
  });
  it("refuses any Origin not allowed, null included; case does not matter", () => {
    expect(guard.refusal("127.0.0.1", "http://app.example")).toBeUndefined();
    expect(guard.refusal("127.0.0.1", "HTTP://APP.EXAMPLE")).toBeUndefined();
    for (const origin of ["http://evil.example", "null", "http://app.example:8080", "https://app.example", ""]) {
      expect(guard.refusal("127.0.0.1", origin), origin).toMatch(/is not allowed/);
    }
  });
  it("takes the daemon's own origin (the console's page), and only that one", () => {
    expect(guard.refusal("127.0.0.1:4141", "http://127.0.0.1:4141")).toBeUndefined();
    expect(guard.refusal("localhost:4141", "http://localhost:4141")).toBeUndefined();
    expect(guard.refusal("127.0.0.1:4141", "http://127.0.0.1:4142")).toMatch(/is not allowed/);
    expect(guard.refusal("127.0.0.1:4141", "https://127.0.0.1:4141")).toMatch(/is not allowed/);
    expect(guard.refusal("evil.example:4141", "http://evil.example:4141")).toMatch(/is not accepted/);
  });
});

describe("isJsonContentType", () => {
  it("takes application/json with parameters, nothing else", () => {
    for (const t of ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]) expect(isJsonContentType(t), t).toBe(true);
    for (const t of [undefined, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/json-patch+json"]) {
      expect(isJsonContentType(t), String(t)).toBe(false);
    }
  });
});

describe("Journal", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = (keepFinished = 2, maxBytes = 1 << 20) => {
    const dir = dirs[0] ?? mkdtempSync(join(tmpdir(), "journal-"));
    if (!dirs.includes(dir)) dirs.push(dir);
    const errors: Error[] = [];
    const j = new Journal(dir, { keepFinished, maxBytes, syncIntervalMs: 10, onError: (e) => errors.push(e) });
    return { j, turns: j.open(), errors, dir };
  };
  const delta = (trace: string, seq: number): Reply => ({ kind: "delta", trace_id: trace, session_id: "ses_1", seq, content: `w${seq} `, part_id: "prt_1" });

  it("reads back turns, replies, ends and the highest acknowledgement; ignores a torn last line", () => {
    const { j, dir } = open();
    j.turn("id-a", "a", "ses_1", "/p", 1);
    j.reply("id-a", delta("a", 0));
    j.reply("id-a", delta("a", 1));
    j.ack("id-a", "webhook", 0);
    j.ack("id-a", "webhook", 1);
    j.turn("id-b", "b", "ses_1", "/p", 2);
    j.end("id-a", "final");
    j.close();
    appendFileSync(join(dir, "journal.jsonl"), '{"t":"reply","id":"id-b","r":{"kind":"del');
    const turns = readJournal(join(dir, "journal.jsonl"));
    expect(turns.map((t) => [t.traceId, t.replies.length, t.outcome, t.acks.get("webhook")])).toEqual([
      ["a", 2, "final", 1],
      ["b", 0, undefined, undefined],
    ]);
    expect(statSync(join(dir, "journal.jsonl")).mode & 0o777).toBe(0o600);
  });

  it("one daemon per state directory: a live holder refuses the next, a dead one's lock is taken over", () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-"));
    dirs.push(dir);
    const opts = { keepFinished: 2, maxBytes: 1 << 20, syncIntervalMs: 10, onError: () => {} };
    // What a live daemon leaves: its pid and its start time (so a pid reused by another process is not taken for it).
    const startOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[19];
    writeFileSync(join(dir, "daemon.pid"), `${process.ppid}\n${startOf(process.ppid)}\n`);
    expect(() => new Journal(dir, opts).open()).toThrow(/in use by another daemon \(pid \d+\)/);
    // A stale file naming a live process that is not that daemon (another start time; or, in the old
    // pid-only form, a process that is not a `serve`) does not block start-up.
    writeFileSync(join(dir, "daemon.pid"), `${process.ppid}\n1\n`);
    new Journal(dir, opts).open();
    writeFileSync(join(dir, "daemon.pid"), `${process.ppid}\n`);
    new Journal(dir, opts).open();
    // A pid no process has (above the kernel's pid_max).
    writeFileSync(join(dir, "daemon.pid"), "99999999\n");
    const j = new Journal(dir, opts);
    j.open();
    expect(readFileSync(join(dir, "daemon.pid"), "utf8").split("\n")[0]).toBe(String(process.pid));
    j.close();
  });

  it("compaction at open keeps the running turns and the last keepFinished ended ones", () => {
    const first = open(2, 1024);
    // Enough replies that the journal's segments (an eighth of maxBytes, at least 1 KiB) roll.
    for (const id of ["t1", "f"]) {
      first.j.turn(id, id, "ses_1", "/p", 0);
      for (let i = 0; i < 20; i++) first.j.reply(id, delta(id, i));
      first.j.end(id, "final");
    }
    first.j.turn("running", "r", "ses_1", "/p", 0);
    for (const id of ["t2", "t3"]) {
      first.j.turn(id, id, "ses_1", "/p", 0);
      first.j.end(id, "final");
    }
    first.j.close();
    const again = open(2);
    expect(again.turns.map((t) => t.id)).toEqual(["running", "t2", "t3"]);
    again.j.close();
    // Nothing is rewritten: the segment that held t1 (and no retained turn) is gone.
    for (const f of readdirSync(again.dir).filter((x) => x.startsWith("journal"))) expect(readFileSync(join(again.dir, f), "utf8")).not.toContain('"t1"');
  });
});

describe("JsonlSink write errors", () => {
  const reply = (seq: number): Reply => ({ kind: "delta", trace_id: "j", session_id: "ses_1", seq, content: "x", part_id: "prt_1" });

  it("a bad path fails at open, naming the path and the reason", () => {
    expect(() => JsonlSink.open("/nonexistent/dir/x.jsonl")).toThrow(/cannot open \/nonexistent\/dir\/x.jsonl for appending: ENOENT/);
  });

  it("ENOSPC (/dev/full): every reply counts as a failure, the first error is reported once, nothing is thrown at the process", async () => {
    const sink = JsonlSink.open("/dev/full");
    const errors: Error[] = [];
    sink.onError = (e) => errors.push(e);
    for (let seq = 0; seq < 3; seq++) await expect(sink.deliver(reply(seq))).rejects.toMatchObject({ name: "SinkError", code: "io" });
    expect(sink.stats()).toEqual({ delivered: 0, retries: 0, failures: 3 });
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(["ENOSPC"]);
    await sink.close();
  });

  it("EPIPE (the reader of a pipe went away) is a counted failure too", async () => {
    const child = spawn("true", { stdio: ["pipe", "ignore", "ignore"] });
    await new Promise((r) => child.on("exit", r));
    const sink = new JsonlSink(child.stdin);
    let failed = 0;
    for (let seq = 0; seq < 3; seq++) await sink.deliver(reply(seq)).catch(() => failed++);
    expect(failed).toBe(3);
    expect(sink.stats().failures).toBe(3);
  });
});
