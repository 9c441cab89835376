/**
 * One event subscription per (server, directory), shared by every session the
 * process drives and demultiplexed by session id. The connection and what its
 * frames mean are the dialect's (src/adapter/dialect.ts); the hub keeps it open.
 *
 * `open()` is only done when the HTTP status is 2xx, the content type is
 * `text/event-stream` and `server.connected` has arrived — so a prompt is never
 * sent before its events can be seen. Each frame is parsed once, by the dialect
 * (validated, its session resolved), and routed here by that
 * session; events that name no session (older servers omit it on some) go to
 * every subscriber, and the codec attributes them. Events of a listened session's
 * child sessions (subagents that `task` starts: `session.created` with its
 * `parentID`, or the task part's `metadata.sessionId`; recursively) go to the
 * root session's listeners as `onChildEvent` — life for the turn, never its replies.
 *
 * OpenCode's stream has no event ids, so a dropped connection cannot be resumed:
 * after any drop (error, clean end, `server.instance.disposed`, the watchdog on a
 * silent socket) the hub tells its listeners there is a gap (`onGap`), reconnects
 * with backoff, and tells them when it is back (`onResync`) so they can repair
 * what they missed from the server's own record. Only when reconnecting gives up
 * do listeners get `onClose`. An intentional `close()` is not an error and does
 * not reconnect.
 */
import type { Logger } from "pino";
import { backoffDelay } from "../util/backoff.js";
import { realClock, type Clock } from "../util/clock.js";
import { DEFAULT_RECONNECT, type ReconnectPolicy } from "./config.js";
import { BridgeError } from "./errors.js";
import type { Dialect, StreamReceiver } from "./dialect.js";
import { transportError } from "./http.js";
import { StreamWatchdog } from "./watchdog.js";
import { SessionRouter, type HubListener } from "./router.js";

// Who listens to which session, and how an event finds them: src/adapter/router.ts.
export type { HubListener } from "./router.js";

export interface HubOptions {
  readonly connectTimeoutMs: number;
  readonly logger?: Logger;
  readonly reconnect?: ReconnectPolicy;
  /** No byte on the stream for this long while someone listens: the socket is taken for dead. 0: off. */
  readonly watchdogMs?: number;
  readonly clock?: Clock;
}

type HubState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/**
 * With nobody subscribed for this long, the open stream is closed quietly (no gap,
 * no reconnect; the next `open()` connects again): an idle process holds no socket,
 * so a host that has no turn open can exit without calling `close()`.
 */
const IDLE_CLOSE_MS = 1_000;

export class EventHub {
  private state: HubState = "idle";
  private opening: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private readonly router = new SessionRouter(() => this.watchdog.receivedAt);
  private readonly policy: ReconnectPolicy;
  private readonly clock: Clock;
  private readonly watchdog: StreamWatchdog;
  private reconnectTimer: unknown;
  private idleCloseTimer: unknown;
  private reconnectWaiters: { resolve: () => void; reject: (err: BridgeError) => void }[] = [];
  /** Counters for /metrics and tests. */
  readonly stats = { connects: 0, reconnects: 0, drops: 0, events: 0, issues: 0 };

  constructor(
    private readonly dialect: Dialect,
    private readonly opts: HubOptions,
  ) {
    this.policy = opts.reconnect ?? DEFAULT_RECONNECT;
    this.clock = opts.clock ?? realClock;
    this.watchdog = new StreamWatchdog(this.clock, opts.watchdogMs ?? 0, () => this.router.size > 0);
  }

  /**
   * Open the stream if it is not open; concurrent callers share one attempt.
   * While reconnecting, wait for the reconnection (never a second connection:
   * two live connections would deliver every event twice).
   */
  open(): Promise<void> {
    if (this.state === "open") return Promise.resolve();
    if (this.state === "reconnecting") {
      return new Promise<void>((resolve, reject) => this.reconnectWaiters.push({ resolve, reject }));
    }
    return this.connectOnce();
  }

  /** The connection attempt under way, or a new one. */
  private connectOnce(): Promise<void> {
    this.opening ??= this.connect().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private settleWaiters(err?: BridgeError): void {
    const waiters = this.reconnectWaiters;
    this.reconnectWaiters = [];
    for (const w of waiters) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  subscribe(sessionId: string, listener: HubListener): () => void {
    const remove = this.router.add(sessionId, listener);
    this.cancelIdleClose();
    return () => {
      remove();
      if (this.router.size === 0) this.scheduleIdleClose();
    };
  }

  private cancelIdleClose(): void {
    if (this.idleCloseTimer !== undefined) this.clock.clearTimeout(this.idleCloseTimer);
    this.idleCloseTimer = undefined;
  }

  private scheduleIdleClose(): void {
    this.cancelIdleClose();
    this.idleCloseTimer = this.clock.setTimeout(() => {
      this.idleCloseTimer = undefined;
      if (this.router.size > 0 || this.state !== "open") return;
      const ac = this.abort;
      this.abort = undefined; // not a drop: `dropped` ignores it, nobody is told
      this.watchdog.stop();
      this.state = "idle";
      ac?.abort();
    }, IDLE_CLOSE_MS);
  }

  /** Close intentionally: no listener is told of an error, and nothing reconnects. */
  close(): void {
    this.state = "closed";
    this.cancelIdleClose();
    this.settleWaiters(new BridgeError("transport", "the event stream was closed"));
    this.watchdog.stop();
    if (this.reconnectTimer !== undefined) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.abort?.abort();
    this.abort = undefined;
  }

  /** Drop the current connection as if the network had (for tests and operators). */
  drop(reason = "dropped on request"): void {
    this.abort?.abort(new BridgeError("transport", reason));
  }

  private async connect(): Promise<void> {
    const ac = new AbortController();
    this.abort = ac;
    if (this.state !== "reconnecting") this.state = "connecting";
    const isReconnect = this.state === "reconnecting";
    this.stats.connects++;
    const timer = this.clock.setTimeout(
      () => ac.abort(new BridgeError("timeout", `no server.connected on the event stream within ${this.opts.connectTimeoutMs} ms`)),
      this.opts.connectTimeoutMs,
    );
    let ended: Promise<BridgeError>;
    try {
      let connected!: () => void;
      const connectedP = new Promise<void>((r) => (connected = r));
      ({ ended } = await this.dialect.openEvents(this.receiverFor(ac, isReconnect, connected), ac.signal));
      const first = await Promise.race([connectedP.then(() => undefined), ended]);
      if (first !== undefined) throw first;
    } catch (err) {
      if (this.state === "connecting") this.state = "idle";
      throw err;
    } finally {
      this.clock.clearTimeout(timer);
    }
    this.state = "open";
    this.watchdog.start(
      () => this.abort === ac,
      (silent) => ac.abort(new BridgeError("transport", `no byte on the event stream for ${silent} ms (watchdog)`)),
    );
    this.opts.logger?.debug({ reconnect: isReconnect }, "event stream open");
    void ended.then((err) => this.dropped(ac, err));
  }

  /**
   * Where one connection delivers: the dialect turns each frame into parsed events
   * (events of sessions nobody listens to are not validated); the connection's own
   * control events are handled here, the rest are routed by session.
   */
  private receiverFor(ac: AbortController, isReconnect: boolean, connected: () => void): StreamReceiver {
    let sawConnected = false;
    let disposed = false;
    return {
      listening: this.router.listening,
      bytes: () => this.watchdog.bytes(),
      frame: () => {
        if (this.abort === ac) this.stats.events++;
      },
      childSession: (child, parent) => {
        if (this.abort === ac) this.router.adopt(child, parent);
      },
      event: (evt) => {
        if (this.abort !== ac) return; // a connection that has been replaced or closed
        if (!sawConnected && evt.type === "server.connected") {
          sawConnected = true;
          connected();
          if (isReconnect && this.abort === ac) {
            // Tell listeners now, before the next event of this connection is
            // dispatched: events after the gap must wait for their repair.
            this.state = "open";
            for (const l of this.router.all()) l.onResync?.();
            this.settleWaiters();
          }
          return;
        }
        if (evt.type === "server.instance.disposed" && !disposed) {
          // The server disposed this directory's instance: this stream is finished.
          disposed = true;
          ac.abort(new BridgeError("transport", "OpenCode disposed the instance (server.instance.disposed)"));
        }
        this.router.route(evt);
      },
      issue: (issue) => {
        if (this.abort !== ac) return;
        this.stats.issues++;
        this.opts.logger?.warn({ issue: issue.code, event_type: issue.type, session_id: issue.sessionID }, issue.message);
        // A frame cut off by the drop is part of the gap, which the listeners repair.
        if (issue.code === "truncated") return;
        this.router.issue(issue);
      },
    };
  }

  /** The connection of `ac` ended: unless closed on purpose, report a gap and reconnect. */
  private dropped(ac: AbortController, err: BridgeError): void {
    if (this.abort !== ac || this.state === "closed") return;
    this.watchdog.stop();
    this.abort = undefined;
    this.stats.drops++;
    this.opts.logger?.warn({ err }, "event stream dropped");
    if (this.router.size === 0) {
      // Nobody is waiting: reconnect lazily, on the next open().
      this.state = "idle";
      return;
    }
    this.state = "reconnecting";
    for (const l of this.router.all()) l.onGap?.(err);
    this.scheduleReconnect(1, err);
  }

  private scheduleReconnect(attempt: number, last: BridgeError): void {
    if (this.state !== "reconnecting") return;
    if (attempt > this.policy.maxAttempts) {
      this.state = "idle";
      const e = new BridgeError(
        last.code === "auth" || last.code === "protocol" ? last.code : "transport",
        `lost the OpenCode event stream and could not reconnect after ${this.policy.maxAttempts} attempts: ${last.message}`,
      );
      this.opts.logger?.error({ err: e }, "giving up on the event stream");
      for (const l of this.router.all()) l.onClose(e);
      this.settleWaiters(e);
      return;
    }
    const p = this.policy;
    const delay = backoffDelay({ initialDelayMs: p.initialDelayMs, maxDelayMs: p.maxDelayMs, factor: p.growFactor, jitter: "none" }, attempt);
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state !== "reconnecting" || this.opening) return;
      this.stats.reconnects++;
      this.connectOnce().catch((err: unknown) => {
        if (this.state !== "reconnecting") return; // closed, or another open() succeeded
        this.opts.logger?.warn({ attempt, err }, "reconnect failed");
        this.scheduleReconnect(attempt + 1, err instanceof BridgeError ? err : transportError(err, "the event stream"));
      });
    }, delay);
  }
}
