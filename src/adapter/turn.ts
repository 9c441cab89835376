/**
 * One turn on a live server, wired from small parts:
 *
 *   hub → Turn.onEvent → requests (permission/question)   src/adapter/requests.ts
 *                      → codec reducer (reply bodies)      src/codec/reducer.ts
 *                      → liveness (what counts as life)    src/adapter/liveness.ts
 *                      → delivery (envelope, order, bound) src/adapter/delivery.ts
 *   gaps and lost frames → repair (the server's record)    src/adapter/repair.ts
 *
 * It always ends with exactly one terminal reply: from the codec when the server
 * ends the turn, else from `end`/`expire` (the codec's finishing step).
 */
import type { Logger } from "pino";
import type { ReplyBody } from "../codec/envelope.js";
import { isParsedEvent, parseEvent, type ParsedEvent } from "../codec/events.js";
import { isTurnDone, overrideEnd } from "../codec/control.js";
import { finish, releaseFinal, settle } from "../codec/ending.js";
import { reduce, reduceLost } from "../codec/reducer.js";
import type { ErrorCode } from "../codec/reply.js";
import { skipDelivered, type DeliveredPrefix } from "../codec/record.js";
import type { StreamIssue } from "../stream/sse.js";
import type { TurnState } from "../codec/state.js";
import type { SinkObject } from "../sink/types.js";
import type { AdapterConfig } from "./config.js";
import { Delivery, type TurnResult } from "./delivery.js";
import type { BridgeError } from "./errors.js";
import type { HubListener } from "./event-hub.js";
import type { Dialect } from "./dialect.js";
import { Liveness, type LivenessHost } from "./liveness.js";
import { Repair } from "./repair.js";
import { Requests } from "./requests.js";
import { TurnChildren } from "./child-sessions.js";
import { errorMessage } from "../util/errors.js";

/** A held `final` whose record says "still running" is checked again at most this many times in all. */
const MAX_VERIFICATIONS = 4;

export class Turn implements HubListener {
  /** The codec's bodies for the current event (handed to delivery right away). */
  private readonly out: ReplyBody[] = [];
  private readonly delivery: Delivery;
  private readonly liveness: Liveness;
  /** Its permission and question requests: the adapter lists and answers them here. */
  readonly requests: Requests;
  private readonly repair: Repair;
  private finished = false;
  private ending = false;
  /** The codec holds a `final` and the server's record is being checked (`verify`). */
  private verifying = false;
  private verifications = 0;
  private readonly children = new TurnChildren();
  private resolveDone!: () => void;
  private readonly done: Promise<void> = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    private readonly state: TurnState,
    private readonly sessionId: string,
    cfg: AdapterConfig,
    private readonly dialect: Dialect,
    sink: SinkObject,
    private readonly log: Logger,
    private readonly resume?: { readonly prefix: DeliveredPrefix; readonly firstSeq: number }, // a followed turn (./follow.ts): its codec starts afresh, what it delivered before is skipped
  ) {
    this.delivery = new Delivery(state.traceId, sessionId, sink, cfg, log, resume?.firstSeq);
    this.requests = new Requests({ sessionId, traceId: state.traceId }, cfg, dialect, log, {
      expire: (code, message) => this.expire(code, message),
      waiting: () => this.liveness.pause(),
      resolved: () => this.liveness.resume(),
      notify: (evt) => this.delivery.pushRequest(evt),
    });
    const liveness: LivenessHost = {
      expire: (code, message) => void this.expire(code, message),
      settle: () => {
        settle(state, this.out);
        this.afterCodec();
      },
    };
    this.liveness = new Liveness(cfg, liveness, this.requests, log, { sessionId, traceId: state.traceId });
    this.repair = new Repair(state, sessionId, dialect, cfg.clock, log, {
      take: (evt) => this.take(evt),
      lost: (issue) => this.onIssue(issue),
      end: (code, message) => this.end(code, message),
      over: () => this.finished,
    });
  }

  // ---- events from the hub -------------------------------------------------

  /** An event the hub parsed (a raw payload is parsed here); `receivedAt`: on the turn's (hub's) clock, else now. */
  onEvent(payload: ParsedEvent | unknown, receivedAt?: number): void {
    if (this.finished) return;
    const evt = isParsedEvent(payload) ? payload : parseEvent(payload);
    if (this.repair.holding) this.repair.hold({ evt });
    else this.take(evt, receivedAt);
  }

  private take(evt: ParsedEvent, receivedAt?: number): void {
    if (this.finished) return;
    const ours = evt.sessionID === this.sessionId;
    const e = evt.event;
    if (ours && e !== undefined) {
      if (e.type === "session.status" && e.properties.status.type === "retry") {
        this.liveness.providerRetry(e.properties.status.attempt ?? 0, e.properties.status.message ?? "");
      } else {
        this.requests.onEvent(e);
      }
    }
    reduce(evt, this.state, this.out);
    if (ours) {
      this.toolStatus(evt);
      this.liveness.activity(receivedAt);
    }
    this.afterCodec();
  }

  /**
   * An event of a child session of this turn (a subagent): life for the turn's liveness, never a reply (the
   * child's text is not the turn's answer); its permission or question is the turn's own, labelled.
   */
  onChildEvent(evt: ParsedEvent, receivedAt?: number): void {
    if (this.finished || evt.sessionID === undefined) return;
    const label = this.children.seen(evt.sessionID);
    const e = evt.event;
    if (e !== undefined && /^(permission|question)\./.test(e.type)) this.requests.onEvent(e, { session_id: evt.sessionID, ...label });
    this.toolStatus(evt);
    this.liveness.activity(receivedAt);
  }

  /** A tool part's status, for the liveness rules (running tools pause the idle rule). */
  private toolStatus(evt: ParsedEvent): void {
    const e = evt.event;
    if (e?.type !== "message.part.updated" || e.properties.part.type !== "tool") return;
    const part = e.properties.part as { id: string; callID?: string; tool: string; state: { status: string; metadata?: unknown; input?: unknown } };
    this.liveness.tool(`${evt.sessionID ?? ""}/${part.callID ?? part.id}`, part.tool, part.state.status, this.children.task(part.state));
  }

  onIssue(issue: StreamIssue): void {
    if (this.finished) return;
    if (this.repair.holding) {
      this.repair.hold({ issue });
      return;
    }
    if (this.repair.lostFrame(issue)) return;
    reduceLost(issue.type, issue.sessionID, this.state, this.out);
    this.afterCodec();
  }

  onClose(err: BridgeError): void {
    if (this.finished) return;
    this.log.warn({ err }, "event stream closed during the turn");
    this.repair.cancel();
    this.end(err.replyCode, `the OpenCode event stream closed during the turn: ${err.message}`);
  }

  onGap(err: BridgeError): void {
    if (this.finished) return;
    this.liveness.gap = true;
    this.log.warn({ err }, "gap in the event stream: will repair from the server's record");
  }

  onResync(): void {
    if (this.finished) return;
    this.liveness.gap = false;
    this.repair.resynced();
  }

  // ---- lifecycle ------------------------------------------------------------

  /** The prompt is about to be sent: from now on a gap may hide this turn's events. */
  sending(): void {
    this.repair.arm();
  }

  /** The prompt was accepted: start the clocks. */
  started(): void {
    this.liveness.started();
  }

  /** End the turn now with `code` (no abort of the server session). */
  end(code: ErrorCode, message: string): void {
    if (this.finished) return;
    finish(this.state, { code, message }, this.out);
    this.afterCodec();
  }

  /** Abort the session on the server and end with `code` once it has wound down (or after `settleTimeoutMs`). */
  async expire(code: ErrorCode, message: string): Promise<void> {
    if (this.finished || this.ending) return;
    this.ending = true;
    this.log.info({ code }, message);
    overrideEnd(this.state, { code, message });
    this.liveness.stop();
    await this.requests.refuseAll(`the turn was stopped (${code}): ${message}`);
    // Its subagents too: an aborted turn leaves nothing running on the server.
    await Promise.all(
      [this.sessionId, ...this.children.ids].map((id) =>
        this.dialect.abort(id).catch((err: unknown) => this.log.warn({ err, session: id }, "abort request failed")),
      ),
    );
    if (!(await this.liveness.windDown(this.done))) this.end(code, message);
  }

  /** Resolves when the terminal reply has been produced and every reply delivered. */
  async settled(): Promise<TurnResult> {
    await this.done;
    await this.delivery.drain();
    return this.delivery.result();
  }

  private afterCodec(): void {
    // Requests still waiting are settled before the terminal reply goes out.
    if (!this.finished && isTurnDone(this.state)) this.requests.stop();
    if (this.resume) skipDelivered(this.resume.prefix, this.state, this.out);
    this.delivery.push(this.out);
    if (this.finished) return;
    if (isTurnDone(this.state)) {
      this.finished = true;
      this.liveness.ended();
      this.resolveDone();
    } else if (this.state.finalHeld) {
      if (!this.verifying) void this.verify();
    } else if (this.state.idleSeen) {
      this.liveness.idleWithOpenMessage();
    }
  }

  /**
   * The stream says the turn ended well: before the `final`, the server's record
   * must show the answer finished (src/adapter/repair.ts `verifyEnd`, which also
   * repairs what the stream missed). Never a `final` the server did not finish.
   */
  private async verify(): Promise<void> {
    this.verifying = true;
    this.verifications++;
    let verdict: Awaited<ReturnType<Repair["verifyEnd"]>>;
    try {
      verdict = await this.repair.verifyEnd();
    } catch (err) {
      this.verifying = false;
      this.end("transport", `could not read OpenCode's record of the turn to confirm it finished: ${errorMessage(err)}`);
      return;
    }
    this.verifying = false;
    if (this.finished || verdict === "over") return;
    if (verdict === "finished") {
      releaseFinal(this.state, this.out);
      this.afterCodec();
    } else if (verdict === "lost" || this.verifications >= MAX_VERIFICATIONS) {
      this.end(
        "transport",
        verdict === "lost"
          ? "OpenCode lost the turn: its record shows the answer never finished and the session is idle (was the server restarted mid-turn?)"
          : `OpenCode said the turn was idle, but after ${this.verifications} checks its record still shows the answer running`,
      );
    } else {
      // The idle came before the answer finished (the server still runs it): wait for
      // its completion, or check again after settleTimeoutMs.
      this.state.finalHeld = false;
      this.state.idleSeen = true;
      this.liveness.idleWithOpenMessage();
    }
  }
}

