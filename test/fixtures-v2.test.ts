/**
 * Every OpenCode 2.x capture (real `opencode serve` 2.1.2 `/api/event` streams,
 * test/fixtures/2.1.2) through the same stages a live 2.x turn passes — the SSE
 * decoder, the 2.x translator (src/codec/v2), the codec's reducer:
 * - replays to its golden replies (`npm run golden`) and satisfies the contract;
 * - agrees with the server's own record of the turn, read through `v2RecordToMessages`;
 * - gives identical replies however the bytes are chunked or framed;
 * - the record alone, fed to the repair path (src/adapter/repair.ts), gives the live turn's final text,
 *   and a turn cut by kill -9 is never taken as finished.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Dialect } from "../src/adapter/dialect.js";
import { Repair } from "../src/adapter/repair.js";
import { createTurnState, mapEventInto } from "../src/codec/codec.js";
import { parseEvent } from "../src/codec/events.js";
import { contractViolations, type Reply } from "../src/codec/reply.js";
import { replayV2Sync, v2RecordToMessages } from "../src/codec/v2/index.js";
import { realClock } from "../src/util/clock.js";
import {
  loadFixtures,
  oneByteChunks,
  randomSplit,
  recordedTurn,
  sameText,
  textByPart,
  toCrlf,
  type Fixture,
  type RecordMessage,
} from "./support/fixtures.js";

const fixtures = loadFixtures(2);
const run = (chunks: Iterable<Uint8Array | string>, f: Fixture, maxFrameBytes?: number) =>
  replayV2Sync(chunks, { traceId: `trace-${f.scenario}`, ...(maxFrameBytes ? { maxFrameBytes } : {}) });
/** The prompted session: the record lists it first (then its children). */
const rootOf = (f: Fixture) => Object.keys(f.record)[0] ?? "";
const messagesOf = (f: Fixture, sid: string) => v2RecordToMessages(f.record[sid] as unknown) as unknown as RecordMessage[];
/**
 * Frames over the default frame cap (16 MiB) a capture holds: none — huge's 3 MB
 * `session.text.ended` (its deltas are at most 700 KB) passes since the cap was sized for 2.x.
 */
const OVERSIZE: Record<string, string[]> = {};

describe("2.1.2 captures", () => {
  it("cover every scenario the issue asks for", () => {
    expect(fixtures.map((f) => f.scenario)).toEqual(
      expect.arrayContaining([
        "text", "reasoning", "tool", "tool-error", "two-tools", "permission-once", "permission-reject", "question-answer",
        "subagent", "provider-error", "provider-500", "retry", "interrupt", "long", "huge", "kill-restart",
      ]),
    );
  });

  describe.each(fixtures.map((f) => [f.name, f] as const))("%s", (_name, f) => {
    const whole = run([f.sse], f);

    it("replays to its golden replies, within the contract, bound to the prompted session", () => {
      expect(f.golden.length).toBeGreaterThan(0);
      expect(whole.replies).toEqual(f.golden);
      expect(contractViolations(whole.replies)).toEqual([]);
      expect(whole.issues.map((i) => `${i.code}:${i.type}`)).toEqual(OVERSIZE[f.scenario] ?? []);
      expect(new Set(whole.replies.map((r) => r.session_id))).toEqual(new Set([rootOf(f)]));
    });

    it("agrees with the server's own record of the turn", () => {
      const rec = recordedTurn(messagesOf(f, rootOf(f)));
      const last = whole.replies[whole.replies.length - 1];
      const streamed = textByPart(whole.replies, "delta");
      const recorded = rec.texts.filter((t) => t.text !== "" || streamed.has(t.id));
      if (last?.kind === "final") {
        expect([...streamed.keys()]).toEqual(recorded.map((t) => t.id));
        for (const t of recorded) expect(sameText(streamed.get(t.id) ?? "", t.text), `text of ${t.id}`).toBe(true);
        const thought = textByPart(whole.replies, "reasoning");
        expect([...thought.keys()]).toEqual(rec.reasoning.map((t) => t.id));
        for (const t of rec.reasoning) expect(thought.get(t.id)).toBe(t.text);
      } else {
        // Cut short (interrupt, kill -9): nothing the server kept is missing from what streamed.
        for (const t of recorded) expect((streamed.get(t.id) ?? "").startsWith(t.text), `text of ${t.id}`).toBe(true);
      }
      const calls = whole.replies.filter((r) => r.kind === "tool_call");
      const results = whole.replies.filter((r) => r.kind === "tool_result");
      expect(calls.map((c) => c.call_id)).toEqual(rec.tools.map((t) => t.callID));
      for (const t of rec.tools) {
        expect(calls.find((c) => c.call_id === t.callID)).toMatchObject({ tool: t.tool, input: t.input });
        const result = results.find((c) => c.call_id === t.callID);
        expect(result?.status).toBe(t.status);
        if (t.status === "completed") expect(result?.output).toBe(t.output);
        else expect(result?.error).toBe(t.error);
      }
      if (rec.error !== undefined) {
        expect(last?.kind).toBe("error");
        expect(last?.kind === "error" && last.error).toContain(rec.error);
      }
    });

    it("gives identical replies for 1-byte chunks, CRLF framing and seeded random splits", () => {
      const small = f.sse.length < 200_000;
      if (small) expect(run(oneByteChunks(f.sse), f).replies).toEqual(whole.replies);
      expect(run([toCrlf(f.sse)], f).replies).toEqual(whole.replies);
      for (const seed of [1, 2, 42]) expect(run(randomSplit(f.sse, seed, small ? 97 : 65_536), f).replies).toEqual(whole.replies);
      expect(run(randomSplit(toCrlf(f.sse), 7, small ? 5 : 8192), f).replies).toEqual(whole.replies);
    });

    it("the record alone, through the repair path, gives the live turn's ending", async () => {
      const sid = rootOf(f);
      const record = v2RecordToMessages(f.record[sid] as unknown);
      const state = createTurnState({ traceId: `trace-${f.scenario}`, sessionId: sid });
      const out: Reply[] = [];
      const http = { sessionMessages: async () => record, sessionStatus: async () => ({}) } as unknown as Dialect;
      const host = {
        take: (e: ReturnType<typeof parseEvent>) => mapEventInto(e, state, out),
        lost: () => {},
        end: () => {},
        over: () => state.phase === "done",
      };
      const repair = new Repair(state, sid, http, realClock, pino({ level: "silent" }), host);
      repair.arm();
      const verdict = await repair.verifyEnd();
      const live = whole.replies[whole.replies.length - 1];
      if (live?.kind === "final") {
        expect(verdict).toBe("finished");
        // The session is idle and its answer finished: the turn ends as repair ends it.
        mapEventInto(parseEvent({ type: "session.status", properties: { sessionID: sid, status: { type: "idle" } } }), state, out);
        const end = out[out.length - 1];
        expect(end).toMatchObject({ kind: "final", content: live.content, model: live.model, agent: live.agent, usage: live.usage });
      } else if (f.scenario === "kill-restart" || f.scenario === "permission-reject") {
        // kill -9: the assistant message never completed and no idle followed. A rejection: 2.1.2
        // interrupts the execution (reason shutdown) and records no idle after it. Never a false final.
        expect(verdict).toBe("lost");
        expect(out.some((r) => r.kind === "final")).toBe(false);
      } else {
        // Failed or interrupted: the record says so, and idle then ends the turn with that error.
        expect(verdict).toBe("finished");
        mapEventInto(parseEvent({ type: "session.status", properties: { sessionID: sid, status: { type: "idle" } } }), state, out);
        expect(out[out.length - 1]).toMatchObject({ kind: "error", code: live?.kind === "error" ? live.code : "" });
      }
    });
  });
});

describe("2.1.2 scenario specifics", () => {
  const one = (s: string) => fixtures.find((f) => f.scenario === s) as Fixture;
  const replies = (s: string, max?: number) => run([one(s).sse], one(s), max).replies;
  const last = (r: Reply[]) => r[r.length - 1];

  it("a provider 401 or 500 ends error upstream in the provider's words, with its status, never a final", () => {
    expect(last(replies("provider-error"))).toMatchObject({ kind: "error", code: "upstream" });
    expect(JSON.stringify(last(replies("provider-error")))).toMatch(/HTTP 401.*Incorrect API key provided/);
    expect(last(replies("provider-500"))).toMatchObject({ kind: "error", code: "upstream" });
    expect(JSON.stringify(last(replies("provider-500")))).toMatch(/HTTP 500.*The scripted provider failed internally/);
  });

  it("the subagent's own session replays on its own: the child's answer, none of the parent's", () => {
    const f = one("subagent");
    const child = Object.keys(f.record)[1] ?? "";
    const r = replayV2Sync([f.sse], { traceId: "child", sessionId: child }).replies;
    expect(contractViolations(r)).toEqual([]);
    expect(new Set(r.map((x) => x.session_id))).toEqual(new Set([child]));
    expect(last(r)).toMatchObject({ kind: "final", content: "Hello from the scripted model. This is plain text." });
  });

  it("retries are not the turn's end: the answer after two 503s is the final", () => {
    expect(last(replies("retry"))).toMatchObject({ kind: "final", content: "Answer after two retries." });
  });

  it("interrupt ends aborted keeping the streamed text; kill -9 ends transport (the stream ended), no final", () => {
    const i = replies("interrupt");
    expect(last(i)).toMatchObject({ kind: "error", code: "aborted" });
    expect(i.filter((r) => r.kind === "delta").length).toBeGreaterThan(0);
    const k = replies("kill-restart");
    expect(last(k)).toMatchObject({ kind: "error", code: "transport" });
    expect(k.some((r) => r.kind === "final")).toBe(false);
  });

  it("2.x tools arrive under their 2.x names: shell, read, subagent, question", () => {
    expect(replies("tool").find((r) => r.kind === "tool_call")).toMatchObject({ tool: "shell", input: { command: "echo bridge-tool-ok" } });
    expect(replies("tool-error").find((r) => r.kind === "tool_result")).toMatchObject({ tool: "read", status: "error" });
    expect(replies("subagent").find((r) => r.kind === "tool_result")).toMatchObject({ tool: "subagent", status: "completed" });
    expect(last(replies("subagent"))).toMatchObject({ kind: "final", content: "The subagent said hello." });
    expect(replies("question-answer").find((r) => r.kind === "tool_result")).toMatchObject({ tool: "question", status: "completed" });
  });

  it("a rejected permission: the tool fails declined and 2.1.2 interrupts the execution (reason shutdown): aborted", () => {
    const r = replies("permission-reject");
    expect(r.find((x) => x.kind === "tool_result")).toMatchObject({ status: "error", error: "The user declined this tool call" });
    expect(last(r)).toMatchObject({ kind: "error", code: "aborted" });
  });

  it("a 3 MB answer: the deltas pass the 1 MiB cap, the 3 MB text.ended does not and costs nothing; with a 4 MiB cap none is dropped", () => {
    const capped = run([one("huge").sse], one("huge"));
    const open = run([one("huge").sse], one("huge"), 4 * 1024 * 1024);
    expect(open.issues).toEqual([]);
    expect(capped.replies).toEqual(open.replies);
    const final = last(open.replies);
    expect(final?.kind === "final" && final.content.length).toBeGreaterThan(2_900_000);
  });
});
