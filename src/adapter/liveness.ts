/**
 * Liveness: every rule by which a turn gives up for lack of progress, each in
 * one method here, all on the injected clock.
 *
 * - first event: armed when the prompt is accepted, cleared by the session's first event;
 * - idle: re-armed by every event of the session and of its child sessions
 *   (subagents started by `task`: the parent hears nothing while they work);
 *   paused while a permission or question request is pending (the host may
 *   legitimately take its time) and while a tool of the turn is running (a build,
 *   a test suite can be quiet for minutes) — except a `task` whose child session
 *   is known: the child's own events (and its running tools) are its life, so a
 *   wedged subagent still times out. While the stream is down (a gap) its expiry
 *   means the server is gone (`transport`);
 * - tool: with `toolTimeoutMs`, one tool running longer than that (off by default:
 *   a tool may legitimately run long, and `turnTimeoutMs` bounds the whole turn);
 * - turn: the whole turn, less the time spent waiting for requests (paused while
 *   any waits: a person answering is not the turn being slow; the request's own
 *   bound is `answerTimeoutMs`, src/adapter/requests.ts);
 * - settle: the session went idle with a message still open and the server did
 *   not complete it within `settleTimeoutMs`: end as the idle said;
 * - provider retries: more than `maxProviderRetries` retries reported by the server;
 * - wind-down: after the turn aborted the session, it gets `settleTimeoutMs` to go idle.
 *
 * On expiry the turn aborts the session and winds down (`Turn.expire`). The event
 * stream's own rule (no byte for `watchdogMs`) is src/adapter/watchdog.ts.
 */
import type { Logger } from "pino";
import type { ErrorCode } from "../codec/reply.js";
import type { AdapterConfig } from "./config.js";

export interface LivenessHost {
  /** Abort the session and end the turn with `code` once it wound down. */
  expire(code: ErrorCode, message: string): void;
  /** End the turn as its idle said (the settle rule). */
  settle(): void;
}

/** Permission/question requests waiting for an answer (the idle rule pauses meanwhile). */
export interface WaitingRequests {
  readonly waiting: number;
}

type Cfg = Pick<
  AdapterConfig,
  | "clock"
  | "firstEventTimeoutMs"
  | "idleTimeoutMs"
  | "turnTimeoutMs"
  | "settleTimeoutMs"
  | "maxProviderRetries"
  | "onRetry"
  | "toolTimeoutMs"
>;

export class Liveness {
  private timers: { first?: unknown; idle?: unknown; turn?: unknown; settle?: unknown } = {};
  /** When the idle rule last heard from the session (its deadline is this + idleTimeoutMs: no sum per event). */
  private lastLifeAt = 0;
  /** Turn time left when the turn timer is not running; `turnArmedAt` when it is. */
  private turnLeft = 0;
  private turnArmedAt = 0;
  private prompted = false;
  private sawEvent = false;
  /** The turn is winding down (aborted): events no longer re-arm the idle rule. */
  private stopped = false;
  /** The turn has ended: no rule applies any more. */
  private over = false;
  /** The shared stream is down: an idle expiry means the server is gone. */
  gap = false;
  /**
   * Tools running now (session + call id) that pause the idle rule, each with its `toolTimeoutMs` timer.
   * Made on the first tool (as `delegated`): a thousand idle sessions hold no empty maps.
   */
  private running: Map<string, unknown> | undefined;
  /** Tools running now whose life is a child session's events (a `task` with a known child): no pause. */
  private delegated: Map<string, unknown> | undefined;

  constructor(
    private readonly cfg: Cfg,
    private readonly host: LivenessHost,
    private readonly requests: WaitingRequests,
    private readonly log: Logger,
    private readonly ids: { sessionId: string; traceId: string },
  ) {}

  /** The prompt was accepted: start the clocks (the first-event and turn rules). */
  started(): void {
    this.prompted = true;
    const c = this.cfg.clock;
    this.turnLeft = this.cfg.turnTimeoutMs;
    if (this.requests.waiting === 0) this.armTurn();
    if (!this.sawEvent) {
      this.timers.first = c.setTimeout(
        () => this.host.expire("timeout", `no event from OpenCode within ${this.cfg.firstEventTimeoutMs} ms of the prompt`),
        this.cfg.firstEventTimeoutMs,
      );
    } else {
      this.armIdle();
    }
  }

  private armTurn(): void {
    if (this.timers.turn !== undefined) return;
    const c = this.cfg.clock;
    this.turnArmedAt = c.now();
    this.timers.turn = c.setTimeout(
      () => this.host.expire("timeout", `the turn took longer than ${this.cfg.turnTimeoutMs} ms (not counting time spent waiting for answers)`),
      Math.max(1, this.turnLeft),
    );
  }

  /** A request started waiting: the idle and turn deadlines stop until `resume`. */
  pause(): void {
    const c = this.cfg.clock;
    if (this.timers.turn !== undefined) {
      c.clearTimeout(this.timers.turn);
      this.timers.turn = undefined;
      this.turnLeft -= c.now() - this.turnArmedAt;
    }
    if (this.timers.idle !== undefined) c.clearTimeout(this.timers.idle);
    this.timers.idle = undefined;
  }

  /**
   * An event of the session arrived (at `at` on the clock; default now): it is alive.
   * The hub says when an event arrived, so a streamed token costs no clock read.
   */
  activity(at?: number): void {
    if (!this.prompted) return;
    this.sawEvent = true;
    if (this.timers.first !== undefined) {
      this.cfg.clock.clearTimeout(this.timers.first);
      this.timers.first = undefined;
    }
    if (!this.stopped) this.armIdle(at);
  }

  /**
   * A tool part of the turn (or of a child session) changed status. `child`: the
   * session a `task` tool runs its subagent in, when the part names it.
   */
  tool(key: string, name: string, status: string, child: string | undefined): void {
    if (this.over || this.stopped) return;
    const isRunning = status === "running" || status === "pending";
    if (!isRunning) {
      // A tool ended: the idle clock runs again (unless a request or another tool
      // still holds it). The turn clock is the requests' business, not the tools'.
      if (this.untrack(key) && this.prompted) this.armIdle();
      return;
    }
    if (status === "pending") return; // not started yet: the model is still writing its input
    const paused = child === undefined;
    const mine = paused ? (this.running ??= new Map()) : (this.delegated ??= new Map());
    if (mine.has(key)) return;
    this.untrack(key); // a task whose child became known moves from paused to delegated
    const limit = this.cfg.toolTimeoutMs;
    const timer =
      limit === undefined
        ? undefined
        : this.cfg.clock.setTimeout(
            () => this.host.expire("timeout", `the ${name} tool ran for longer than ${limit} ms (toolTimeoutMs)`),
            limit,
          );
    mine.set(key, timer);
    if (paused) this.armIdle();
  }

  private untrack(key: string): boolean {
    for (const m of [this.running, this.delegated]) {
      if (m === undefined || !m.has(key)) continue;
      const t = m.get(key);
      if (t !== undefined) this.cfg.clock.clearTimeout(t);
      m.delete(key);
      return true;
    }
    return false;
  }

  /** The last pending request was settled: the idle rule runs again, the turn clock goes on. */
  resume(): void {
    if (!this.prompted || this.stopped || this.over) return;
    this.armTurn();
    this.armIdle();
  }

  /**
   * Push the idle deadline forward. One timer serves many events: when it fires
   * early it re-arms itself for the time left (no clear/set per streamed token).
   */
  private armIdle(at?: number): void {
    const c = this.cfg.clock;
    if (this.requests.waiting > 0 || (this.running?.size ?? 0) > 0) {
      // Paused while the host or user decides, or a tool runs; `resume` arms it again.
      if (this.timers.idle !== undefined) c.clearTimeout(this.timers.idle);
      this.timers.idle = undefined;
      return;
    }
    this.lastLifeAt = at ?? c.now();
    if (this.timers.idle === undefined) this.timers.idle = c.setTimeout(() => this.idleCheck(), this.cfg.idleTimeoutMs);
  }

  private idleCheck(): void {
    this.timers.idle = undefined;
    if (this.over || this.stopped || this.requests.waiting > 0 || (this.running?.size ?? 0) > 0) return;
    const left = this.lastLifeAt + this.cfg.idleTimeoutMs - this.cfg.clock.now();
    if (left > 0) {
      this.timers.idle = this.cfg.clock.setTimeout(() => this.idleCheck(), left);
      return;
    }
    if (this.gap) this.host.expire("transport", `the OpenCode event stream has been down for ${this.cfg.idleTimeoutMs} ms (server gone?)`);
    else this.host.expire("timeout", `no event from OpenCode for ${this.cfg.idleTimeoutMs} ms`);
  }

  /**
   * The session went idle with a message still open (`idleSeen`): the server
   * normally completes it right after. If it does not within settleTimeoutMs,
   * the turn ends as the idle said.
   */
  idleWithOpenMessage(): void {
    if (this.timers.settle !== undefined) return;
    this.timers.settle = this.cfg.clock.setTimeout(() => {
      this.timers.settle = undefined;
      if (!this.over) this.host.settle();
    }, this.cfg.settleTimeoutMs);
  }

  /** The server reported a provider retry (`session.status` retry). */
  providerRetry(attempt: number, message: string): void {
    this.log.warn({ attempt, message }, "provider retry");
    try {
      this.cfg.onRetry?.({ sessionId: this.ids.sessionId, traceId: this.ids.traceId, attempt, message });
    } catch (err) {
      this.log.error({ err }, "onRetry hook threw");
    }
    if (attempt > this.cfg.maxProviderRetries) {
      this.host.expire(
        "upstream",
        `the model provider kept failing (${attempt} retries, limit ${this.cfg.maxProviderRetries}): ${message}`,
      );
    }
  }

  /** The session was aborted: true once `ended` settles, false when `settleTimeoutMs` passed first. */
  async windDown(ended: Promise<void>): Promise<boolean> {
    const c = this.cfg.clock;
    let handle: unknown;
    const settled = await Promise.race([
      ended.then(() => true),
      new Promise<boolean>((resolve) => {
        handle = c.setTimeout(() => resolve(false), this.cfg.settleTimeoutMs);
      }),
    ]);
    c.clearTimeout(handle);
    if (!settled) this.log.warn({ settle_ms: this.cfg.settleTimeoutMs }, "the session did not go idle after the abort");
    return settled;
  }

  /** The turn winds down (or ended): clear every timer; events no longer re-arm the idle rule. */
  stop(): void {
    this.stopped = true;
    this.clear();
  }

  /** The turn ended: clear every timer; no rule applies any more. */
  ended(): void {
    this.over = true;
    this.clear();
  }

  private clear(): void {
    const c = this.cfg.clock;
    for (const t of Object.values(this.timers)) if (t !== undefined) c.clearTimeout(t);
    this.timers = {};
    for (const m of [this.running, this.delegated]) {
      if (m === undefined) continue;
      for (const t of m.values()) if (t !== undefined) c.clearTimeout(t);
      m.clear();
    }
  }
}
