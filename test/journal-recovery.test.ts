/**
 * What the journal gives back after a restart (src/daemon/recovery.ts): the turn
 * as accepted (request, policy, accepted time), its pending requests, re-sending
 * interleaved across turns and only to outputs the turn was owed to; and a
 * subscriber whose Last-Event-ID is ahead of the turn waits instead of replaying.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../src/codec/reply.js";
import type { RequestEvent } from "../src/codec/requests.js";
import { Journal } from "../src/daemon/journal.js";
import { DaemonCore } from "../src/daemon/core.js";
import { recoverJournal, resumeRecovered } from "../src/daemon/recovery.js";
import { TurnStore, type StoredReply, type TurnSubscriber } from "../src/daemon/turns.js";
import type { Upstream } from "../src/daemon/upstream.js";
import type { SinkObject } from "../src/sink/types.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const opts = { keepFinished: 10, maxBytes: 1 << 20, syncIntervalMs: 10, onError: () => {} };
const delta = (trace: string, seq: number): Reply => ({ kind: "delta", trace_id: trace, session_id: "ses_1", seq, content: `${trace}${seq} `, part_id: "prt_1" });
const final = (trace: string, seq: number, content: string): Reply => ({ kind: "final", trace_id: trace, session_id: "ses_1", seq, content });
const ask = (trace: string, id: string): RequestEvent & { type: "request" } => ({
  type: "request",
  trace_id: trace,
  session_id: "ses_1",
  request: { kind: "permission", request_id: id, trace_id: trace, session_id: "ses_1", permission: "bash", patterns: ["echo"], always: [], metadata: {} },
});

/** A daemon on the state directory `dir` (not listening), with these outputs and no OpenCode. */
function daemon(dir: string, outputs: { name: string; sink: SinkObject }[]): DaemonCore & { journal: Journal } {
  const upstream = { mode: "external", target: () => Promise.reject(new Error("no OpenCode in this test")) } as unknown as Upstream;
  return new DaemonCore({ directory: dir, stateDir: dir, noToken: true, upstream, outputs }) as DaemonCore & { journal: Journal };
}

describe("recovery from the journal", () => {
  it("a turn comes back as accepted: its text, policy and accepted time, and its pending requests", () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-rec-"));
    dirs.push(dir);
    const j = new Journal(dir, opts);
    j.open();
    j.turn("id-a", "a", "ses_1", "/p", 1_700_000_000_000, "h", { request: { text: "do it", permission: "ask", question: "reject", session_key: "k" }, outputs: [] });
    j.request("id-a", ask("a", "per_1"));
    j.request("id-a", ask("a", "per_2"));
    j.request("id-a", { type: "request_resolved", trace_id: "a", session_id: "ses_1", request_id: "per_1", request_kind: "permission", by: "host" });
    j.close();
    const core = daemon(dir, []);
    const [rec] = recoverJournal(core, core.journal);
    core.journal.close();
    const summary = rec?.record.summary() as Record<string, unknown>;
    expect(summary).toMatchObject({ trace_id: "a", state: "running", text: "do it", permission: "ask", question: "reject", accepted_at: new Date(1_700_000_000_000).toISOString() });
    expect((summary.pending_requests as { request_id: string }[]).map((p) => p.request_id)).toEqual(["per_2"]);
  });

  it("re-sends what each output was owed, one reply of each turn in turn; an output added after a turn nothing of it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-rec-"));
    dirs.push(dir);
    const j = new Journal(dir, opts);
    j.open();
    for (const t of ["a", "b", "c"]) {
      // c was accepted before the webhook "late" existed.
      j.turn(`id-${t}`, t, "ses_1", "/p", 1, undefined, { outputs: t === "c" ? ["hook"] : ["hook", "late"] });
      for (let s = 0; s < 3; s++) j.reply(`id-${t}`, delta(t, s));
      j.reply(`id-${t}`, final(t, 3, `${t}0 ${t}1 ${t}2 `));
      j.end(`id-${t}`, "final");
    }
    j.ack("id-a", "hook", 1);
    j.close();
    const got: Record<string, string[]> = { hook: [], late: [] };
    const sink = (name: string): SinkObject => ({ deliver: (r) => void got[name]?.push(`${r.trace_id}${r.seq}`), bind: () => {} });
    const core = daemon(dir, [{ name: "hook", sink: sink("hook") }, { name: "late", sink: sink("late") }]);
    const rec = recoverJournal(core, core.journal);
    await resumeRecovered(core, rec);
    core.journal.close();
    expect(got.hook).toEqual(["a2", "b0", "c0", "a3", "b1", "c1", "b2", "c2", "b3", "c3"]);
    expect(got.late).toEqual(["a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3"]);
  });

  it("coalesce: a tick's acknowledgements are one record per turn and output (the highest seq), written with the tick's reply records, before the turn's next record", async () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-rec-"));
    dirs.push(dir);
    const j = new Journal(dir, { ...opts, coalesce: true });
    j.open();
    j.turn("id-a", "a", "ses_1", "/p", 1, undefined, { outputs: ["hook", "late"] });
    for (let s = 0; s < 4; s++) j.reply("id-a", delta("a", s));
    j.flush();
    // A batch acknowledged: one ack per reply, as the webhook's onDelivered gives them; two outputs interleaved.
    for (let s = 0; s < 3; s++) {
      j.ack("id-a", "hook", s);
      if (s < 2) j.ack("id-a", "late", s);
    }
    j.reply("id-a", final("a", 4, "a0 a1 a2 a3 "));
    j.end("id-a", "final");
    j.close();
    // An ack may follow later replies in the file (it covers only replies sent, which were written before they were sent).
    const records = readFileSync(j.file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { t: string; o?: string; seq?: number });
    expect(records.map((r) => (r.t === "ack" ? `ack ${r.o} ${r.seq}` : r.t))).toEqual(["turn", "reply", "reply", "reply", "reply", "reply", "ack hook 2", "ack late 1", "end"]);
    const got: Record<string, string[]> = { hook: [], late: [] };
    const sink = (name: string): SinkObject => ({ deliver: (r) => void got[name]?.push(`${r.trace_id}${r.seq}`), bind: () => {} });
    const core = daemon(dir, [{ name: "hook", sink: sink("hook") }, { name: "late", sink: sink("late") }]);
    await resumeRecovered(core, recoverJournal(core, core.journal));
    core.journal.close();
    expect(got.hook).toEqual(["a3", "a4"]);
    expect(got.late).toEqual(["a2", "a3", "a4"]);
  });

  it("Last-Event-ID beyond the turn's progress waits for the next seq instead of replaying", () => {
    const store = new TurnStore({ maxTurns: 10, maxReplyBytesPerTurn: 1 << 20 });
    const t = store.create("a", "ses_1", "/p", 0);
    store.add(delta("a", 0));
    const seen: number[] = [];
    const sub: TurnSubscriber = { reply: (r: StoredReply) => void seen.push(r.seq), truncated: () => seen.push(-1), done: () => seen.push(-2) };
    store.subscribe(t, sub, 4); // Last-Event-ID: 3
    for (let s = 1; s < 6; s++) store.add(delta("a", s));
    store.add(final("a", 6, ""));
    store.finish(t, "final");
    expect(seen).toEqual([4, 5, 6, -2]);
  });
});
