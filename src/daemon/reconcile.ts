/**
 * After a restart: what became of a turn that was running when the daemon died,
 * read from OpenCode's own record of the session.
 *
 * The turn's answer is finished in the record when the session is idle and every
 * assistant message answering the turn's prompt (the last user message created
 * since the turn was accepted) has completed without an error. Then the turn is
 * finished from it: tool calls and results not yet reported, the text not yet
 * reported (when what was reported is a prefix of the record's text), and a
 * `final` whose content is the whole text. Otherwise — still running, failed, or
 * a record that does not continue what was reported — it is not finished here.
 */
import type { Reply } from "../codec/reply.js";
import type { RecordedMessage } from "../adapter/dialect.js";

/** What a reply of the turn needs besides its kind-specific fields. */
type Envelope = { trace_id: string; session_id: string; seq: number };
type Body = Reply extends infer R ? (R extends Reply ? Omit<R, keyof Envelope> : never) : never;

interface ToolState {
  status?: unknown;
  input?: unknown;
  output?: unknown;
  error?: unknown;
  title?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const time = (info: Record<string, unknown>, key: "created" | "completed"): number | undefined => {
  const t = (info.time as Record<string, unknown> | undefined)?.[key];
  return typeof t === "number" ? t : undefined;
};

/**
 * The replies that finish the turn from the record (the last one `final`), or
 * undefined when the record does not show a finished answer that continues `delivered`.
 */
export function finishFromRecord(
  delivered: readonly Reply[],
  messages: readonly RecordedMessage[],
  acceptedAt: number,
  sessionIdle: boolean,
): Body[] | undefined {
  if (!sessionIdle) return undefined;
  // Clocks of one machine; a second of slack for rounding.
  const users = messages.filter((m) => m.info.role === "user" && (time(m.info, "created") ?? 0) >= acceptedAt - 1_000);
  const user = users[users.length - 1];
  if (!user) return undefined;
  const answers = messages.filter((m) => m.info.role === "assistant" && m.info.parentID === user.info.id);
  if (answers.length === 0 || answers.some((m) => m.info.error != null || time(m.info, "completed") === undefined)) return undefined;

  const called = new Set(delivered.flatMap((r) => (r.kind === "tool_call" ? [r.call_id] : [])));
  const resulted = new Set(delivered.flatMap((r) => (r.kind === "tool_result" ? [r.call_id] : [])));
  const said = delivered.flatMap((r) => (r.kind === "delta" ? [r.content] : [])).join("");
  const out: Body[] = [];
  let text = "";
  let lastTextPart: string | undefined;
  for (const m of answers) {
    for (const raw of m.parts ?? []) {
      const p = raw as Record<string, unknown>;
      if (p.type === "text" && typeof p.text === "string" && p.synthetic !== true && p.ignored !== true) {
        text += p.text;
        lastTextPart = str(p.id) ?? lastTextPart;
      } else if (p.type === "tool" && typeof p.callID === "string" && typeof p.tool === "string") {
        const s = (p.state ?? {}) as ToolState;
        if (!called.has(p.callID)) out.push({ kind: "tool_call", call_id: p.callID, tool: p.tool, input: s.input ?? {} });
        if (!resulted.has(p.callID) && (s.status === "completed" || s.status === "error")) {
          out.push({
            kind: "tool_result",
            call_id: p.callID,
            tool: p.tool,
            status: s.status,
            ...(str(s.output) === undefined ? {} : { output: str(s.output) }),
            ...(str(s.error) === undefined ? {} : { error: str(s.error) }),
            ...(str(s.title) === undefined ? {} : { title: str(s.title) }),
          });
        }
      }
    }
  }
  if (!text.startsWith(said)) return undefined;
  const rest = text.slice(said.length);
  if (rest !== "") out.push({ kind: "delta", content: rest, part_id: lastTextPart ?? "recovered" });
  out.push({ kind: "final", content: text });
  return out;
}
