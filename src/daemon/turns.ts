/**
 * The daemon's record of turns: each turn's replies (for Server-Sent Events
 * subscribers, who may join late and replay from seq 0), its outcome and its
 * abort handle.
 *
 * Retention bound:
 * - At most `maxTurns` finished turns are kept; when a turn finishes beyond
 *   that, the turn that finished longest ago is forgotten (their events route answers
 *   404). Running turns are never forgotten; how many may run at once is bounded
 *   by the daemon (`maxActiveTurns`).
 * - Per turn, replies are kept while their JSON totals at most
 *   `maxReplyBytesPerTurn`. Past that, replies still reach live subscribers but
 *   are not kept, except the terminal reply, which always is. A subscriber that
 *   replays such a turn gets the kept replies, an `event: truncated` naming the
 *   seqs it cannot have, then the rest live (or the terminal reply).
 */
import { randomUUID } from "node:crypto";
import type { ErrorCode, Reply } from "../codec/reply.js";
import { isTerminal } from "../codec/reply.js";
import type { AnswerOutcome } from "../adapter/requests.js";
import type { BridgeRequest, RequestAnswer, RequestEvent } from "../codec/requests.js";
import { replyJson } from "../sink/encoded.js";
import type { DaemonOptions, TurnRequest } from "./options.js";

/** What GET /v1/turns and the console show of what the daemon was asked (the same for a turn recovered after a restart). */
export function turnInfo(turn: Pick<TurnRequest, "text" | "permission" | "question">): TurnRecord["info"] {
  return {
    text: turn.text.length > 300 ? `${turn.text.slice(0, 300)}…` : turn.text,
    ...(turn.permission ? { permission: turn.permission } : {}),
    ...(turn.question ? { question: turn.question } : {}),
  };
}

/**
 * A turn read back (from the journal, or stored by another daemon): its request's
 * hash and what GET /v1/turns shows of it, from its request as accepted.
 */
export function describeStored(record: TurnRecord, requestHash: string | undefined, request: unknown): void {
  record.requestHash = requestHash;
  const req = (request ?? {}) as Partial<Pick<TurnRequest, "text" | "permission" | "question">>;
  if (typeof req.text === "string") record.info = turnInfo({ text: req.text, permission: req.permission, question: req.question });
}

/** How a turn ended: `final`, or the code of its `error` reply. */
export type TurnOutcome = "final" | ErrorCode;

/** The outcome its last reply gives a turn (`transport` when it is not terminal). */
export const outcomeOf = (last: Reply | undefined): TurnOutcome => (last?.kind === "final" ? "final" : last?.kind === "error" ? last.code : "transport");

export interface StoredReply {
  readonly seq: number;
  /** The reply as JSON, serialized once for every subscriber. */
  readonly json: string;
  /** Whether the turn keeps it (then a subscriber's queue shares the string rather than holding its own). */
  readonly kept: boolean;
}

export interface TurnSubscriber {
  reply(r: StoredReply): void;
  /** Replies `from`..`to` (inclusive) were not kept and cannot be replayed. */
  truncated(from: number, to: number): void;
  /** A request event (`request` / `request_resolved`), as JSON. */
  request?(type: RequestEvent["type"], json: string): void;
  done(turn: TurnRecord): void;
}

export class TurnRecord {
  readonly controller = new AbortController();
  /** Kept replies, in seq order (a gap only before the terminal reply when truncated). */
  readonly kept: StoredReply[] = [];
  /** Replies seen, kept or not. */
  total = 0;
  keptBytes = 0;
  /** The first seq not kept, when the byte bound was reached. */
  truncatedFrom: number | undefined;
  outcome: TurnOutcome | undefined;
  sawDelta = false;
  /** The hash of the request body that started the turn (src/daemon/options.ts `requestHash`); undefined for old journal entries. */
  requestHash: string | undefined;
  readonly subscribers = new Set<TurnSubscriber>();
  /** Requests waiting for an answer, oldest first (replayed to late subscribers). */
  readonly pending = new Map<string, { readonly request: BridgeRequest; readonly json: string }>();
  /** Every request id the turn has seen (to tell 409 "already answered" from 404). */
  readonly requestIds = new Set<string>();
  /** Answers one of the turn's requests (set while the adapter runs it). */
  answerer: ((requestId: string, answer: RequestAnswer) => Promise<AnswerOutcome>) | undefined;
  /** What the daemon was asked (for GET /v1/turns and the console). */
  info: { text?: string; permission?: string; question?: string } = {};
  /** Driven by another daemon of a shared store (src/daemon/store/shared.ts): replies come from the store, and it does not count as running here. */
  mirrored = false;
  /** When it ended, and what its terminal reply said of the model and usage (for the list and the console). */
  endedWall: number | undefined;
  ending: { model?: string; usage?: unknown; cost?: number } = {};
  private resolveDone!: () => void;
  /** Resolves when the turn has ended and every reply has been handed on. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    readonly traceId: string,
    readonly sessionId: string,
    readonly directory: string,
    /** When the daemon accepted the turn (ms, monotonic clock). */
    readonly acceptedAt: number,
    /** Unique to this turn for all time (a trace_id can be used again once its turn is forgotten). */
    readonly turnId: string,
    /** When the daemon accepted the turn (ms since the epoch; the journal's, for a turn recovered after a restart). */
    readonly acceptedWall = Date.now(),
  ) {}

  get finished(): boolean {
    return this.outcome !== undefined;
  }

  /** What GET /v1/turns/:trace_id shows. */
  summary(): Record<string, unknown> {
    return {
      trace_id: this.traceId,
      session_id: this.sessionId,
      state: this.finished ? "finished" : "running",
      outcome: this.outcome ?? null,
      replies: this.total,
      accepted_at: new Date(this.acceptedWall).toISOString(),
      ...(this.endedWall !== undefined ? { ended_at: new Date(this.endedWall).toISOString(), duration_ms: this.endedWall - this.acceptedWall } : {}),
      ...this.ending,
      directory: this.directory,
      ...this.info,
      pending_requests: [...this.pending.values()].map((p) => p.request),
      events: `/v1/turns/${encodeURIComponent(this.traceId)}/events`,
    };
  }

  /** @internal */
  markDone(outcome: TurnOutcome): void {
    this.outcome = outcome;
    this.endedWall = Date.now();
    this.pending.clear();
    this.answerer = undefined;
    this.resolveDone();
  }
}

export class TurnStore {
  private readonly turns = new Map<string, TurnRecord>();
  /** Finished turns' ids, oldest finish first (a Set keeps insertion order). */
  private readonly finishedOrder = new Set<string>();

  /** Who follows the turn list (GET /v1/turn-list): told each turn's summary when it starts, waits, is answered or ends; `null`: the daemon stops. */
  readonly watchers = new Set<(summary: Record<string, unknown> | null) => void>();

  constructor(private readonly opts: Pick<DaemonOptions, "maxTurns" | "maxReplyBytesPerTurn">) {}

  /** Tell the list's watchers that `t` changed. */
  changed(t: TurnRecord): void {
    if (this.watchers.size === 0) return;
    const summary = t.summary();
    for (const w of [...this.watchers]) w(summary);
  }

  has(traceId: string): boolean {
    return this.turns.has(traceId);
  }

  get(traceId: string): TurnRecord | undefined {
    return this.turns.get(traceId);
  }

  get size(): number {
    return this.turns.size;
  }

  /** Every retained turn, newest accepted first. */
  all(): TurnRecord[] {
    return [...this.turns.values()].sort((a, b) => b.acceptedWall - a.acceptedWall);
  }

  running(): TurnRecord[] {
    return [...this.turns.values()].filter((t) => !t.finished && !t.mirrored);
  }

  create(traceId: string, sessionId: string, directory: string, acceptedAt: number, turnId: string = randomUUID(), acceptedWall?: number): TurnRecord {
    if (this.turns.has(traceId)) throw new Error(`trace ${traceId} already exists`);
    const t = new TurnRecord(traceId, sessionId, directory, acceptedAt, turnId, acceptedWall);
    this.turns.set(traceId, t);
    return t;
  }

  /** Records a reply and passes it to the turn's subscribers. Returns the turn (undefined if unknown). */
  add(reply: Reply): TurnRecord | undefined {
    const t = this.turns.get(reply.trace_id);
    if (!t || t.finished) return undefined;
    const json = replyJson(reply);
    t.total = Math.max(t.total, reply.seq + 1);
    const fits = t.truncatedFrom === undefined && t.keptBytes + json.length <= this.opts.maxReplyBytesPerTurn;
    const stored: StoredReply = { seq: reply.seq, json, kept: fits || isTerminal(reply) };
    if (stored.kept) {
      t.kept.push(stored);
      t.keptBytes += json.length;
    } else {
      t.truncatedFrom ??= reply.seq;
    }
    for (const s of [...t.subscribers]) s.reply(stored);
    if (reply.kind === "final" || reply.kind === "error") {
      const r = reply as { model?: string; usage?: unknown; cost?: number };
      t.ending = { ...(r.model ? { model: r.model } : {}), ...(r.usage ? { usage: r.usage } : {}), ...(r.cost !== undefined ? { cost: r.cost } : {}) };
    }
    return t;
  }

  /** Records a request event of a running turn and passes it to the turn's subscribers. */
  request(evt: RequestEvent): TurnRecord | undefined {
    const t = this.turns.get(evt.trace_id);
    if (!t || t.finished) return undefined;
    const json = JSON.stringify(evt);
    if (evt.type === "request") {
      t.requestIds.add(evt.request.request_id);
      t.pending.set(evt.request.request_id, { request: evt.request, json });
    } else {
      t.pending.delete(evt.request_id);
    }
    for (const s of [...t.subscribers]) s.request?.(evt.type, json);
    this.changed(t);
    return t;
  }

  /** Ends the turn: subscribers get `done` and are let go; old finished turns beyond the bound are forgotten. */
  finish(t: TurnRecord, outcome: TurnOutcome): void {
    if (t.finished) return;
    t.markDone(outcome);
    for (const s of [...t.subscribers]) s.done(t);
    t.subscribers.clear();
    this.changed(t);
    this.finishedOrder.add(t.traceId);
    for (const id of this.finishedOrder) {
      if (this.finishedOrder.size <= this.opts.maxTurns) break;
      this.finishedOrder.delete(id);
      this.turns.delete(id);
    }
  }

  /**
   * Replays the kept replies with seq >= `fromSeq` to `sub`, then keeps it
   * informed until the turn ends. Returns the unsubscribe function.
   */
  subscribe(t: TurnRecord, sub: TurnSubscriber, fromSeq = 0): () => void {
    let next = fromSeq;
    for (const r of t.kept) {
      if (r.seq < next) continue;
      if (r.seq > next) sub.truncated(next, r.seq - 1);
      sub.reply(r);
      next = r.seq + 1;
    }
    if (t.finished) {
      sub.done(t);
      return () => {};
    }
    if (t.truncatedFrom !== undefined && next < t.total) sub.truncated(next, t.total - 1);
    // Requests still waiting, so that a late subscriber can answer them.
    for (const p of t.pending.values()) sub.request?.("request", p.json);
    // A subscriber resuming beyond what the turn has said (Last-Event-ID ahead of it) waits for the
    // seqs after the one it named; the ones before are never sent to it again.
    const live: TurnSubscriber = fromSeq > t.total ? { ...sub, reply: (r) => void (r.seq >= fromSeq && sub.reply(r)) } : sub;
    t.subscribers.add(live);
    return () => t.subscribers.delete(live);
  }
}
