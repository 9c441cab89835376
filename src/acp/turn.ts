/**
 * One turn on an ACP agent, from the parts the OpenCode turn uses:
 *
 *   session/update          → codec (src/acp/codec.ts) → delivery (src/adapter/delivery.ts)
 *   session/request_permission → requests (src/adapter/requests.ts, the same BridgeRequest,
 *                                policy, hook and answer calls)
 *   every update            → liveness (src/adapter/liveness.ts: first event, idle, turn, tool)
 *   session/prompt's answer → the terminal reply
 *
 * Expiry (timeout, the host's abort) sends `session/cancel` and waits `settleTimeoutMs`
 * for the prompt to answer; the turn ends with the expiry's code either way. The
 * agent process exiting mid-turn ends it `transport` at once.
 */
import type { Logger } from "pino";
import type { RequestPermissionRequest, RequestPermissionResponse, SessionUpdate } from "@agentclientprotocol/sdk";
import type { ReplyBody } from "../codec/envelope.js";
import type { ErrorCode } from "../codec/reply.js";
import type { PermissionReply } from "../codec/requests.js";
import type { SinkObject } from "../sink/types.js";
import type { AdapterConfig } from "../adapter/config.js";
import { Delivery, type TurnResult } from "../adapter/delivery.js";
import { Liveness } from "../adapter/liveness.js";
import { Requests, type RequestAnswerer } from "../adapter/requests.js";
import { createAcpTurnState, finishAcp, mapAcpUpdate, type AcpOutcome } from "./codec.js";
import { optionFor, toBridgeRequest } from "./requests.js";

/** A permission request of the agent, with the resolve of its answer. */
interface Asked {
  readonly params: RequestPermissionRequest;
  readonly resolve: (r: RequestPermissionResponse) => void;
  answered: boolean;
}

export class AcpTurn {
  private readonly out: ReplyBody[] = [];
  private readonly state = createAcpTurnState();
  private readonly delivery: Delivery;
  /** The turn's permission requests: listed and answered by the adapter. */
  readonly requests: Requests;
  private readonly liveness: Liveness;
  private readonly asked = new Map<string, Asked>();
  private finished = false;
  private ending: { code: ErrorCode; message: string } | undefined;
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((r) => (this.resolveDone = r));
  private nextRequest = 0;

  constructor(
    readonly traceId: string,
    readonly sessionId: string,
    cfg: AdapterConfig,
    sink: SinkObject,
    private readonly log: Logger,
    /** `cancel` sends `session/cancel` for the turn's session. */
    private readonly host: { cancel(): Promise<void> },
  ) {
    const ids = { sessionId, traceId };
    this.delivery = new Delivery(traceId, sessionId, sink, cfg, log);
    const answerer: RequestAnswerer = {
      replyPermission: async (_session, requestId, reply) => this.select(requestId, reply),
      // ACP v1 has no questions (elicitation is unstable): nothing is ever asked, so nothing is answered.
      replyQuestion: async () => false,
      rejectQuestion: async () => false,
    };
    this.requests = new Requests(ids, cfg, answerer, log, {
      expire: (code, message) => this.expire(code, message),
      waiting: () => this.liveness.pause(),
      resolved: () => this.liveness.resume(),
      notify: (evt) => this.delivery.pushRequest(evt),
    });
    this.liveness = new Liveness(cfg, { expire: (code, message) => void this.expire(code, message), settle: () => {} }, this.requests, log, ids);
  }

  /** The prompt was sent: the clocks start. */
  started(): void {
    this.liveness.started();
  }

  onUpdate(update: SessionUpdate): void {
    if (this.finished) return;
    mapAcpUpdate(update, this.state, this.out);
    if (update.sessionUpdate === "tool_call" || update.sessionUpdate === "tool_call_update") {
      const status = update.status === "in_progress" ? "running" : (update.status ?? "");
      if (status !== "") this.liveness.tool(update.toolCallId, update.title ?? "tool", status === "failed" ? "error" : status, undefined);
    }
    this.liveness.activity();
    this.flush();
  }

  /** The agent asks for permission; resolves with the answer the bridge's requests settled on. */
  onPermission(params: RequestPermissionRequest, signal: AbortSignal): Promise<RequestPermissionResponse> {
    if (this.finished || this.ending) return Promise.resolve({ outcome: { outcome: "cancelled" } });
    this.liveness.activity();
    const id = `acp_perm_${++this.nextRequest}`;
    return new Promise<RequestPermissionResponse>((resolve) => {
      this.asked.set(id, { params, resolve, answered: false });
      signal.addEventListener("abort", () => this.select(id, "cancelled"), { once: true });
      this.requests.open(toBridgeRequest(id, params, this), params);
    });
  }

  /** Answer an asked permission (selected option, or cancelled); false when it was already settled. */
  private select(id: string, reply: PermissionReply | "cancelled"): boolean {
    const a = this.asked.get(id);
    if (a === undefined || a.answered) return false;
    a.answered = true;
    const opt = reply === "cancelled" ? undefined : optionFor(reply, a.params.options);
    if (opt?.kind.startsWith("reject")) this.state.rejected = true;
    a.resolve(opt ? { outcome: { outcome: "selected", optionId: opt.optionId } } : { outcome: { outcome: "cancelled" } });
    return true;
  }

  /** `session/prompt` answered (or failed): the terminal reply, unless an expiry decides it. */
  end(outcome: AcpOutcome): void {
    if (this.finished) return;
    finishAcp(this.state, this.ending ? { error: this.ending } : outcome, this.out);
    this.flush();
  }

  /** End now with `code` (the agent process died, or the turn could not start). */
  fail(code: ErrorCode, message: string): void {
    this.end({ error: { code, message } });
  }

  /** Cancel the agent's turn (a timeout, the host's abort) and end with `code` once it answered the prompt (or after `settleTimeoutMs`). */
  async expire(code: ErrorCode, message: string): Promise<void> {
    if (this.finished || this.ending) return;
    this.ending = { code, message };
    this.log.info({ code }, message);
    this.liveness.stop();
    // Waiting permission requests are answered `cancelled`, as ACP asks of a client that cancels.
    for (const id of this.asked.keys()) this.select(id, "cancelled");
    try {
      await this.host.cancel();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "session/cancel failed");
    }
    if (!(await this.liveness.windDown(this.done))) this.fail(code, message);
  }

  async settled(): Promise<TurnResult> {
    await this.done;
    await this.delivery.drain();
    return this.delivery.result();
  }

  private flush(): void {
    if (!this.finished && this.state.done) this.requests.stop();
    this.delivery.push(this.out);
    if (!this.finished && this.state.done) {
      this.finished = true;
      this.liveness.ended();
      for (const id of this.asked.keys()) this.select(id, "cancelled");
      this.resolveDone();
    }
  }
}
