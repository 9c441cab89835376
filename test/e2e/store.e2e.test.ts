/**
 * Several `serve` processes on one PostgreSQL store (`--store`), in front of one
 * real `opencode serve` and the scripted model, as an operator runs them behind a
 * load balancer: a turn started on one daemon is followed on another; the first
 * is killed -9 mid-stream; another daemon takes the turn over within the lease,
 * and followers — on a surviving daemon, and one that reconnects to another daemon
 * with `Last-Event-ID` — get one gapless, duplicate-free stream ending in the exact
 * `final` (OpenCode's record). The webhook gets each reply under one key.
 */
import { describe, expect, it } from "vitest";
import { contractViolations } from "../../src/codec/reply.js";
import { scenario } from "../support/live.js";
import { callDaemon } from "./daemon-process.js";
import { followStore, recordedAnswer, storeRig } from "./store-follow.js";

const TOKEN = "e2e-store-token-3c1d9e7f20";
const auth = { authorization: `Bearer ${TOKEN}` };
const LEASE_S = 1;

describe("several daemons on one PostgreSQL store", () => {
  const rig = storeRig(TOKEN, LEASE_S);
  const { start } = rig;

  it("a turn accepted on one daemon is the same turn on every other (idempotent on trace_id + body)", async () => {
    const [a, b] = [await start(), await start()];
    const body = { text: scenario("text"), trace_id: "store-idem" };
    const first = await callDaemon(a, "POST", "/v1/turns", body, auth);
    expect(first.status, first.text).toBe(202);
    const again = await callDaemon(b, "POST", "/v1/turns", body, auth);
    expect(again.status, again.text).toBe(200);
    expect(again.json).toMatchObject({ trace_id: "store-idem", session_id: first.json?.session_id, existing: true });
    const other = await callDaemon(b, "POST", "/v1/turns", { ...body, text: "something else" }, auth);
    expect(other.status).toBe(409);
    const [onA, onB] = await Promise.all([followStore(a, "store-idem", auth), followStore(b, "store-idem", auth)]);
    expect(onA.done?.outcome).toBe("final");
    expect(onB.replies).toEqual(onA.replies);
    const summary = await callDaemon(b, "GET", "/v1/turns/store-idem", undefined, auth);
    expect(summary.json).toMatchObject({ state: "finished", outcome: "final", text: body.text });
    for (const d of [a, b]) d.child.kill("SIGKILL");
  });

  it("the daemon driving a turn is killed -9 mid-stream: another takes it over within the lease; followers get one gapless stream ending in the exact final", async () => {
    const [a, b, c] = [await start(), await start(), await start()];
    const traceId = "store-kill";
    const accepted = await callDaemon(a, "POST", "/v1/turns", { text: scenario("slow"), trace_id: traceId }, auth);
    expect(accepted.status, accepted.text).toBe(202);
    let killedAt = 0;
    let resolveKilled!: () => void;
    const killed = new Promise<void>((r) => (resolveKilled = r));
    // Followed on B from the start; on A until A dies, then resumed on C with Last-Event-ID.
    const onB = followStore(b, traceId, auth);
    const onA = followStore(a, traceId, auth, undefined, (n) => {
      if (n === 15 && killedAt === 0) {
        killedAt = Date.now();
        a.child.kill("SIGKILL");
        resolveKilled();
      }
    });
    await killed;
    const partial = await onA;
    expect(partial.done).toBeUndefined();
    expect(partial.replies.length).toBeGreaterThanOrEqual(15);
    const rest = await followStore(c, traceId, auth, partial.ids[partial.ids.length - 1]);
    const whole = await onB;

    // One takeover, by B or C, within the lease (plus one renewal period of slack).
    // When (the log line's own time) B or C took it over.
    const tookAt = [b, c].flatMap((d) => d.stderr().split("\n").filter((l) => l.includes("took over a turn whose lease ran out")).map((l) => (JSON.parse(l) as { time: number }).time));
    expect(tookAt).toHaveLength(1);
    const takeoverMs = tookAt[0]! - killedAt;
    console.log(`takeover ${takeoverMs} ms after kill -9 (lease ${LEASE_S} s); ${whole.replies.length} replies`);
    expect(takeoverMs).toBeLessThan(LEASE_S * 1000 * 2 + 2_000);

    for (const f of [whole, { ...rest, replies: [...partial.replies, ...rest.replies] }]) {
      expect(f.replies.map((r) => r.seq)).toEqual(f.replies.map((_, i) => i));
      expect(contractViolations(f.replies)).toEqual([]);
    }
    expect(whole.done?.outcome).toBe("final");
    expect(rest.done?.outcome).toBe("final");
    expect([...partial.replies, ...rest.replies]).toEqual(whole.replies);
    const final = whole.replies[whole.replies.length - 1]!;
    expect(final.kind).toBe("final");
    const said = whole.replies.flatMap((r) => (r.kind === "delta" ? [r.content] : [])).join("");
    // The exact answer: OpenCode's record of the session.
    const recorded = await recordedAnswer(rig.live, String(accepted.json?.session_id));
    expect(final.kind === "final" && final.content).toBe(recorded);
    expect(said).toBe(recorded);

    // The webhook: every reply under one key, whichever daemon sent it.
    await rig.recorder.waitFor(() => rig.recorder.replies(traceId).length === whole.replies.length, 20_000, "the webhook to have the whole turn");
    expect(rig.recorder.replies(traceId)).toEqual(whole.replies);
    expect(rig.recorder.malformed).toEqual([]);
  });
});
