/**
 * The 2.x translator on the events of real 2.1.2 captures (test/fixtures/2.1.2):
 * what the adapter's stages read besides the replies — requests for people,
 * child sessions, the session every event resolves to.
 */
import { describe, expect, it } from "vitest";
import { createV2Translator, v2FormAnswer, type V1Payload } from "../src/codec/v2/index.js";
import { loadFixtures } from "./support/fixtures.js";

const fixtures = loadFixtures(2);

function translated(scenario: string): { raw: Record<string, unknown>; out: V1Payload[] }[] {
  const f = fixtures.find((x) => x.scenario === scenario);
  if (!f) throw new Error(`no 2.1.2 capture ${scenario}`);
  const t = createV2Translator();
  return f.sse
    .toString("utf8")
    .split("\n\n")
    .filter((x) => x.startsWith("data: "))
    .map((x) => JSON.parse(x.slice(6)) as Record<string, unknown>)
    .map((raw) => ({ raw, out: t.translateRaw(raw) }));
}
const all = (scenario: string) => translated(scenario).flatMap((x) => x.out);
const rawOf = (scenario: string, type: string) => translated(scenario).find((x) => x.raw.type === type)?.raw as { data: Record<string, unknown> };

describe("the 2.x translator on captured events", () => {
  it("a permission keeps its id, session, action, resources, what `always` would save and its tool call", () => {
    const asked = all("permission-once").filter((e) => e.type === "permission.asked");
    expect(asked).toHaveLength(2);
    const raw = rawOf("permission-once", "permission.asked").data;
    const source = raw.source as { messageID: string; id: string };
    expect(asked[0]?.properties).toMatchObject({
      id: raw.id,
      sessionID: raw.sessionID,
      permission: "shell",
      patterns: ["echo first-permitted"],
      always: ["echo *"],
      tool: { messageID: source.messageID, callID: source.id },
    });
    expect(all("permission-once").filter((e) => e.type === "permission.replied").map((e) => e.properties.requestID)).toEqual(
      asked.map((e) => e.properties.id),
    );
  });

  it("a question form becomes question.asked with the form id, each field's key and the form itself; its reply settles it", () => {
    const form = (rawOf("question-answer", "form.created").data.form ?? {}) as { id: string; sessionID: string };
    const asked = all("question-answer").find((e) => e.type === "question.asked");
    expect(asked?.properties).toMatchObject({
      id: form.id,
      sessionID: form.sessionID,
      questions: [{ key: "q0", header: "Button colour", question: "Which colour should the button be?", options: [{ label: "Blue" }, { label: "Red" }] }],
      form,
      tool: { callID: "call_question_1" },
    });
    expect(all("question-answer").find((e) => e.type === "question.replied")?.properties).toMatchObject({ requestID: form.id, answer: { q0: "Blue" } });
  });

  it("1.x-style answers become the form reply the capture sent: {answer: {q0: \"Blue\"}}", () => {
    const form = rawOf("question-answer", "form.created").data.form;
    expect(v2FormAnswer(form, [["Blue"]])).toEqual({ answer: { q0: "Blue" } });
    // Typed text (the field allows custom answers) passes as it is; missing answers are left out.
    expect(v2FormAnswer(form, [["Green please"]])).toEqual({ answer: { q0: "Green please" } });
    expect(v2FormAnswer(form, [])).toEqual({ answer: {} });
  });

  it("a subagent's session is a child: session.created with parentID, and the subagent tool names it as 1.x's task did", () => {
    const events = all("subagent");
    const child = events.find((e) => e.type === "session.created" && (e.properties.info as { parentID?: string }).parentID !== undefined);
    const info = child?.properties.info as { id: string; parentID: string };
    expect(info.parentID).toBe(Object.keys(fixtures.find((f) => f.scenario === "subagent")?.record ?? {})[0]);
    const tool = events.find((e) => e.type === "message.part.updated" && JSON.stringify(e.properties).includes('"sessionId"'));
    expect(JSON.stringify(tool)).toContain(`"sessionId":"${info.id}"`);
  });

  it("every translated event resolves to the session of the 2.x event (session.execution.* carry no location)", () => {
    for (const f of fixtures.filter((x) => x.sse.length < 500_000)) {
      const t = createV2Translator();
      for (const frame of f.sse.toString("utf8").split("\n\n").filter((x) => x.startsWith("data: "))) {
        const raw = JSON.parse(frame.slice(6)) as { type: string; data?: { sessionID?: string; form?: { sessionID?: string } } };
        const sid = raw.data?.sessionID ?? raw.data?.form?.sessionID;
        for (const e of t.translate(raw)) {
          expect(e.ok, `${f.name} ${raw.type} → ${e.type}: ${e.reason}`).toBe(true);
          if (sid !== undefined) expect(e.sessionID, `${f.name} ${raw.type}`).toBe(sid);
        }
      }
    }
  });

  it("an execution's end closes the open step and idles the session: failed → session.error, interrupted → aborted", () => {
    const failed = all("provider-error").map((e) => e.type);
    expect(failed.slice(-2)).toEqual(["session.error", "session.status"]);
    const interrupted = all("interrupt").filter((e) => e.type === "session.error");
    expect(interrupted.at(-1)?.properties.error).toMatchObject({ name: "MessageAbortedError" });
  });
});
