/**
 * The `session.next.*` dialect (1.15.13 with OPENCODE_EXPERIMENTAL_EVENT_SYSTEM;
 * captured: test/fixtures/1.15.13/*-experimental.sse, see docs/dialects.md).
 *
 * Such a server sends `session.next.*` NEXT TO the unchanged `message.part.*`
 * stream, and its `.text.ended` has no part id to line the two up. So the
 * `message.part.*` stream stays the source of replies, and `session.next.*` is
 * the fallback: what a step's `session.next.*` events carry is kept, and at the
 * step's end (or the turn's) only what `message.part.*` did not deliver is
 * emitted — a tool call whose call id was never seen, text or reasoning of a step
 * that produced none. With both streams present nothing is emitted twice.
 */
import type { ReplyBody } from "./envelope.js";
import type { KnownEvent } from "./schemas.js";
import type { TurnState } from "./state.js";
import { answerLength, emitText } from "./text.js";
import { onToolPart } from "./tools.js";

export interface NextStep {
  /** `answerLength(state)` and the number of reasoning parts when the step started. */
  answerAt: number;
  reasoningAt: number;
  texts: string[];
  reasonings: string[];
  tools: Map<string, { tool: string; input: unknown; status?: "completed" | "error"; output?: string; error?: string }>;
  /** Steps flushed so far (part ids of emitted text are `next-<step>-<i>`). */
  index: number;
}

type NextEvent = Extract<KnownEvent, { type: `session.next.${string}` }>;

const reasoningCount = (state: TurnState) => {
  let n = 0;
  for (const t of state.texts.values()) if (t.kind === "reasoning") n++;
  return n;
};

function step(state: TurnState): NextStep {
  state.next ??= { answerAt: answerLength(state), reasoningAt: reasoningCount(state), texts: [], reasonings: [], tools: new Map(), index: 0 };
  return state.next;
}

export function onNextEvent(evt: NextEvent, state: TurnState, out: ReplyBody[]): void {
  if (state.phase !== "running") return;
  switch (evt.type) {
    case "session.next.step.started":
      // The step starts from the answer and reasoning as they are now (flushNext leaves an open step so).
      flushNext(state, out);
      step(state);
      return;
    case "session.next.step.ended":
      flushNext(state, out);
      return;
    case "session.next.text.ended":
      if (evt.properties.text !== "") step(state).texts.push(evt.properties.text);
      return;
    case "session.next.reasoning.ended":
      if (evt.properties.text !== "") step(state).reasonings.push(evt.properties.text);
      return;
    case "session.next.tool.called":
      step(state).tools.set(evt.properties.callID, { tool: evt.properties.tool, input: evt.properties.input });
      return;
    case "session.next.tool.success": {
      const t = step(state).tools.get(evt.properties.callID);
      if (!t) return;
      t.status = "completed";
      const content = evt.properties.content ?? [];
      t.output = content.map((c) => (typeof c.text === "string" ? c.text : "")).join("");
      return;
    }
    case "session.next.tool.failed": {
      const t = step(state).tools.get(evt.properties.callID);
      if (!t) return;
      t.status = "error";
      t.error = evt.properties.error?.message ?? "the tool failed";
      return;
    }
    case "session.next.model.switched":
    case "session.next.agent.switched":
      return; // read by the reducer
    default: {
      const never: never = evt;
      void never;
    }
  }
}

/** Emit what this step's `session.next.*` events carried and `message.part.*` did not; then forget the step. */
export function flushNext(state: TurnState, out: ReplyBody[]): void {
  const s = state.next;
  if (!s) return;
  const i = s.index++;
  if (reasoningCount(state) === s.reasoningAt) s.reasonings.forEach((text, j) => emitText(state, out, `next-${i}-r${j}`, "reasoning", text));
  for (const [callID, t] of s.tools) {
    if (state.tools?.has(callID) === true) continue;
    onToolPart(state, out, { id: callID, callID, tool: t.tool, state: { status: "running", input: t.input } });
    if (t.status) onToolPart(state, out, { id: callID, callID, tool: t.tool, state: { status: t.status, input: t.input, output: t.output, error: t.error } });
  }
  if (answerLength(state) === s.answerAt) s.texts.forEach((text, j) => emitText(state, out, `next-${i}-t${j}`, "delta", text));
  s.texts = [];
  s.reasonings = [];
  s.tools = new Map();
  s.answerAt = answerLength(state);
  s.reasoningAt = reasoningCount(state);
}
