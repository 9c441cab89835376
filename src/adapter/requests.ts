/**
 * Requests: OpenCode's permission and question requests for the turn's session,
 * answered once each. Permissions follow the configured policy (a host callback
 * is bounded by `permissionTimeoutMs`; no answer means reject); questions are
 * rejected (the bridge runs headless). While a request waits, the idle rule is
 * paused (src/adapter/liveness.ts reads `waiting`).
 */
import type { Logger } from "pino";
import type { ErrorCode } from "../codec/reply.js";
import type { KnownEvent } from "../codec/schemas.js";
import type { AdapterConfig, PermissionReply, PermissionRequest } from "./config.js";
import type { OpencodeHttp } from "./http.js";

export interface RequestsHost {
  /** A request could not be answered: abort and end the turn with `code`. */
  expire(code: ErrorCode, message: string): Promise<void>;
  /** A waiting request was settled (the idle rule may run again). */
  resolved(): void;
}

export class Requests {
  private readonly waitingIds = new Set<string>();
  private readonly answered = new Set<string>();

  constructor(
    private readonly sessionId: string,
    private readonly cfg: Pick<AdapterConfig, "permission" | "permissionTimeoutMs" | "clock">,
    private readonly http: OpencodeHttp,
    private readonly log: Logger,
    private readonly host: RequestsHost,
  ) {}

  /** Requests asked and not yet settled. */
  get waiting(): number {
    return this.waitingIds.size;
  }

  /** A control event of the turn's session. */
  onEvent(evt: KnownEvent): void {
    switch (evt.type) {
      case "permission.asked":
      case "permission.updated": {
        const p = evt.properties;
        if (!this.ask(p.id)) return;
        void this.answerPermission({
          id: p.id,
          sessionID: this.sessionId,
          permission: p.permission ?? "",
          patterns: p.patterns ?? [],
          tool: p.tool,
          raw: p,
        });
        return;
      }
      case "question.asked":
        if (this.ask(evt.properties.id)) void this.rejectQuestion(evt.properties.id);
        return;
      case "permission.replied":
      case "question.replied":
      case "question.rejected":
        this.settled(evt.properties.requestID ?? evt.properties.id);
        return;
      default:
        return;
    }
  }

  /** First time this request is seen? Then it waits for its answer. */
  private ask(id: string): boolean {
    if (this.answered.has(id)) return false;
    this.answered.add(id);
    this.waitingIds.add(id);
    return true;
  }

  private settled(id: string | undefined): void {
    if (id === undefined || !this.waitingIds.delete(id)) return;
    this.host.resolved();
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
      this.waitingIds.delete(req.id);
      await this.host.expire("permission", `could not answer OpenCode's permission request for ${req.permission}: ${(err as Error).message}`);
    }
  }

  private async rejectQuestion(id: string): Promise<void> {
    this.log.info({ request: id }, "rejecting a question: the bridge runs headless");
    try {
      await this.http.rejectQuestion(id);
    } catch (err) {
      this.waitingIds.delete(id);
      await this.host.expire("permission", `could not answer OpenCode's question: ${(err as Error).message}`);
    }
  }
}
