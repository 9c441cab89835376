/**
 * The journal's records (src/daemon/journal.ts) and what a turn read back from
 * them is. A line is checked before it is used: a corrupt line (`null`, a reply
 * record whose reply is missing) is skipped and counted, never fatal.
 */
import type { Reply } from "../codec/reply.js";
import type { RequestEvent } from "../codec/requests.js";
import { forEachLine } from "./journal-file.js";
import type { TurnOutcome } from "./turns.js";

export interface JournaledTurn {
  readonly id: string;
  readonly traceId: string;
  readonly sessionId: string;
  readonly directory: string;
  /** Wall-clock ms when the turn was accepted. */
  readonly at: number;
  /** The hash of the request that started it (a repeated request is recognised across a restart). */
  readonly requestHash?: string;
  /** The accepted request (the daemon's turn request body); absent in journals of older versions. */
  readonly request?: unknown;
  /** The outputs configured when it was accepted (undefined: an older journal, every output). */
  readonly outputs?: readonly string[];
  /** The turn's own user message id, once its prompt was about to be sent. */
  messageId: string | undefined;
  readonly replies: Reply[];
  outcome: TurnOutcome | undefined;
  /** Per output: the highest seq it acknowledged. */
  readonly acks: Map<string, number>;
  /** Requests waiting for an answer when the daemon stopped, by request id. */
  readonly pending: Map<string, RequestEvent & { type: "request" }>;
}

export type Entry =
  | { t: "turn"; id: string; trace_id: string; session_id: string; directory: string; at: number; h?: string; req?: unknown; outs?: string[] }
  | { t: "prompt"; id: string; m: string }
  | { t: "reply"; id: string; r: Reply }
  | { t: "rq"; id: string; e: RequestEvent }
  | { t: "end"; id: string; outcome: TurnOutcome }
  | { t: "ack"; id: string; o: string; seq: number };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === "string";
const isSeq = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** The record on `line`, or undefined when it is not one (torn, corrupt, from a newer version). */
export function entryOf(line: string): Entry | undefined {
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isObj(e) || !isStr(e.id)) return undefined;
  switch (e.t) {
    case "turn":
      if (e.outs !== undefined && !(Array.isArray(e.outs) && e.outs.every(isStr))) return undefined;
      return isStr(e.trace_id) && isStr(e.session_id) && isStr(e.directory) && typeof e.at === "number" ? (e as Entry) : undefined;
    case "prompt":
      return isStr(e.m) ? (e as Entry) : undefined;
    case "reply":
      return isObj(e.r) && isStr(e.r.kind) && isSeq(e.r.seq) ? (e as Entry) : undefined;
    case "rq": {
      const r = e.e;
      if (!isObj(r)) return undefined;
      if (r.type === "request") return isObj(r.request) && isStr(r.request.request_id) ? (e as Entry) : undefined;
      return r.type === "request_resolved" && isStr(r.request_id) ? (e as Entry) : undefined;
    }
    case "end":
      return isStr(e.outcome) ? (e as Entry) : undefined;
    case "ack":
      return isStr(e.o) && typeof e.seq === "number" ? (e as Entry) : undefined;
    default:
      return undefined;
  }
}

/** Reads one journal file: turns in the order accepted. Unreadable lines are skipped (and counted in `skipped`). */
export function readJournal(file: string, into = new Map<string, JournaledTurn>(), seen?: (id: string) => void): JournaledTurn[] & { skipped: number } {
  let skipped = 0;
  forEachLine(file, (line) => {
    if (line === "") return;
    const e = entryOf(line);
    if (e === undefined || !apply(into, e)) skipped++;
    else seen?.(e.id);
  });
  return Object.assign([...into.values()], { skipped });
}

/** One record into the turns read so far; false when it names no turn read. */
function apply(turns: Map<string, JournaledTurn>, e: Entry): boolean {
  if (e.t === "turn") {
    turns.set(e.id, {
      id: e.id, traceId: e.trace_id, sessionId: e.session_id, directory: e.directory, at: e.at,
      ...(e.h ? { requestHash: e.h } : {}), ...(e.req !== undefined ? { request: e.req } : {}), ...(e.outs ? { outputs: e.outs } : {}),
      messageId: undefined, replies: [], outcome: undefined, acks: new Map(), pending: new Map(),
    });
    return true;
  }
  const t = turns.get(e.id);
  if (!t) return false;
  if (e.t === "reply") {
    if (e.r.seq === t.replies.length) t.replies.push(e.r);
  } else if (e.t === "prompt") t.messageId = e.m;
  else if (e.t === "rq") {
    if (e.e.type === "request") t.pending.set(e.e.request.request_id, e.e);
    else t.pending.delete(e.e.request_id);
  } else if (e.t === "end") {
    t.outcome = e.outcome;
    t.pending.clear();
  } else t.acks.set(e.o, Math.max(e.seq, t.acks.get(e.o) ?? -1));
  return true;
}
