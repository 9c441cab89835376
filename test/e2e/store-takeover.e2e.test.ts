/**
 * Takeover from a LIVE owner: the daemon driving a turn is stalled (SIGSTOP) for
 * longer than its lease, another daemon claims the turn, then the first resumes
 * (SIGCONT) with its adapter, its timers and its connections as they were — the
 * way a daemon whose event loop or database connection stalled comes back.
 *
 * Exactly one daemon drives the turn to its exact `final` (OpenCode's record),
 * the fenced old owner stops quietly (it writes nothing more: no reply, no end),
 * and followers on every daemon — the stalled one included — get one gapless,
 * duplicate-free stream; the webhook gets that same stream.
 */
import { describe, expect, it } from "vitest";
import pg from "pg";
import { contractViolations } from "../../src/codec/reply.js";
import { scenario } from "../support/live.js";
import { callDaemon } from "./daemon-process.js";
import { followStore, recordedAnswer, storeRig } from "./store-follow.js";

const TOKEN = "e2e-store-takeover-token-5a0c";
const auth = { authorization: `Bearer ${TOKEN}` };
const LEASE_S = 1;

describe("takeover from a live owner whose lease lapsed (SIGSTOP longer than the lease, then SIGCONT)", () => {
  /** Traces whose webhook POSTs the receiver leaves unanswered (a webhook that is down). */
  const unanswered = new Set<string>();
  const rig = storeRig(TOKEN, LEASE_S, (a) => (unanswered.has(a.traceId) ? "hang" : { status: 200 }));
  const { start } = rig;
  const recorded = (sessionId: string) => recordedAnswer(rig.live, sessionId);

  /** What the store holds of the turn: its owner, state, outcome and replies' seqs. */
  async function stored(traceId: string): Promise<{ owner: string; state: string; outcome: string | null; seqs: number[] }> {
    const db = new pg.Client({ connectionString: rig.storeUrl });
    await db.connect();
    try {
      const t = await db.query("SELECT id, owner, state, outcome FROM bridge_turns WHERE trace_id = $1", [traceId]);
      const row = t.rows[0] as { id: string; owner: string; state: string; outcome: string | null };
      const r = await db.query("SELECT seq FROM bridge_replies WHERE turn_id = $1 ORDER BY seq", [row.id]);
      return { owner: row.owner, state: row.state, outcome: row.outcome, seqs: r.rows.map((x: { seq: number }) => x.seq) };
    } finally {
      await db.end();
    }
  }

  /**
   * Starts `script` on A, stalls A (SIGSTOP) once a follower on A has `stopAt` replies, waits
   * until B or C has claimed the turn and `stalledMore` ms beyond, resumes A (SIGCONT), and checks
   * the whole turn as every follower and the webhook saw it.
   */
  async function stallOwner(traceId: string, script: string, stopAt: number, stalledMore: number): Promise<void> {
    const [a, b, c] = [await start(), await start(), await start()];
    const accepted = await callDaemon(a, "POST", "/v1/turns", { text: scenario(script), trace_id: traceId }, auth);
    expect(accepted.status, accepted.text).toBe(202);
    let stopped!: () => void;
    const isStopped = new Promise<void>((r) => (stopped = r));
    const onB = followStore(b, traceId, auth);
    const onA = followStore(a, traceId, auth, undefined, (n) => {
      if (n === stopAt) {
        a.child.kill("SIGSTOP");
        stopped();
      }
    });
    await isStopped;
    // Another daemon claims the turn once A's lease has run out (A cannot renew it while stopped).
    await Promise.race([b.waitForLog(/took over a turn whose lease ran out/, 30_000), c.waitForLog(/took over a turn whose lease ran out/, 30_000)]);
    await new Promise((r) => setTimeout(r, stalledMore));
    a.child.kill("SIGCONT");
    const [whole, onStalled] = await Promise.all([onB, onA]);
    // A follower that arrives now, on the resumed old owner, gets the same stream.
    const late = await followStore(a, traceId, auth);

    for (const f of [whole, onStalled, late]) {
      expect(f.cut, "stream cut").toBeUndefined();
      expect(f.done?.outcome).toBe("final");
      expect(f.replies.map((r) => r.seq)).toEqual(f.replies.map((_, i) => i));
      expect(contractViolations(f.replies)).toEqual([]);
      expect(f.replies).toEqual(whole.replies);
    }
    const final = whole.replies[whole.replies.length - 1]!;
    const text = await recorded(String(accepted.json?.session_id));
    expect(final.kind === "final" && final.content).toBe(text);
    expect(whole.replies.flatMap((r) => (r.kind === "delta" ? [r.content] : [])).join("")).toBe(text);

    // One driver at the end: the store holds exactly the stream, ended `final` by the daemon that claimed it.
    const row = await stored(traceId);
    expect(row).toMatchObject({ state: "ended", outcome: "final" });
    expect(row.seqs).toEqual(whole.replies.map((r) => r.seq));
    const claims = [b, c].filter((d) => /took over a turn whose lease ran out/.test(d.stderr()));
    expect(claims).toHaveLength(1);
    // The old owner stopped quietly: it knows it no longer drives the turn, and claimed nothing back.
    expect(a.stderr()).not.toMatch(/took over a turn whose lease ran out/);

    await rig.recorder.waitFor(() => rig.recorder.replies(traceId).length >= whole.replies.length, 20_000, "the webhook to have the whole turn");
    expect([...rig.recorder.replies(traceId)].sort((x, y) => x.seq - y.seq)).toEqual(whole.replies);
    expect(rig.recorder.malformed).toEqual([]);
    for (const d of [a, b, c]) d.child.kill("SIGKILL");
  }

  it("the owner committed its final reply but not the turn's end (stalled or killed between the two): the claimer closes it as it ended, adding nothing", async () => {
    const a = await start();
    const traceId = "final-not-ended";
    const accepted = await callDaemon(a, "POST", "/v1/turns", { text: scenario("text"), trace_id: traceId }, auth);
    expect(accepted.status, accepted.text).toBe(202);
    const first = await followStore(a, traceId, auth);
    expect(first.done?.outcome).toBe("final");
    a.child.kill("SIGKILL");
    await a.exited;
    // The state between the final's INSERT and the end's UPDATE, with the owner's lease run out.
    const db = new pg.Client({ connectionString: rig.storeUrl });
    await db.connect();
    await db.query("UPDATE bridge_turns SET state = 'running', outcome = NULL, ended_at = NULL, lease_until = now() WHERE trace_id = $1", [traceId]);
    await db.end();
    const b = await start();
    await b.waitForLog(/took over a turn whose lease ran out/);
    const again = await followStore(b, traceId, auth);
    expect(again.done?.outcome).toBe("final");
    expect(again.replies).toEqual(first.replies);
    expect(await stored(traceId)).toMatchObject({ state: "ended", outcome: "final", seqs: first.replies.map((r) => r.seq) });
    await rig.recorder.waitFor(() => rig.recorder.replies(traceId).length >= first.replies.length, 20_000, "the webhook to have the whole turn");
    expect([...rig.recorder.replies(traceId)].sort((x, y) => x.seq - y.seq)).toEqual(first.replies);
    b.child.kill("SIGKILL");
  });

  it("a daemon killed -9 after a turn ended but before its webhook acknowledged it: another daemon re-sends the turn to the webhook under the same keys", async () => {
    const traceId = "ended-unacknowledged";
    unanswered.add(traceId);
    const a = await start();
    const accepted = await callDaemon(a, "POST", "/v1/turns", { text: scenario("text"), trace_id: traceId }, auth);
    expect(accepted.status, accepted.text).toBe(202);
    const first = await followStore(a, traceId, auth);
    expect(first.done?.outcome).toBe("final");
    await rig.recorder.waitFor(() => rig.recorder.attempts.some((x) => x.traceId === traceId), 20_000, "the first webhook POST");
    expect(rig.recorder.replies(traceId)).toEqual([]);
    a.child.kill("SIGKILL");
    await a.exited;
    unanswered.delete(traceId);
    const b = await start();
    await b.waitForLog(/re-sending an ended turn its outputs had not acknowledged/);
    await rig.recorder.waitFor(() => rig.recorder.replies(traceId).length >= first.replies.length, 20_000, "the webhook to have the whole turn");
    expect([...rig.recorder.replies(traceId)].sort((x, y) => x.seq - y.seq)).toEqual(first.replies);
    // Settled once acknowledged: no daemon claims it again.
    const db = new pg.Client({ connectionString: rig.storeUrl });
    await db.connect();
    const settled = async () => (await db.query("SELECT settled FROM bridge_turns WHERE trace_id = $1", [traceId])).rows[0]?.settled as boolean;
    for (const until = Date.now() + 20_000; !(await settled()) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 200));
    expect(await settled()).toBe(true);
    await db.end();
    b.child.kill("SIGKILL");
  });

  it("turns queued behind a running turn of their session, their daemon killed -9: the running one is followed to its final, each queued one runs and ends with its own answer", async () => {
    const a = await start();
    const key = "queued-key";
    const first = await callDaemon(a, "POST", "/v1/turns", { text: scenario("slow-follow"), trace_id: "queued-0", session_key: key }, auth);
    expect(first.status, first.text).toBe(202);
    const queued = [
      { trace_id: "queued-1", script: "text", says: "Hello from the scripted model." },
      { trace_id: "queued-2", script: "non-ascii", says: "Grüße aus Zürich" },
    ];
    for (const q of queued) {
      const r = await callDaemon(a, "POST", "/v1/turns", { text: scenario(q.script), trace_id: q.trace_id, session_key: key }, auth);
      expect(r.status, r.text).toBe(202);
      expect(r.json?.session_id).toBe(first.json?.session_id);
    }
    let killed!: () => void;
    const isKilled = new Promise<void>((r) => (killed = r));
    const onA = followStore(a, "queued-0", auth, undefined, (n) => {
      if (n === 3) {
        a.child.kill("SIGKILL");
        killed();
      }
    });
    await isKilled;
    const partial = await onA;
    const [b, c] = [await start(), await start()];
    const rest = await followStore(b, "queued-0", auth, partial.ids[partial.ids.length - 1]);
    const whole = [...partial.replies, ...rest.replies];
    expect(rest.done?.outcome).toBe("final");
    expect(whole.map((r) => r.seq)).toEqual(whole.map((_, i) => i));
    const final0 = whole[whole.length - 1]!;
    expect(final0.kind === "final" && final0.content).toBe(whole.flatMap((r) => (r.kind === "delta" ? [r.content] : [])).join(""));
    expect(final0.kind === "final" && final0.content).not.toContain("Hello from the scripted model");
    for (const q of queued) {
      const f = await followStore(c, q.trace_id, auth);
      const last = f.replies[f.replies.length - 1];
      // Its own answer (or a clear error), never the running turn's.
      expect(f.done?.outcome, JSON.stringify(last)).toBe("final");
      expect(last?.kind === "final" && last.content).toContain(q.says);
      expect(f.replies.map((r) => r.seq)).toEqual(f.replies.map((_, i) => i));
    }
    for (const d of [b, c]) d.child.kill("SIGKILL");
  });

  it("OpenCode finishes the turn while its owner is stalled: the claimer finishes it from the record; the old owner, resumed, writes nothing", async () => {
    await stallOwner("stall-finished", "slow", 15, 3_000);
  });

  it("OpenCode still runs the turn after the claim: the claimer follows it live to its end; the old owner, resumed, writes nothing", async () => {
    await stallOwner("stall-running", "slow-follow", 5, 1_000);
  });
});
