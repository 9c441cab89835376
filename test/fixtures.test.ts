/**
 * Every captured fixture (real `opencode serve` streams, several versions):
 * - replays to its golden replies;
 * - satisfies the reply contract;
 * - agrees with the server's own record of the turn (text, reasoning, tools, error);
 * - gives identical replies however the bytes are chunked or framed.
 */
import { describe, expect, it } from "vitest";
import { replaySync } from "../src/codec/replay.js";
import { contractViolations, type Reply } from "../src/codec/reply.js";
import {
  loadFixtures,
  oneByteChunks,
  randomSplit,
  recordedTurn,
  sameText,
  textByPart,
  toCrlf,
  type Fixture,
} from "./support/fixtures.js";

const fixtures = loadFixtures();
const versions = new Set(fixtures.map((f) => f.version));

function run(chunks: Iterable<Uint8Array | string>, f: Fixture, sessionId?: string) {
  return replaySync(chunks, { traceId: `trace-${f.scenario}`, sessionId });
}

/** The session the replay binds to by default: the first that receives a prompt. */
function defaultSession(f: Fixture): string {
  const r = run([f.sse], f);
  return r.replies[0]?.session_id ?? "";
}

function checkAgainstRecord(replies: Reply[], f: Fixture, sessionId: string) {
  const messages = f.record[sessionId];
  expect(messages, `record has session ${sessionId}`).toBeDefined();
  const rec = recordedTurn(messages ?? []);
  const last = replies[replies.length - 1];

  // Answer text, part by part.
  const streamed = textByPart(replies, "delta");
  const recordedTexts = rec.texts.filter((t) => t.text !== "" || streamed.has(t.id));
  expect([...streamed.keys()]).toEqual(recordedTexts.map((t) => t.id));
  for (const t of recordedTexts) {
    const s = streamed.get(t.id) ?? "";
    if (last?.kind === "error") {
      // On an abort 1.2.x records less than it streamed (an empty part): nothing the server kept is missing.
      expect(s.startsWith(t.text.trimEnd()), `text of ${t.id}`).toBe(true);
    } else {
      expect(sameText(s, t.text), `text of ${t.id}`).toBe(true);
    }
  }
  // Reasoning, part by part, never in the answer.
  const thought = textByPart(replies, "reasoning");
  expect([...thought.keys()]).toEqual(rec.reasoning.filter((t) => t.text !== "").map((t) => t.id));
  for (const t of rec.reasoning) if (t.text !== "") expect(sameText(thought.get(t.id) ?? "", t.text)).toBe(true);
  if (last?.kind === "final") {
    for (const t of thought.values()) if (t.trim().length > 8) expect(last.content).not.toContain(t.trim());
  }

  // Tools: one call and one result per recorded tool part, with the server's input and output.
  const calls = replies.filter((r) => r.kind === "tool_call");
  const results = replies.filter((r) => r.kind === "tool_result");
  expect(calls.map((c) => c.call_id)).toEqual(rec.tools.map((t) => t.callID));
  for (const t of rec.tools) {
    const call = calls.find((c) => c.call_id === t.callID);
    const result = results.find((c) => c.call_id === t.callID);
    expect(call?.tool).toBe(t.tool);
    expect(call?.input).toEqual(t.input);
    if (t.status === "completed" || t.status === "error") {
      expect(result?.status).toBe(t.status);
      if (t.status === "completed") expect(result?.output).toBe(t.output);
      else expect(result?.error).toBe(t.error);
    }
  }

  // The terminal reply says what the server recorded.
  if (rec.error !== undefined) {
    expect(last?.kind).toBe("error");
    if (last?.kind === "error") expect(last.error).toContain(rec.error);
  } else {
    expect(last?.kind).toBe("final");
  }
}

describe("captured fixtures", () => {
  it("cover at least two OpenCode versions and the required scenarios", () => {
    expect(versions.size).toBeGreaterThanOrEqual(2);
    expect(versions.has("1.18.33")).toBe(true);
    const required = ["text", "reasoning", "tool", "tool-error", "two-tools", "non-ascii", "provider-error", "long"];
    for (const v of versions) {
      const have = fixtures.filter((f) => f.version === v).map((f) => f.scenario);
      expect(have).toEqual(expect.arrayContaining(required));
    }
    const long = fixtures.filter((f) => f.scenario === "long");
    for (const f of long) expect(f.golden.filter((r) => r.kind === "delta").length).toBeGreaterThanOrEqual(1000);
  });

  describe.each(fixtures.map((f) => [f.name, f] as const))("%s", (_name, f) => {
    const session = defaultSession(f);

    it("replays to its golden replies", () => {
      expect(f.golden.length).toBeGreaterThan(0);
      expect(run([f.sse], f).replies).toEqual(f.golden);
    });

    it("satisfies the reply contract and reports no stream problems", () => {
      const { replies, issues } = run([f.sse], f);
      expect(contractViolations(replies)).toEqual([]);
      expect(issues).toEqual([]);
    });

    it("agrees with the server's own record of the turn", () => {
      checkAgainstRecord(run([f.sse], f).replies, f, session);
    });

    it("gives identical replies for 1-byte chunks, CRLF framing and seeded random splits", () => {
      const whole = run([f.sse], f).replies;
      expect(run(oneByteChunks(f.sse), f).replies).toEqual(whole);
      expect(run([toCrlf(f.sse)], f).replies).toEqual(whole);
      for (const seed of [1, 2, 3, 42, 1337]) {
        expect(run(randomSplit(f.sse, seed), f).replies).toEqual(whole);
      }
      expect(run(randomSplit(toCrlf(f.sse), 7, 5), f).replies).toEqual(whole);
    });

    it("replays every other session in the stream on its own, consistent with the record", () => {
      for (const other of Object.keys(f.record)) {
        if (other === session) continue;
        const { replies } = run([f.sse], f, other);
        expect(contractViolations(replies)).toEqual([]);
        expect(new Set(replies.map((r) => r.session_id))).toEqual(new Set([other]));
        checkAgainstRecord(replies, f, other);
      }
    });
  });
});

describe("scenario specifics", () => {
  const byScenario = (s: string) => fixtures.filter((f) => f.scenario === s);

  it.each(byScenario("text").map((f) => [f.name, f] as const))("%s: the user's prompt is not a reply", (_n, f) => {
    const all = run([f.sse], f).replies.map((r) => JSON.stringify(r)).join("\n");
    expect(all).not.toContain("[scenario:");
  });

  it.each(byScenario("provider-error").map((f) => [f.name, f] as const))(
    "%s: a provider 401 ends the turn as error upstream with the provider's words, never an empty final",
    (_n, f) => {
      const replies = run([f.sse], f).replies;
      expect(replies.some((r) => r.kind === "final")).toBe(false);
      const last = replies[replies.length - 1];
      expect(last).toMatchObject({ kind: "error", code: "upstream" });
      expect(last?.kind === "error" && last.error).toContain("Incorrect API key provided");
      expect(last?.kind === "error" && last.error).toContain("401");
    },
  );

  it.each(byScenario("plugin-tag").map((f) => [f.name, f] as const))(
    "%s: plugin tags cut across deltas never leak into text",
    (_n, f) => {
      const replies = run([f.sse], f).replies;
      const text = replies.map((r) => ("content" in r ? r.content : "")).join("");
      expect(text).not.toMatch(/dcp|m0042|<|>/);
      const last = replies[replies.length - 1];
      expect(last?.kind === "final" && last.content).toBe("Kept text  and more text.");
    },
  );

  it.each(byScenario("subagent").map((f) => [f.name, f] as const))(
    "%s: the child session's text stays out of the parent's turn",
    (_n, f) => {
      const replies = run([f.sse], f).replies;
      const last = replies[replies.length - 1];
      expect(last?.kind).toBe("final");
      expect(last?.kind === "final" && last.content).toBe("The subagent said hello.");
      const result = replies.find((r) => r.kind === "tool_result");
      expect(result).toMatchObject({ tool: "task", status: "completed" });
    },
  );

  it.each(byScenario("abort").map((f) => [f.name, f] as const))(
    "%s: a server-side abort ends the turn as error aborted, keeping the text streamed before it",
    (_n, f) => {
      const replies = run([f.sse], f).replies;
      const last = replies[replies.length - 1];
      expect(last).toMatchObject({ kind: "error", code: "aborted" });
      expect(replies.filter((r) => r.kind === "delta").length).toBeGreaterThan(0);
    },
  );

  it.each(byScenario("permission").map((f) => [f.name, f] as const))(
    "%s: a rejected permission shows as a tool_result with status error",
    (_n, f) => {
      const replies = run([f.sse], f).replies;
      const result = replies.find((r) => r.kind === "tool_result");
      expect(result).toMatchObject({ status: "error" });
      expect(result?.kind === "tool_result" && result.error).toMatch(/rejected/i);
    },
  );

  it.each(byScenario("permission-reject-message").map((f) => [f.name, f] as const))(
    "%s: a rejection with a message reaches the model as the tool's error, and the turn ends by the model's answer",
    (_n, f) => {
      const replies = run([f.sse], f).replies;
      const result = replies.find((r) => r.kind === "tool_result");
      expect(result).toMatchObject({ status: "error" });
      expect(result?.kind === "tool_result" && result.error).toContain("Not on this machine");
      expect(replies[replies.length - 1]).toMatchObject({ kind: "final", content: "After the permission decision." });
    },
  );

  it.each([...byScenario("permission-once"), ...byScenario("permission-always")].map((f) => [f.name, f] as const))(
    "%s: both permitted commands complete; `once` is asked twice, `always` once",
    (_n, f) => {
      const replies = run([f.sse], f).replies;
      const results = replies.filter((r) => r.kind === "tool_result");
      expect(results.map((r) => r.kind === "tool_result" && r.status)).toEqual(["completed", "completed"]);
      const asks = f.sse.toString("utf8").split('"type":"permission.asked"').length - 1;
      expect(asks).toBe(f.scenario === "permission-once" ? 2 : 1);
    },
  );

  it.each(byScenario("question-answer").map((f) => [f.name, f] as const))(
    "%s: the chosen option reaches the model as the question tool's output",
    (_n, f) => {
      const replies = run([f.sse], f).replies;
      const result = replies.find((r) => r.kind === "tool_result");
      expect(result).toMatchObject({ tool: "question", status: "completed" });
      expect(result?.kind === "tool_result" && result.output).toContain('"Blue"');
      expect(replies[replies.length - 1]).toMatchObject({ kind: "final" });
    },
  );

  it.each(byScenario("question-reject").map((f) => [f.name, f] as const))(
    "%s: a rejected question is the question tool's error",
    (_n, f) => {
      const result = run([f.sse], f).replies.find((r) => r.kind === "tool_result");
      expect(result).toMatchObject({ tool: "question", status: "error" });
      expect(result?.kind === "tool_result" && result.error).toMatch(/dismissed|QuestionRejectedError/);
    },
  );

  it.each(byScenario("interleaved").map((f) => [f.name, f] as const))(
    "%s: two sessions on one stream never mix",
    (_n, f) => {
      const sessions = Object.keys(f.record);
      expect(sessions.length).toBe(2);
      const [a, b] = sessions.map((s) => run([f.sse], f, s).replies);
      const textA = a?.map((r) => ("content" in r ? r.content : "")).join("") ?? "";
      const textB = b?.map((r) => ("content" in r ? r.content : "")).join("") ?? "";
      expect(textA.length).toBeGreaterThan(0);
      expect(textB.length).toBeGreaterThan(0);
      // One runs the slow word list, the other the two tools: no content crosses.
      const [slow, tools] = textA.includes("w10 ") ? [textA, textB] : [textB, textA];
      expect(tools).not.toContain("w10 ");
      expect(slow).not.toContain("Running two commands");
    },
  );
});
