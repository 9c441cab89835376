/**
 * Requests: OpenCode's permission and question requests for the turn's session,
 * each answered exactly once.
 *
 * Every request is announced to the sink (`request`) and its end too
 * (`request_resolved`), in order with the turn's replies. Who answers follows the
 * policy: `allow`/`reject` answer at once; `ask` hands the request to the
 * `onRequest` hook, which answers by returning, or later through
 * `adapter.replyPermission`/`replyQuestion`/`rejectQuestion`; with no hook
 * nobody can answer, so the request is rejected with a message saying why. A
 * request still waiting after `answerTimeoutMs` is rejected with a message
 * (never a hang). A request answered elsewhere (`*.replied`, or the server no
 * longer knows it) is settled without being answered again.
 *
 * Invariant: an id is in `pending` from its first `*.asked` until it is settled;
 * while `pending` is not empty the turn's idle and turn deadlines are paused
 * (src/adapter/liveness.ts).
 *
 * A subagent's requests (a child session of the turn, at any depth) come here
 * too, with `from` naming it: the same policy, hook and notices, labelled with
 * the subagent, answered on its own session.
 */
import type { Logger } from "pino";
import type { ErrorCode } from "../codec/reply.js";
import type { KnownEvent } from "../codec/schemas.js";
import type { AdapterConfig, PermissionRequest } from "./config.js";
import type { Dialect } from "./dialect.js";
import { invalidAnswer, reject, strings, toQuestion } from "./answers.js";
import { isRecord } from "../codec/session.js";

import type { BridgeRequest, PermissionReply, RequestAnswer, RequestEvent, RequestSubagent, ResolvedBy } from "../codec/requests.js";
import { errorMessage } from "../util/errors.js";

/**
 * The host's hook under the `ask` policies. Return the answer (or a promise of
 * it), or nothing to answer later through the adapter. `signal` aborts when the
 * request is settled otherwise (timeout, answered elsewhere, turn over).
 */
export type RequestHook = (
  req: BridgeRequest,
  signal: AbortSignal,
) => RequestAnswer | undefined | void | Promise<RequestAnswer | undefined | void>;

/** What answering through the adapter did. */
export type AnswerOutcome =
  | { readonly status: "answered" }
  | { readonly status: "unknown" | "already_answered" | "invalid"; readonly message: string };

export interface RequestsHost {
  /** A request could not be answered: abort and end the turn with `code`. */
  expire(code: ErrorCode, message: string): Promise<void>;
  /** The first request started waiting: pause the deadlines. */
  waiting(): void;
  /** The last waiting request was settled: the deadlines run again. */
  resolved(): void;
  /** Tell the sink, in order with the replies. */
  notify(evt: RequestEvent): void;
}

interface Pending {
  readonly req: BridgeRequest;
  readonly ac: AbortController;
  timer: unknown;
  /** An answer is on its way to the server. */
  answering: boolean;
}

type Cfg = Pick<AdapterConfig, "permission" | "question" | "onRequest" | "answerTimeoutMs" | "clock">;

/** Where answers go: an OpenCode dialect's routes, or an ACP agent's pending `session/request_permission` (src/acp/turn.ts). */
export type RequestAnswerer = Pick<Dialect, "replyPermission" | "replyQuestion" | "rejectQuestion">;

export class Requests {
  private readonly pending = new Map<string, Pending>();
  /** Every id ever seen by this turn (to tell "already answered" from "unknown"). */
  private readonly seen = new Set<string>();
  private over = false;

  constructor(
    private readonly ids: { sessionId: string; traceId: string },
    private readonly cfg: Cfg,
    private readonly dialect: RequestAnswerer,
    private readonly log: Logger,
    private readonly host: RequestsHost,
  ) {}

  /** Requests asked and not yet settled. */
  get waiting(): number {
    return this.pending.size;
  }

  /** The requests waiting, oldest first. */
  list(): BridgeRequest[] {
    return [...this.pending.values()].map((p) => p.req);
  }

  /** A control event of the turn's session, or of a subagent's (`from`). */
  onEvent(evt: KnownEvent, from?: RequestSubagent): void {
    if (this.over) return;
    const origin = from === undefined ? { session_id: this.ids.sessionId } : { session_id: from.session_id, subagent: from };
    switch (evt.type) {
      case "permission.asked":
      case "permission.updated": {
        const p = evt.properties;
        const raw = p as Record<string, unknown>;
        this.open({
          kind: "permission",
          request_id: p.id,
          trace_id: this.ids.traceId,
          ...origin,
          ...(p.tool ? { tool: { message_id: p.tool.messageID, call_id: p.tool.callID } } : {}),
          permission: p.permission ?? (typeof raw.type === "string" ? raw.type : ""),
          patterns: p.patterns ?? (typeof raw.pattern === "string" ? [raw.pattern] : Array.isArray(raw.pattern) ? strings(raw.pattern) : []),
          always: Array.isArray(raw.always) ? strings(raw.always) : [],
          metadata: isRecord(raw.metadata) ? raw.metadata : {},
        }, raw);
        return;
      }
      case "question.asked": {
        const p = evt.properties;
        this.open({
          kind: "question",
          request_id: p.id,
          trace_id: this.ids.traceId,
          ...origin,
          ...(p.tool ? { tool: { message_id: p.tool.messageID, call_id: p.tool.callID } } : {}),
          questions: (p.questions ?? []).flatMap(toQuestion),
        }, p);
        return;
      }
      case "permission.replied":
      case "question.replied":
      case "question.rejected": {
        const id = evt.properties.requestID ?? evt.properties.id;
        const p = id === undefined ? undefined : this.pending.get(id);
        // Our own answer is settled when its POST returns; anything else was answered elsewhere.
        if (p !== undefined && !p.answering) {
          this.log.info({ request: id }, "request answered elsewhere");
          this.close(p, "elsewhere");
        }
        return;
      }
      default:
        return;
    }
  }

  /** The host answers (`adapter.replyPermission` and friends, or the hook's return). */
  async answer(requestId: string, answer: RequestAnswer): Promise<AnswerOutcome> {
    const p = this.pending.get(requestId);
    if (p === undefined || p.answering) {
      return this.seen.has(requestId)
        ? { status: "already_answered", message: `request ${requestId} has already been answered` }
        : { status: "unknown", message: `no pending request ${requestId} in this turn` };
    }
    const problem = invalidAnswer(p.req, answer);
    if (problem !== undefined) return { status: "invalid", message: problem };
    await this.send(p, answer, "host");
    return { status: "answered" };
  }

  /** The turn is being aborted: refuse what waits (1.18 keeps a subagent's request past its session's abort). */
  refuseAll(message: string): Promise<void> {
    const waiting = [...this.pending.values()].filter((p) => !p.answering);
    return Promise.all(waiting.map((p) => this.send(p, reject(message), "ended"))).then(() => undefined);
  }

  /** The turn ended: whatever still waits is settled as `ended` (OpenCode drops it with the aborted session). */
  stop(): void {
    if (this.over) return;
    this.over = true;
    for (const p of [...this.pending.values()]) this.close(p, "ended");
  }

  /** A request of the turn was asked (from `onEvent`, or by a backend that reads requests itself, src/acp/turn.ts). */
  open(req: BridgeRequest, raw: unknown): void {
    if (this.seen.has(req.request_id)) return;
    this.seen.add(req.request_id);
    const p: Pending = { req, ac: new AbortController(), timer: undefined, answering: false };
    this.pending.set(req.request_id, p);
    if (this.pending.size === 1) this.host.waiting();
    this.host.notify({ type: "request", trace_id: this.ids.traceId, session_id: this.ids.sessionId, request: req });
    p.timer = this.cfg.clock.setTimeout(() => {
      p.timer = undefined;
      if (p.answering || this.pending.get(req.request_id) !== p) return;
      const msg = `nobody answered this ${req.kind} request within ${this.cfg.answerTimeoutMs} ms (opencode-bridge answerTimeoutMs), so it was rejected`;
      this.log.warn({ request: req.request_id }, msg);
      void this.send(p, reject(msg), "timeout");
    }, this.cfg.answerTimeoutMs);
    this.decide(p, raw);
  }

  private decide(p: Pending, raw: unknown): void {
    const req = p.req;
    const policy = req.kind === "permission" ? this.cfg.permission : this.cfg.question;
    if (policy === "allow") {
      void this.send(p, { reply: "once" }, "policy");
      return;
    }
    if (policy === "reject") {
      const msg = `opencode-bridge's ${req.kind} policy is "reject": nobody was asked (the host can set ${req.kind}: "ask" to answer itself${req.kind === "permission" ? ' or "allow"' : ""})`;
      void this.send(p, reject(msg), "policy");
      return;
    }
    if (typeof policy === "function") {
      // The older callback form: it answers with a bare reply.
      if (req.kind !== "permission") return;
      const legacy: PermissionRequest = {
        id: req.request_id,
        sessionID: req.session_id,
        permission: req.permission,
        patterns: req.patterns,
        ...(req.tool ? { tool: { messageID: req.tool.message_id, callID: req.tool.call_id } } : {}),
        raw,
      };
      this.hear(p, () => policy(legacy, p.ac.signal), (reply) =>
        reply === "once" || reply === "always" || reply === "reject" ? { reply } : undefined,
      );
      return;
    }
    const hook = this.cfg.onRequest;
    if (hook === undefined) {
      const msg = `opencode-bridge's ${req.kind} policy is "ask" but nobody can answer (no onRequest hook, no client, no terminal), so it was rejected`;
      void this.send(p, reject(msg), "nobody");
      return;
    }
    this.hear(p, () => hook(req, p.ac.signal), (a) => a ?? undefined);
  }

  /** Call the host's hook; a returned answer is sent, nothing means "later", a throw or a wrong answer rejects. */
  private hear<T>(p: Pending, call: () => T | Promise<T>, toAnswer: (v: T) => RequestAnswer | undefined): void {
    const fail = (why: string) => {
      if (p.answering || this.pending.get(p.req.request_id) !== p) return;
      this.log.error({ request: p.req.request_id }, why);
      void this.send(p, reject(`opencode-bridge rejected this ${p.req.kind} request: ${why}`), "host");
    };
    let out: T | Promise<T>;
    try {
      out = call();
    } catch (err) {
      fail(`the host's request hook threw: ${errorMessage(err)}`);
      return;
    }
    void Promise.resolve(out).then(
      (v) => {
        if (v === undefined || v === null) return;
        const a = toAnswer(v);
        const problem = a === undefined ? `the host's hook answered ${JSON.stringify(v)}` : invalidAnswer(p.req, a);
        if (problem !== undefined) fail(problem);
        else if (a !== undefined && !p.answering && this.pending.get(p.req.request_id) === p) void this.send(p, a, "host");
      },
      (err: unknown) => fail(`the host's request hook failed: ${errorMessage(err)}`),
    );
  }

  /** Send the answer to OpenCode; the request is settled when the server took it (or no longer knows it). */
  private async send(p: Pending, answer: RequestAnswer, by: ResolvedBy): Promise<void> {
    p.answering = true;
    this.cfg.clock.clearTimeout(p.timer);
    p.ac.abort();
    const req = p.req;
    this.log.info({ request: req.request_id, kind: req.kind, by, ...("reply" in answer ? { reply: answer.reply } : {}) }, `answering a ${req.kind} request`);
    try {
      let took: boolean;
      if (req.kind === "permission") {
        const a = answer as { reply: PermissionReply; message?: string };
        took = await this.dialect.replyPermission(req.session_id, req.request_id, a.reply, a.reply === "reject" ? a.message : undefined);
      } else if ("answers" in answer) {
        took = await this.dialect.replyQuestion(req.session_id, req.request_id, answer.answers);
      } else {
        took = await this.dialect.rejectQuestion(req.session_id, req.request_id);
      }
      this.close(p, took ? by : "elsewhere", took ? answer : undefined);
    } catch (err) {
      this.log.error({ err }, `could not answer the ${req.kind} request`);
      this.close(p, by, answer);
      await this.host.expire("permission", `could not answer OpenCode's ${req.kind} request: ${errorMessage(err)}`);
    }
  }

  private close(p: Pending, by: ResolvedBy, answer?: RequestAnswer): void {
    const id = p.req.request_id;
    if (this.pending.get(id) !== p) return;
    this.pending.delete(id);
    this.cfg.clock.clearTimeout(p.timer);
    p.ac.abort();
    this.host.notify({
      type: "request_resolved",
      trace_id: this.ids.traceId,
      session_id: this.ids.sessionId,
      request_id: id,
      request_kind: p.req.kind,
      by,
      ...(answer ? { answer } : {}),
    });
    if (this.pending.size === 0 && !this.over) this.host.resolved();
  }
}
