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
 *
 * "The current time" is the SERVER's: a host whose clock runs ahead of OpenCode's
 * would otherwise choose ids that sort after the ids the server is about to
 * generate. The caller passes its best estimate of the server's clock (never ahead
 * of it; see OpencodeHttp.serverClockOffsetMs) and the ids it knows of the session
 * (its id, its recent messages): the new id sorts after every one of them.
 */
import { createHash } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

let lastMs = 0;
let counter = 0;

const MASK = 2n ** 48n - 1n;

/** The 48-bit time tick of an OpenCode id (`msg_`/`prt_` ascending, `ses_` descending), or undefined. */
export function idTick(id: string): bigint | undefined {
  const m = /^(msg|prt|ses)_([0-9a-f]{12})/.exec(id);
  if (!m) return undefined;
  const n = BigInt(`0x${m[2]}`);
  return m[1] === "ses" ? ~n & MASK : n;
}

/** A `msg_…` id for the turn `traceId`, ascending with the time `nowMs`, after every id in `after`. */
export function newMessageId(traceId: string, nowMs: number, after: readonly string[] = []): string {
  if (nowMs !== lastMs) {
    lastMs = nowMs;
    counter = 0;
  }
  counter++;
  let n = (BigInt(Math.floor(nowMs)) * 4096n + BigInt(counter)) & MASK;
  for (const id of after) {
    const t = idTick(id);
    if (t !== undefined && t >= n) n = (t + 1n) & MASK;
  }
  const time = n.toString(16).padStart(12, "0");
  const digest = createHash("sha256").update(`${traceId}\u0000${nowMs}\u0000${counter}`).digest();
  let tail = "";
  for (let i = 0; i < 14; i++) tail += BASE62[(digest[i] ?? 0) % 62];
  return `msg_${time}${tail}`;
}
