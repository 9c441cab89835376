/**
 * Templates from OpenCode 2.x captures (test/fixtures/2.1.2/<scenario>.sse: raw
 * `GET /api/event` bytes), for the benchmarks' synthetic streams (bench/lib/frames.ts
 * builds 1.x ones the same way: ids replaced per instance, server-wide frames once).
 *
 * Differences from a 1.x capture: a frame names its session as `data.sessionID`
 * (not `properties.…`), and the stream holds `: heartbeat` comment frames, which
 * name nothing and carry no event — they are left out (`splitFrames`; every parser skips them).
 */
import { templateOf, type Frame, type Template } from "./frames.js";

/** The session a 2.x event belongs to (`data.sessionID`), if any. */
export function sessionOfV2(frame: Frame): string | undefined {
  const p = JSON.parse(frame.slice(6)) as { data?: { sessionID?: unknown } };
  return typeof p.data?.sessionID === "string" ? p.data.sessionID : undefined;
}

export function loadTemplateV2(version: string, scenario: string): Template {
  return templateOf(version, scenario, sessionOfV2);
}

/** The session id an instance's frames belong to (its fresh `ses_…` id). */
export function sessionOfInstanceV2(template: Template, ids: Map<string, string>): string {
  const sid = sessionOfV2(template.turn[0] as Frame);
  const fresh = sid === undefined ? undefined : ids.get(sid);
  if (fresh === undefined) throw new Error(`${template.name}: no session id in the first turn frame`);
  return fresh;
}
