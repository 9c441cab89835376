/**
 * Checking a finished live turn against the server's own record.
 */
import { createDialect } from "../../src/adapter/line.js";
import { contractViolations, type Reply } from "../../src/codec/reply.js";
import { recordedTurn, type RecordMessage } from "./fixtures.js";
import type { Live } from "./live.js";

/** Checks one finished turn against the server's own record. */
export async function checkTurnAgainstServer(live: Live, replies: Reply[]): Promise<string[]> {
  const problems = contractViolations(replies);
  const last = replies[replies.length - 1];
  const sessionId = last?.session_id ?? "";
  const http = createDialect({ baseUrl: live.url, directory: live.directory });
  const record = (await http.sessionMessages(sessionId, 200)) as unknown as RecordMessage[];
  // The turn is the last user message and what answers it.
  const lastUser = [...record].reverse().find((m) => m.info.role === "user");
  const rec = recordedTurn(record.slice(record.indexOf(lastUser as RecordMessage)));
  const text = replies.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content).join("");
  const recorded = rec.texts.map((t) => t.text).join("");
  if (text !== recorded && text.trim() !== recorded.trim()) {
    let i = 0;
    while (i < text.length && text[i] === recorded[i]) i++;
    problems.push(
      `text differs from the record at ${i} (streamed ${text.length}, recorded ${recorded.length} chars): ` +
        `${JSON.stringify(text.slice(Math.max(0, i - 20), i + 60))} vs ${JSON.stringify(recorded.slice(Math.max(0, i - 20), i + 60))}`,
    );
  }
  const calls = new Map<string, number>();
  const results = new Map<string, number>();
  for (const r of replies) {
    if (r.kind === "tool_call") calls.set(r.call_id, (calls.get(r.call_id) ?? 0) + 1);
    if (r.kind === "tool_result") results.set(r.call_id, (results.get(r.call_id) ?? 0) + 1);
  }
  for (const t of rec.tools) {
    if (calls.get(t.callID) !== 1) problems.push(`tool ${t.callID}: ${calls.get(t.callID) ?? 0} tool_call replies`);
    if (results.get(t.callID) !== 1) problems.push(`tool ${t.callID}: ${results.get(t.callID) ?? 0} tool_result replies`);
  }
  if (rec.error === undefined && last?.kind !== "final") problems.push(`ended ${last?.kind} ${JSON.stringify(last)}`);
  return problems;
}

