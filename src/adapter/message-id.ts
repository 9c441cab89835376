/**
 * The user message id the bridge chooses for a turn (`messageID` of `prompt_async`).
 *
 * OpenCode requires the prefix `msg` and orders a session's messages by id as a
 * string; its loop takes a user message whose id sorts after the newest assistant
 * message as unanswered, so an id that sorts after the ids the server generates
 * next makes 1.2.x and 1.15.x answer it forever (docs/dialects.md, "Prompt bodies").
 * The id is therefore built exactly as OpenCode builds its own ascending ids —
 * `msg_` + 12 hex digits of `(ms × 4096 + counter) mod 2⁴⁸` + 14 base62 characters —
 * from the current time, and only its random tail is derived from the trace id
 * (so the id names the turn in logs and never collides across turns).
 */
import { createHash } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

let lastMs = 0;
let counter = 0;

/** A `msg_…` id for the turn `traceId`, ascending with the time `nowMs`. */
export function newMessageId(traceId: string, nowMs: number): string {
  if (nowMs !== lastMs) {
    lastMs = nowMs;
    counter = 0;
  }
  counter++;
  const n = (BigInt(Math.floor(nowMs)) * 4096n + BigInt(counter)) % 2n ** 48n;
  const time = n.toString(16).padStart(12, "0");
  const digest = createHash("sha256").update(`${traceId}\u0000${nowMs}\u0000${counter}`).digest();
  let tail = "";
  for (let i = 0; i < 14; i++) tail += BASE62[(digest[i] ?? 0) % 62];
  return `msg_${time}${tail}`;
}
