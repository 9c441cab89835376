/**
 * One turn on a live server: feeds the session's events to the codec, delivers
 * replies to the sink in order, answers permission and question requests, and
 * runs the liveness timers. It always ends with exactly one terminal reply.
 *
 * Timers (all on the injected clock):
 * - first event: armed when the prompt is sent, cleared by the session's first event;
 * - idle: re-armed by every event of the session; paused while a permission or
 *   question request is pending (the host may legitimately take its time);
 * - turn: the whole turn.
 * On expiry the OpenCode session is aborted, the turn is given `settleTimeoutMs`
 * to wind down (text the server still sends is kept), and it ends with `timeout`
 * (`transport` when the event stream is down at that moment).
 *
 * Gaps: when the shared stream drops and comes back, the turn repairs itself from
 * the server's record (`GET /session/:id/message`, `GET /session/status`): the
 * record is fed to the codec as full-text updates while live events wait, so
 * whatever the gap swallowed is emitted once, and a turn that finished during the
 * gap ends with its true terminal reply.
 *
 * Delivery: replies wait in a per-turn queue and reach the sink one at a time, in
 * order, each call bounded by `sinkTimeoutMs`. When more than `maxQueuedReplies`
 * wait, consecutive text of one part is coalesced into the waiting reply, so a
 * slow sink costs larger deltas, never memory without bound or lost text. `seq` is
 * assigned at delivery, so it stays gapless.
 */
import type { Logger } from "pino";
import {
  beginResync,
  endResync,
  finishTurn,
  isTurnDone,
  lostEventInto,
  mapEventInto,
  overrideEnd,
  settleAfterIdle,
  type TurnState,
} from "../codec/codec.js";
import type { ErrorCode, ErrorReply, FinalReply, Reply } from "../codec/reply.js";
import type { StreamIssue } from "../codec/sse.js";
import type { SinkObject } from "../sink/types.js";
import type { AdapterConfig, PermissionReply, PermissionRequest } from "./config.js";
import type { BridgeError } from "./errors.js";
import { sessionOf, type HubListener } from "./event-hub.js";
import type { OpencodeHttp } from "./http.js";

export interface TurnResult {
  readonly traceId: string;
  readonly sessionId: string;
  readonly status: "final" | "error";
  readonly final?: FinalReply;
  readonly error?: ErrorReply;
  /** How many replies the turn produced (all delivered to the sink before `prompt` resolved). */
  readonly replies: number;
  /** Sink calls that threw or rejected. */
  readonly sinkFailures: number;
}

interface Props {
  readonly sessionId?: string;
  readonly properties?: {
    sessionID?: string;
    id?: string;
    status?: { type?: string; attempt?: number; message?: string };
    permission?: string;
    patterns?: string[];
    tool?: { messageID: string; callID: string };
    requestID?: string;
  };
  readonly type?: string;
}

/** After a gap, an idle session with no finished answer is looked at again this often, this many times. */
const RECHECK_MS = 500;
const MAX_RECHECKS = 6;
const MAX_LOST_REPAIRS = 8;

export class Turn implements HubListener {
  /** The codec's output for the current event (moved to `queue` right away). */
  private readonly out: Reply[] = [];
  /** Replies waiting for the sink; `head` is the next one. */
  private queue: Reply[] = [];
  private head = 0;
  private delivering = false;
  private drained: (() => void) | undefined;
  private seq = 0;
  private terminal: Reply | undefined;
  private sinkFailures = 0;
  /** How many replies were merged into a waiting one (a slow sink). */
  coalesced = 0;
  /** While repairing after a gap: live events wait here. */
  private resyncBuffer: { payload?: unknown; issue?: StreamIssue }[] | undefined;
  private gap = false;
  private idleDeadline = 0;
  repairs = 0;
  private rechecks = 0;
  /** Lost frames repaired so far; past MAX_LOST_REPAIRS one ends the turn `protocol`. */
  private lostRepairs = 0;
  private finished = false;
  private resolveDone!: () => void;
  readonly done: Promise<void> = new Promise<void>((r) => (this.resolveDone = r));
  private timers: { first?: unknown; idle?: unknown; turn?: unknown; settle?: unknown } = {};
  private pendingRequests = new Set<string>();
  private prompted = false;
  /** Set just before `prompt_async` is sent: from then on a gap may hide this turn's events. */
  promptSent = false;
  private sawEvent = false;
  private ending = false;
  private readonly answered = new Set<string>();

  constructor(
    private readonly state: TurnState,
    private readonly sessionId: string,
    private readonly cfg: AdapterConfig,
    private readonly http: OpencodeHttp,
    private readonly sink: SinkObject,
    private readonly log: Logger,
  ) {}

  get traceId(): string {
    return this.state.traceId;
  }

  // ---- events from the hub -------------------------------------------------

  onEvent(payload: unknown): void {
    if (this.finished) return;
    if (this.resyncBuffer) {
      this.resyncBuffer.push({ payload });
      return;
    }
    this.take(payload);
  }

  private take(payload: unknown): void {
    if (this.finished) return;
    const p = payload as Props;
    const ours = sessionOf(p) === this.sessionId;
    if (ours) this.sideEffects(p);
    mapEventInto(payload, this.state, this.out);
    if (ours && this.prompted) this.activity();
    this.afterCodec();
  }

  onIssue(issue: StreamIssue): void {
    if (this.finished) return;
    if (this.resyncBuffer) {
      this.resyncBuffer.push({ issue });
      return;
    }
    if (this.promptSent && issue.sessionID === this.sessionId && this.lostRepairs < MAX_LOST_REPAIRS) {
      // A frame of this session was lost (over the frame cap — a long answer's final
      // text — or unreadable): what it carried is in the server's record, so recover
      // it like a gap rather than give the turn up.
      this.lostRepairs++;
      this.log.warn({ issue: issue.code, event_type: issue.type }, "lost a frame of this turn: repairing from the server's record");
      void this.repair();
      return;
    }
    lostEventInto({ type: issue.type, sessionID: issue.sessionID }, this.state, this.out);
    this.afterCodec();
  }

  onClose(err: BridgeError): void {
    if (this.finished) return;
    this.log.warn({ err: err.message }, "event stream closed during the turn");
    this.resyncBuffer = undefined;
    this.end(err.replyCode, `the OpenCode event stream closed during the turn: ${err.message}`);
  }

  onGap(err: BridgeError): void {
    if (this.finished) return;
    this.gap = true;
    this.log.warn({ err: err.message }, "gap in the event stream: will repair from the server's record");
  }

  onResync(): void {
    if (this.finished) return;
    this.gap = false;
    // Before the prompt is on its way nothing of this turn can have been missed.
    if (this.promptSent) void this.repair();
  }

  /** Does the record hold a finished answer to this turn's prompt? */
  private hasFinishedAnswer(messages: readonly { info: Record<string, unknown> }[]): boolean {
    const user = this.state.userMessageId;
    if (user === undefined) return false;
    const answers = messages.filter((m) => m.info.role === "assistant" && m.info.parentID === user);
    return (
      answers.length > 0 &&
      answers.every((m) => m.info.error != null || (m.info.time as { completed?: unknown } | undefined)?.completed != null)
    );
  }

  /**
   * Recover what the gap swallowed: the server's record of the session becomes
   * full-text updates for the codec, then the live events that arrived meanwhile
   * are replayed, then the session's status tells whether the turn has ended.
   */
  private async repair(): Promise<void> {
    if (this.resyncBuffer) return; // a repair is already running; it will see the newer events
    this.repairs++;
    this.resyncBuffer = [];
    beginResync(this.state);
    try {
      const [messages, status] = await Promise.all([
        this.http.sessionMessages(this.sessionId, 200),
        this.http.sessionStatus(),
      ]);
      if (this.finished) return;
      for (const m of messages) {
        this.take({ type: "message.updated", properties: { sessionID: this.sessionId, info: m.info } });
        for (const part of m.parts ?? []) {
          this.take({ type: "message.part.updated", properties: { sessionID: this.sessionId, part } });
        }
      }
      endResync(this.state);
      const waiting = this.resyncBuffer ?? [];
      this.resyncBuffer = undefined;
      for (const w of waiting) {
        if (w.payload !== undefined) this.take(w.payload);
        else if (w.issue) this.onIssue(w.issue);
      }
      const s = status[this.sessionId];
      if (!this.finished && (s === undefined || s.type === "idle")) {
        if (this.hasFinishedAnswer(messages) || this.rechecks >= MAX_RECHECKS) {
          // Idle, with the answer complete in the record: the turn ended during the gap
          // (its idle was lost with it).
          this.take({ type: "session.status", properties: { sessionID: this.sessionId, status: { type: "idle" } } });
        } else {
          // Idle but no finished answer yet: the prompt may not have started running when
          // the record was read. Look again shortly rather than end the turn empty.
          this.rechecks++;
          this.cfg.clock.setTimeout(() => void this.repair(), RECHECK_MS);
        }
      }
      this.log.info({ messages: messages.length, replayed: waiting.length, done: this.finished }, "repaired after a gap");
    } catch (err) {
      this.resyncBuffer = undefined;
      endResync(this.state);
      this.end("transport", `could not recover the turn after a gap in the event stream: ${(err as Error).message}`);
    }
  }

  // ---- lifecycle ------------------------------------------------------------

  /** The prompt was accepted: start the clocks. */
  started(): void {
    this.prompted = true;
    const c = this.cfg.clock;
    this.timers.turn = c.setTimeout(
      () => void this.expire("timeout", `the turn took longer than ${this.cfg.turnTimeoutMs} ms`),
      this.cfg.turnTimeoutMs,
    );
    if (!this.sawEvent) {
      this.timers.first = c.setTimeout(
        () => void this.expire("timeout", `no event from OpenCode within ${this.cfg.firstEventTimeoutMs} ms of the prompt`),
        this.cfg.firstEventTimeoutMs,
      );
    } else {
      this.armIdle();
    }
  }

  /** End the turn now with `code` (no abort of the server session). */
  end(code: ErrorCode, message: string): void {
    if (this.finished) return;
    const r = finishTurn(this.state, { code, message });
    this.out.push(...r.replies);
    this.afterCodec();
  }

  /** The host's abort: abort the server session, let it settle, end with `aborted`. */
  abortByHost(reason: string): Promise<void> {
    return this.expire("aborted", reason);
  }

  /**
   * Abort the session on the server and end with `code` once it has wound down
   * (or after `settleTimeoutMs`).
   */
  async expire(code: ErrorCode, message: string): Promise<void> {
    if (this.finished || this.ending) return;
    this.ending = true;
    this.log.info({ code }, message);
    overrideEnd(this.state, { code, message });
    this.clearTimers();
    try {
      await this.http.abort(this.sessionId);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "abort request failed");
    }
    const c = this.cfg.clock;
    let handle: unknown;
    const settled = await Promise.race([
      this.done.then(() => true),
      new Promise<boolean>((resolve) => {
        handle = c.setTimeout(() => resolve(false), this.cfg.settleTimeoutMs);
      }),
    ]);
    c.clearTimeout(handle);
    if (!settled) {
      this.log.warn({ settle_ms: this.cfg.settleTimeoutMs }, "the session did not go idle after the abort");
      this.end(code, message);
    }
  }

  /** Resolves when the terminal reply has been produced and every reply delivered. */
  async settled(): Promise<TurnResult> {
    await this.done;
    if (this.delivering || this.head < this.queue.length) {
      await new Promise<void>((resolve) => (this.drained = resolve));
    }
    const last = this.terminal;
    return {
      traceId: this.state.traceId,
      sessionId: this.sessionId,
      status: last?.kind === "final" ? "final" : "error",
      final: last?.kind === "final" ? last : undefined,
      error: last?.kind === "error" ? last : undefined,
      replies: this.seq,
      sinkFailures: this.sinkFailures,
    };
  }

  // ---- internals ------------------------------------------------------------

  private afterCodec(): void {
    const max = this.cfg.maxQueuedReplies;
    for (const r of this.out) {
      if (r.kind === "final" || r.kind === "error") this.terminal = r;
      const waiting = this.queue.length - this.head;
      const tail = waiting > 0 ? this.queue[this.queue.length - 1] : undefined;
      if (
        waiting >= max &&
        tail !== undefined &&
        (r.kind === "delta" || r.kind === "reasoning") &&
        tail.kind === r.kind &&
        tail.part_id === r.part_id
      ) {
        tail.content += r.content;
        this.coalesced++;
        continue;
      }
      this.queue.push(r);
    }
    this.out.length = 0;
    if (!this.delivering && this.head < this.queue.length) void this.pump();
    if (!this.finished && isTurnDone(this.state)) {
      this.finished = true;
      this.clearTimers();
      this.resolveDone();
    } else if (!this.finished && this.state.idleSeen && this.timers.settle === undefined) {
      // The session went idle with a message still open: the server normally completes
      // it right after. If it does not within settleTimeoutMs, end as the idle said.
      this.timers.settle = this.cfg.clock.setTimeout(() => {
        this.timers.settle = undefined;
        if (this.finished) return;
        this.out.push(...settleAfterIdle(this.state).replies);
        this.afterCodec();
      }, this.cfg.settleTimeoutMs);
    }
  }

  /** Hand queued replies to the sink one at a time; `seq` is assigned here. */
  private async pump(): Promise<void> {
    this.delivering = true;
    while (this.head < this.queue.length) {
      const reply = this.queue[this.head] as Reply;
      this.queue[this.head] = undefined as unknown as Reply;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      reply.seq = this.seq++;
      await this.deliverOne(reply);
    }
    this.delivering = false;
    if (this.finished) this.drained?.();
  }

  private async deliverOne(reply: Reply): Promise<void> {
    let pending: void | Promise<void>;
    try {
      pending = this.sink.deliver(reply);
    } catch (err) {
      this.sinkFailed(reply, err);
      return;
    }
    // A synchronous sink costs no timer and no race.
    if (typeof (pending as { then?: unknown } | undefined)?.then !== "function") return;
    const c = this.cfg.clock;
    let handle: unknown;
    try {
      const outcome = await Promise.race([
        Promise.resolve(pending).then(() => "ok" as const),
        new Promise<"timeout">((resolve) => {
          handle = c.setTimeout(() => resolve("timeout"), this.cfg.sinkTimeoutMs);
        }),
      ]);
      if (outcome === "timeout") {
        this.sinkFailures++;
        this.log.error({ seq: reply.seq, kind: reply.kind, timeout_ms: this.cfg.sinkTimeoutMs }, "sink did not take a reply in time: moving on");
      }
    } catch (err) {
      this.sinkFailed(reply, err);
    } finally {
      c.clearTimeout(handle);
    }
  }

  private sinkFailed(reply: Reply, err: unknown): void {
    this.sinkFailures++;
    this.log.error({ err: (err as Error)?.message, seq: reply.seq, kind: reply.kind }, "sink failed to take a reply");
  }

  private activity(): void {
    this.sawEvent = true;
    if (this.timers.first !== undefined) {
      this.cfg.clock.clearTimeout(this.timers.first);
      this.timers.first = undefined;
    }
    if (!this.ending) this.armIdle();
  }

  /**
   * Push the idle deadline forward. One timer serves many events: when it fires
   * early it re-arms itself for the time left (no clear/set per streamed token).
   */
  private armIdle(): void {
    const c = this.cfg.clock;
    if (this.pendingRequests.size > 0) {
      // Paused while the host or user decides; `resolved` arms it again.
      if (this.timers.idle !== undefined) c.clearTimeout(this.timers.idle);
      this.timers.idle = undefined;
      return;
    }
    this.idleDeadline = c.now() + this.cfg.idleTimeoutMs;
    if (this.timers.idle === undefined) this.timers.idle = c.setTimeout(() => this.idleCheck(), this.cfg.idleTimeoutMs);
  }

  private idleCheck(): void {
    this.timers.idle = undefined;
    if (this.finished || this.ending || this.pendingRequests.size > 0) return;
    const left = this.idleDeadline - this.cfg.clock.now();
    if (left > 0) {
      this.timers.idle = this.cfg.clock.setTimeout(() => this.idleCheck(), left);
      return;
    }
    void (this.gap
      ? this.expire("transport", `the OpenCode event stream has been down for ${this.cfg.idleTimeoutMs} ms (server gone?)`)
      : this.expire("timeout", `no event from OpenCode for ${this.cfg.idleTimeoutMs} ms`));
  }

  private clearTimers(): void {
    const c = this.cfg.clock;
    for (const t of Object.values(this.timers)) if (t !== undefined) c.clearTimeout(t);
    this.timers = {};
  }

  private sideEffects(p: Props): void {
    const props = p.properties ?? {};
    switch (p.type) {
      case "permission.asked":
      case "permission.updated": // the pre-1.15 name
        if (typeof props.id === "string" && !this.answered.has(props.id)) {
          this.answered.add(props.id);
          this.pendingRequests.add(props.id);
          void this.answerPermission({
            id: props.id,
            sessionID: this.sessionId,
            permission: String(props.permission ?? ""),
            patterns: Array.isArray(props.patterns) ? props.patterns : [],
            tool: props.tool,
            raw: props,
          });
        }
        return;
      case "permission.replied":
        this.resolved(props.requestID ?? props.id);
        return;
      case "question.asked":
        if (typeof props.id === "string" && !this.answered.has(props.id)) {
          this.answered.add(props.id);
          this.pendingRequests.add(props.id);
          void this.rejectQuestion(props.id);
        }
        return;
      case "question.replied":
      case "question.rejected":
        this.resolved(props.requestID ?? props.id);
        return;
      case "session.status":
        if (props.status?.type === "retry") this.onRetry(props.status.attempt ?? 0, props.status.message ?? "");
        return;
      default:
        return;
    }
  }

  private resolved(id: string | undefined): void {
    if (id === undefined || !this.pendingRequests.delete(id)) return;
    if (this.prompted && !this.ending && !this.finished) this.armIdle();
  }

  private async answerPermission(req: PermissionRequest): Promise<void> {
    const policy = this.cfg.permission;
    let reply: PermissionReply = "reject";
    if (policy === "allow") reply = "once";
    else if (typeof policy === "function") {
      const ac = new AbortController();
      let handle: unknown;
      try {
        reply = await Promise.race([
          Promise.resolve(policy(req, ac.signal)),
          new Promise<PermissionReply>((resolve) => {
            handle = this.cfg.clock.setTimeout(() => {
              ac.abort();
              this.log.warn({ permission: req.permission }, "permission callback did not answer in time: rejecting");
              resolve("reject");
            }, this.cfg.permissionTimeoutMs);
          }),
        ]);
      } catch (err) {
        this.log.error({ err: (err as Error)?.message }, "permission callback failed: rejecting");
        reply = "reject";
      } finally {
        this.cfg.clock.clearTimeout(handle);
      }
      if (reply !== "once" && reply !== "always" && reply !== "reject") {
        this.log.error({ reply }, "permission callback answered something other than once/always/reject: rejecting");
        reply = "reject";
      }
    }
    this.log.info({ permission: req.permission, patterns: req.patterns, reply }, "answering permission request");
    try {
      await this.http.replyPermission(this.sessionId, req.id, reply);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "could not answer the permission request");
      this.pendingRequests.delete(req.id);
      await this.expire("permission", `could not answer OpenCode's permission request for ${req.permission}: ${(err as Error).message}`);
    }
  }

  private async rejectQuestion(id: string): Promise<void> {
    this.log.info({ request: id }, "rejecting a question: the bridge runs headless");
    try {
      await this.http.rejectQuestion(id);
    } catch (err) {
      this.pendingRequests.delete(id);
      await this.expire("permission", `could not answer OpenCode's question: ${(err as Error).message}`);
    }
  }

  private onRetry(attempt: number, message: string): void {
    this.log.warn({ attempt, message }, "provider retry");
    try {
      this.cfg.onRetry?.({ sessionId: this.sessionId, traceId: this.state.traceId, attempt, message });
    } catch (err) {
      this.log.error({ err: (err as Error)?.message }, "onRetry hook threw");
    }
    if (attempt > this.cfg.maxProviderRetries) {
      void this.expire(
        "upstream",
        `the model provider kept failing (${attempt} retries, limit ${this.cfg.maxProviderRetries}): ${message}`,
      );
    }
  }
}
