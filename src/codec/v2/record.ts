/**
 * A 2.x session record (`GET /api/session/:id/message`) → 1.x's record shape,
 * the one src/adapter/repair.ts reads (`{info, parts}`, oldest first), so that
 * repair and verify-at-end work unchanged on 2.x.
 *
 * 2.x's record (captured: test/fixtures/2.1.2/*.messages.json) is newest first,
 * `{data: [...]}`, with entries `{type: "user", text}`, `{type: "assistant",
 * time: {created, streamed?, completed?}, content: [...], finish?, error?,
 * tokens, cost, model, agent}` and `{type: "idle", outcome, error?}` closing an
 * execution. Assistant messages name no parent: the user message before them is it.
 *
 * Never a false final: an assistant message counts as finished (1.x:
 * `time.completed`) only when it has `time.completed` and `finish` AND an
 * `idle{outcome: "succeeded"}` follows it. A failed or interrupted idle after it
 * marks it with that error instead. A server killed mid-turn leaves neither
 * (the message stays open, no idle follows), so the turn is never taken as done.
 */
import type { RecordMessage } from "../record.js";
import { isRec, partId, str, toolOutput, v2Error, type Rec, type V2Error } from "./shared.js";

/** The entries of a record body (`{data: [...]}`, or the array itself), oldest first. */
function entries(body: unknown): Rec[] {
  const list = Array.isArray(body) ? body : isRec(body) && Array.isArray(body.data) ? body.data : [];
  return list.filter(isRec).slice().reverse();
}

/** The ending of the execution each entry belongs to: the first idle after it. */
function endings(list: readonly Rec[]): (Rec | undefined)[] {
  const out: (Rec | undefined)[] = new Array(list.length);
  let next: Rec | undefined;
  for (let i = list.length - 1; i >= 0; i--) {
    const e = list[i] as Rec;
    if (e.type === "idle") next = e;
    out[i] = next;
  }
  return out;
}

function assistantParts(id: string, content: unknown): unknown[] {
  if (!Array.isArray(content)) return [];
  const parts: unknown[] = [];
  const count = { text: 0, reasoning: 0 };
  for (const c of content) {
    if (!isRec(c)) continue;
    if (c.type === "text" || c.type === "reasoning") {
      const kind = c.type;
      parts.push({ type: kind, id: partId(id, kind, count[kind]++), messageID: id, text: str(c.text) ?? "" });
    } else if (c.type === "tool") {
      const callID = str(c.id);
      if (callID === undefined) continue;
      const st = isRec(c.state) ? c.state : {};
      const status = str(st.status) ?? "pending";
      const err = isRec(st.error) ? st.error : undefined;
      const output = toolOutput(st.content);
      parts.push({
        type: "tool",
        id: callID,
        callID,
        messageID: id,
        tool: str(c.name) ?? "",
        state: {
          status,
          input: st.input ?? {},
          ...(output !== undefined ? { output } : {}),
          ...(status === "error" ? { error: str(err?.message) ?? str(err?.type) ?? "tool failed" } : {}),
          ...(isRec(st.metadata) ? { metadata: st.metadata } : {}),
        },
      });
    }
  }
  return parts;
}

export function v2RecordToMessages(body: unknown): RecordMessage[] {
  const list = entries(body);
  const ends = endings(list);
  const out: RecordMessage[] = [];
  let user: string | undefined;
  list.forEach((e, i) => {
    const id = str(e.id);
    if (id === undefined) return;
    const time = isRec(e.time) ? e.time : {};
    if (e.type === "user") {
      user = id;
      const text = str(e.text);
      out.push({
        info: { id, role: "user", time: { created: time.created } },
        parts: text === undefined ? [] : [{ type: "text", id: partId(id, "text", 0), messageID: id, text }],
      });
      return;
    }
    if (e.type !== "assistant") return;
    const model = isRec(e.model) ? e.model : {};
    const end = ends[i];
    const providerID = str(model.providerID);
    const info: { id: string } & Rec = {
      id,
      role: "assistant",
      ...(user !== undefined ? { parentID: user } : {}),
      ...(providerID !== undefined ? { providerID } : {}),
      ...(str(model.id) !== undefined ? { modelID: model.id } : {}),
      ...(str(e.agent) !== undefined ? { agent: e.agent } : {}),
      ...(isRec(e.tokens) ? { tokens: e.tokens } : {}),
      ...(typeof e.cost === "number" ? { cost: e.cost } : {}),
      ...(str(e.finish) !== undefined ? { finish: e.finish } : {}),
      time: { created: time.created },
    };
    const finished = time.completed !== undefined && e.finish !== undefined && end?.outcome === "succeeded";
    if (finished) info.time = { created: time.created, completed: time.completed };
    const failure = isRec(e.error) ? e.error : end !== undefined && end.outcome !== "succeeded" ? endError(end) : undefined;
    if (failure !== undefined && end !== undefined) {
      info.error = end.outcome === "interrupted" ? aborted(end) : v2Error(failure as V2Error, providerID);
    }
    out.push({ info, parts: assistantParts(id, e.content) });
  });
  return out;
}

function endError(end: Rec): Rec {
  return isRec(end.error) ? end.error : { type: "UnknownError", message: `the execution ended ${String(end.outcome)}` };
}

function aborted(end: Rec): { name: string; data: Rec } {
  return { name: "MessageAbortedError", data: { message: `interrupted${str(end.reason) ? ` (${end.reason as string})` : ""}` } };
}
