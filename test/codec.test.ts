/**
 * The codec and the stream stage on deliberately damaged input, built from
 * real captured frames: bad JSON, unknown types, missing fields, oversized
 * frames, truncated streams, stale idles; and determinism.
 */
import { describe, expect, it } from "vitest";
import { createTurnState, finishTurn, mapOpencodeEvent } from "../src/codec/codec.js";
import { replaySync } from "../src/codec/replay.js";
import { contractViolations, type Reply } from "../src/codec/reply.js";
import { EventStreamDecoder, type StreamIssue } from "../src/stream/sse.js";
import { loadFixtures, oneByteChunks, randomSplit } from "./support/fixtures.js";

const fixtures = loadFixtures();
const fixture = (name: string) => {
  const f = fixtures.find((x) => x.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return f;
};

/** The SSE frames of a capture, as `data` strings. */
function frames(sse: Buffer): string[] {
  return sse
    .toString("utf8")
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => f.slice("data: ".length));
}
const toSse = (data: string[]) => data.map((d) => `data: ${d}\n\n`).join("");
const typeOf = (d: string) => (JSON.parse(d) as { type: string }).type;

const text = fixture("1.18.33/text");
const textFrames = frames(text.sse);
const sessionId = text.golden[0]?.session_id ?? "";
const goldenFinal = text.golden[text.golden.length - 1];

describe("malformed input", () => {
  it("an unreadable frame of this turn ends it with error protocol, after what came before", () => {
    const i = textFrames.findIndex((d) => typeOf(d) === "message.part.delta");
    const damaged = [...textFrames];
    const frame = damaged[i + 2] ?? "";
    damaged[i + 2] = frame.slice(0, frame.indexOf('"delta":')); // cut JSON, still naming the session
    const issues: StreamIssue[] = [];
    const { replies } = replaySync([toSse(damaged)], { traceId: "t", onIssue: (x) => issues.push(x) });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: "invalid_json", type: "message.part.delta" });
    expect(contractViolations(replies)).toEqual([]);
    const last = replies[replies.length - 1];
    expect(last).toMatchObject({ kind: "error", code: "protocol" });
    expect(replies.filter((r) => r.kind === "delta")).toHaveLength(2);
  });

  it("bad JSON of another session, or of no turn-relevant type, is reported and the turn goes on", () => {
    const damaged = [...textFrames];
    const j = damaged.findIndex((d) => typeOf(d) === "message.part.delta");
    const other = (damaged[j] ?? "").replace(sessionId, "ses_someoneelse0000000000000");
    damaged.splice(j, 0, other.slice(0, other.indexOf('"delta":')));
    damaged.splice(1, 0, '{"type":"session.diff","properties":{"sessionID":"' + sessionId + '","diff":[');
    damaged.splice(2, 0, "this is not json at all");
    const { replies, issues } = replaySync([toSse(damaged)], { traceId: "trace-text" });
    expect(issues.map((x) => x.code)).toEqual(["invalid_json", "invalid_json", "invalid_json"]);
    expect(replies).toEqual(text.golden);
  });

  it("unknown event types and unknown fields are ignored", () => {
    const withUnknown = textFrames.flatMap((d) => {
      const e = JSON.parse(d) as { type: string; properties: Record<string, unknown> };
      const renamed = JSON.stringify({ ...e, type: `${e.type}.from-the-future` });
      const extra = JSON.stringify({ ...e, properties: { ...e.properties, brandNewField: { nested: [1, 2] } } });
      return [renamed, extra];
    });
    const { replies, issues } = replaySync([toSse(withUnknown)], { traceId: "trace-text" });
    expect(issues).toEqual([]);
    expect(replies).toEqual(text.golden);
  });

  it("a known event with a missing field is a protocol error for its session only", () => {
    const i = textFrames.findIndex((d) => typeOf(d) === "message.part.delta");
    const e = JSON.parse(textFrames[i] ?? "{}") as { properties: Record<string, unknown> };
    delete e.properties.partID;
    const damaged = [...textFrames];
    damaged[i] = JSON.stringify(e);
    const { replies } = replaySync([toSse(damaged)], { traceId: "t" });
    expect(replies[replies.length - 1]).toMatchObject({ kind: "error", code: "protocol" });
    expect(replies[replies.length - 1]?.kind === "error" && replies[replies.length - 1]).toBeTruthy();

    const otherSession = replaySync([toSse(damaged)], { traceId: "t", sessionId: "ses_other" });
    expect(otherSession.replies.map((r) => r.kind)).toEqual(["error"]); // only the end-of-stream transport error
    expect(otherSession.replies[0]).toMatchObject({ code: "transport" });
  });

  it("a frame over the cap (1 MiB here) is dropped and reported, however it is chunked, with bounded buffering", () => {
    const big = JSON.stringify({
      type: "session.diff",
      properties: { sessionID: "ses_unrelated000000000000000", diff: [{ file: "x", patch: "y".repeat(1_100_000) }] },
    });
    const damaged = [...textFrames];
    damaged.splice(3, 0, big);
    const bytes = Buffer.from(toSse(damaged));
    const variants = [[bytes], randomSplit(bytes, 9, 65_536), randomSplit(bytes, 10, 4096)];
    for (const chunks of variants) {
      const { replies, issues } = replaySync(chunks, { traceId: "trace-text", maxFrameBytes: 1024 * 1024 });
      expect(issues.map((x) => [x.code, x.type, x.sessionID])).toEqual([
        ["frame_too_large", "session.diff", "ses_unrelated000000000000000"],
      ]);
      expect(replies).toEqual(text.golden);
    }
  });

  it("an oversized frame of this turn's session ends the turn with error protocol", () => {
    const i = textFrames.findIndex((d) => typeOf(d) === "message.part.delta");
    const e = JSON.parse(textFrames[i] ?? "{}") as { properties: { delta: string } };
    e.properties.delta = "z".repeat(1_200_000);
    const damaged = [...textFrames];
    damaged[i] = JSON.stringify(e);
    const bytes = Buffer.from(toSse(damaged));
    for (const chunks of [[bytes], randomSplit(bytes, 3, 32_768)]) {
      const { replies } = replaySync(chunks, { traceId: "t", maxFrameBytes: 1024 * 1024 });
      expect(contractViolations(replies)).toEqual([]);
      expect(replies[replies.length - 1]).toMatchObject({ kind: "error", code: "protocol" });
    }
  });

  it("the default cap (16 MiB) passes a 1.2 MB delta: a long answer's frames are not lost", () => {
    const i = textFrames.findIndex((d) => typeOf(d) === "message.part.delta");
    const e = JSON.parse(textFrames[i] ?? "{}") as { properties: { delta: string } };
    e.properties.delta = "z".repeat(1_200_000);
    const damaged = [...textFrames];
    damaged[i] = JSON.stringify(e);
    const { replies, issues } = replaySync(randomSplit(Buffer.from(toSse(damaged)), 4, 65_536), { traceId: "t" });
    expect(issues).toEqual([]);
    expect(contractViolations(replies)).toEqual([]);
    const last = replies[replies.length - 1];
    expect(last?.kind).toBe("final");
    expect((last as { content: string }).content).toContain("z".repeat(1_200_000));
  });

  it("the decoder never buffers much more than the cap for an endless frame", () => {
    const issues: StreamIssue[] = [];
    let events = 0;
    const d = new EventStreamDecoder(
      { onEvent: () => events++, onIssue: (x) => issues.push(x) },
      { maxFrameBytes: 10_000 },
    );
    d.push('data: {"type":"message.part.delta","properties":{"sessionID":"ses_x","delta":"');
    for (let i = 0; i < 1000; i++) d.push("a".repeat(1000)); // 1 MB, never terminated
    const inside = (d as unknown as { parser: unknown; sinceDispatch: number }).sinceDispatch;
    expect(inside).toBeLessThan(20_000);
    d.push('"}}\n\ndata: {"type":"server.connected","properties":{}}\n\n');
    d.end();
    expect(issues.map((x) => x.code)).toEqual(["frame_too_large"]);
    expect(issues[0]).toMatchObject({ type: "message.part.delta", sessionID: "ses_x" });
    expect(events).toBe(1);
  });

  it("a truncated stream ends the turn with error transport and keeps the text streamed so far", () => {
    const whole = text.sse.toString("utf8");
    const cut = whole.indexOf('"field":"text","delta":"model. "');
    const truncated = whole.slice(0, cut);
    const issues: StreamIssue[] = [];
    const { replies } = replaySync([truncated], { traceId: "t", onIssue: (x) => issues.push(x) });
    expect(issues.map((x) => x.code)).toEqual(["truncated"]);
    expect(contractViolations(replies)).toEqual([]);
    const deltas = replies.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content);
    expect(deltas.join("")).toBe("Hello from the scripted ");
    expect(replies[replies.length - 1]).toMatchObject({ kind: "error", code: "transport" });
  });

  it("garbage bytes, an HTML error page and an empty input never throw", () => {
    for (const input of ["", "<html><body>502 Bad Gateway</body></html>", "\u0000\u0001\u0002", "data:\n\n", ":\n\n"]) {
      const { replies } = replaySync([input], { traceId: "t" });
      expect(replies.map((r) => r.kind)).toEqual(["error"]);
      expect(replies[0]).toMatchObject({ code: "transport", seq: 0 });
    }
    const st = createTurnState({ traceId: "t" });
    for (const evt of [null, 42, "x", [], { type: 1 }, { type: "message.part.delta" }, { type: "session.idle", properties: 5 }]) {
      expect(() => mapOpencodeEvent(evt, st)).not.toThrow();
    }
  });
});

describe("turn boundaries", () => {
  it("idles before the turn's prompt is admitted do not end it", () => {
    const idles = textFrames.filter((d) => {
      const t = typeOf(d);
      return t === "session.idle" || (t === "session.status" && d.includes('"idle"'));
    });
    expect(idles.length).toBeGreaterThan(0);
    const start = textFrames.findIndex((d) => typeOf(d) === "message.updated");
    const stale = [...textFrames.slice(0, start), ...idles, ...textFrames.slice(start)];
    const { replies } = replaySync([toSse(stale)], { traceId: "trace-text", sessionId });
    expect(replies).toEqual(text.golden);
  });

  it("a republished user message of an earlier turn does not admit the turn", () => {
    const userFrame = textFrames.find((d) => typeOf(d) === "message.updated" && d.includes('"role":"user"')) ?? "";
    const userId = (JSON.parse(userFrame) as { properties: { info: { id: string } } }).properties.info.id;
    const { replies } = replaySync([text.sse], { traceId: "t", sessionId, priorMessageIds: [userId] });
    expect(replies.map((r) => r.kind)).toEqual(["error"]);
  });

  it("the expected user message id admits exactly that turn", () => {
    const userFrame = textFrames.find((d) => typeOf(d) === "message.updated" && d.includes('"role":"user"')) ?? "";
    const userId = (JSON.parse(userFrame) as { properties: { info: { id: string } } }).properties.info.id;
    const ok = replaySync([text.sse], { traceId: "trace-text", sessionId, userMessageId: userId });
    expect(ok.replies).toEqual(text.golden);
    const wrong = replaySync([text.sse], { traceId: "t", sessionId, userMessageId: "msg_not_this_one" });
    expect(wrong.replies.map((r) => r.kind)).toEqual(["error"]);
  });

  it("finishTurn after the end emits nothing; before it, exactly one error", () => {
    let st = createTurnState({ traceId: "t" });
    const all: Reply[] = [];
    for (const d of textFrames) {
      const r = mapOpencodeEvent(JSON.parse(d), st);
      st = r.state;
      all.push(...r.replies);
    }
    expect(all[all.length - 1]).toEqual({ ...goldenFinal, trace_id: "t" });
    expect(finishTurn(st, { code: "timeout" }).replies).toEqual([]);

    let half = createTurnState({ traceId: "t" });
    for (const d of textFrames.slice(0, Math.floor(textFrames.length / 2))) half = mapOpencodeEvent(JSON.parse(d), half).state;
    const fin = finishTurn(half, { code: "timeout", message: "idle for 30 s" });
    expect(fin.replies[fin.replies.length - 1]).toMatchObject({ kind: "error", code: "timeout", error: "idle for 30 s" });
    expect(finishTurn(fin.state, { code: "timeout" }).replies).toEqual([]);
  });

  it("events after the terminal reply produce nothing", () => {
    const doubled = Buffer.concat([text.sse, text.sse]);
    expect(replaySync([doubled], { traceId: "trace-text" }).replies).toEqual(text.golden);
  });
});

describe("determinism", () => {
  it("the same bytes give the same replies, run after run, and runs do not share state", () => {
    for (const f of fixtures.slice(0, 12)) {
      const a = replaySync([f.sse], { traceId: "x" }).replies;
      const b = replaySync(oneByteChunks(f.sse.subarray(0, 0)).concat([f.sse]), { traceId: "x" }).replies;
      const c = replaySync([f.sse], { traceId: "x" }).replies;
      expect(b).toEqual(a);
      expect(c).toEqual(a);
    }
  });

  it("the codec reads no clock or randomness", () => {
    const realNow = Date.now;
    const realRandom = Math.random;
    try {
      Date.now = () => {
        throw new Error("codec read the clock");
      };
      Math.random = () => {
        throw new Error("codec read randomness");
      };
      for (const f of fixtures) replaySync([f.sse], { traceId: "x" });
    } finally {
      Date.now = realNow;
      Math.random = realRandom;
    }
  });
});
