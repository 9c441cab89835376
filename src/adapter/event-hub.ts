/**
 * One `/event` subscription per (server, directory), shared by every session the
 * process drives and demultiplexed by session id.
 *
 * `open()` is only done when the HTTP status is 2xx, the content type is
 * `text/event-stream` and `server.connected` has arrived — so a prompt is never
 * sent before its events can be seen. Events that name no session (older servers
 * omit it on some) go to every subscriber; the codec attributes them.
 *
 * OpenCode's stream has no event ids, so a dropped connection cannot be resumed:
 * after any drop (error, clean end, `server.instance.disposed`, the watchdog on a
 * silent socket) the hub tells its listeners there is a gap (`onGap`), reconnects
 * with backoff, and tells them when it is back (`onResync`) so they can repair
 * what they missed from the server's own record. Only when reconnecting gives up
 * do listeners get `onClose`. An intentional `close()` is not an error and does
 * not reconnect.
 */
import { request, type Dispatcher } from "undici";
import type { Logger } from "pino";
import { EventStreamDecoder, type StreamIssue } from "../codec/sse.js";
import { realClock, type Clock } from "./config.js";
import { BridgeError } from "./errors.js";
import { transportError, type OpencodeHttp } from "./http.js";

export interface HubListener {
  onEvent(payload: unknown): void;
  onIssue(issue: StreamIssue): void;
  /** The stream dropped; events may be missed until `onResync`. */
  onGap?(err: BridgeError): void;
  /** The stream is back (server.connected seen); what was missed must be recovered. */
  onResync?(): void;
  /** The stream is gone for good (reconnecting gave up). Not called after an intentional close. */
  onClose(err: BridgeError): void;
}

export interface ReconnectPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly growFactor: number;
  /** Attempts before giving up; each failed connect counts, a successful one resets the count. */
  readonly maxAttempts: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = {
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  growFactor: 2,
  maxAttempts: 8,
};

export interface HubOptions {
  readonly connectTimeoutMs: number;
  readonly dispatcher?: Dispatcher;
  readonly logger?: Logger;
  readonly maxFrameBytes?: number;
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

/** The session an event belongs to, wherever its version puts it; undefined when it names none. */
export function sessionOf(payload: unknown): string | undefined {
  const e = payload as { type?: unknown; properties?: Record<string, unknown> } | null;
  const p = e?.properties;
  if (typeof p !== "object" || p === null) return undefined;
  if (typeof p.sessionID === "string") return p.sessionID;
  const part = p.part as { sessionID?: unknown } | undefined;
  if (typeof part?.sessionID === "string") return part.sessionID;
  const info = p.info as { sessionID?: unknown; id?: unknown } | undefined;
  if (typeof info?.sessionID === "string") return info.sessionID;
  // 1.2.x names the session of session.created/updated only as the info's id:
  // without this, every such event would go to every subscriber.
  if (typeof info?.id === "string" && typeof e?.type === "string" && e.type.startsWith("session.")) return info.id;
  return undefined;
}

export class EventHub {
  private state: HubState = "idle";
  private opening: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private readonly listeners = new Map<string, Set<HubListener>>();
  private readonly policy: ReconnectPolicy;
  private readonly clock: Clock;
  private watchdog: unknown;
  private lastByteAt = 0;
  private reconnectTimer: unknown;
  private idleCloseTimer: unknown;
  private reconnectWaiters: { resolve: () => void; reject: (err: BridgeError) => void }[] = [];
  /** Counters for /metrics and tests. */
  readonly stats = { connects: 0, reconnects: 0, drops: 0, events: 0, issues: 0 };

  constructor(
    private readonly http: OpencodeHttp,
    private readonly opts: HubOptions,
  ) {
    this.policy = opts.reconnect ?? DEFAULT_RECONNECT;
    this.clock = opts.clock ?? realClock;
  }

  get isOpen(): boolean {
    return this.state === "open";
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
    let set = this.listeners.get(sessionId);
    if (!set) {
      set = new Set();
      this.listeners.set(sessionId, set);
    }
    set.add(listener);
    this.cancelIdleClose();
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(sessionId) === set) this.listeners.delete(sessionId);
      if (this.listeners.size === 0) this.scheduleIdleClose();
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
      if (this.listeners.size > 0 || this.state !== "open") return;
      const ac = this.abort;
      this.abort = undefined; // not a drop: `dropped` ignores it, nobody is told
      this.stopWatchdog();
      this.state = "idle";
      ac?.abort();
    }, IDLE_CLOSE_MS);
  }

  /** Close intentionally: no listener is told of an error, and nothing reconnects. */
  close(): void {
    this.state = "closed";
    this.cancelIdleClose();
    this.settleWaiters(new BridgeError("transport", "the event stream was closed"));
    this.stopWatchdog();
    if (this.reconnectTimer !== undefined) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.abort?.abort();
    this.abort = undefined;
  }

  /** Drop the current connection as if the network had (for tests and operators). */
  drop(reason = "dropped on request"): void {
    this.abort?.abort(new BridgeError("transport", reason));
  }

  private allListeners(): HubListener[] {
    const all: HubListener[] = [];
    for (const set of this.listeners.values()) all.push(...set);
    return all;
  }

  private async connect(): Promise<void> {
    const url = this.http.url("/event");
    const ac = new AbortController();
    this.abort = ac;
    if (this.state !== "reconnecting") this.state = "connecting";
    this.stats.connects++;
    const timer = this.clock.setTimeout(
      () => ac.abort(new BridgeError("timeout", `no server.connected from ${url.split("?")[0]} within ${this.opts.connectTimeoutMs} ms`)),
      this.opts.connectTimeoutMs,
    );
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: "GET",
        headers: this.http.headers({ accept: "text/event-stream" }),
        signal: ac.signal,
        dispatcher: this.opts.dispatcher,
      });
    } catch (err) {
      this.clock.clearTimeout(timer);
      if (this.state === "connecting") this.state = "idle";
      throw ac.signal.reason instanceof BridgeError ? ac.signal.reason : transportError(err, url);
    }
    const type = String(res.headers["content-type"] ?? "");
    if (res.statusCode < 200 || res.statusCode >= 300 || !type.startsWith("text/event-stream")) {
      this.clock.clearTimeout(timer);
      const body = await res.body.text().catch(() => "");
      if (this.state === "connecting") this.state = "idle";
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new BridgeError("auth", `OpenCode refused the event stream (HTTP ${res.statusCode}): check OPENCODE_SERVER_PASSWORD`, {
          status: res.statusCode,
          url,
        });
      }
      throw new BridgeError(
        "protocol",
        `GET /event answered HTTP ${res.statusCode} with content type ${JSON.stringify(type)}, not an event stream: ${body.slice(0, 200)}`,
        { status: res.statusCode, url },
      );
    }
    let connected!: () => void;
    const connectedP = new Promise<void>((r) => (connected = r));
    let sawConnected = false;
    let disposed = false;
    const isReconnect = this.state === "reconnecting";
    const decoder = new EventStreamDecoder(
      {
        onEvent: (payload) => {
          if (this.abort !== ac) return; // a connection that has been replaced or closed
          this.stats.events++;
          const t = (payload as { type?: unknown } | null)?.type;
          if (!sawConnected && t === "server.connected") {
            sawConnected = true;
            connected();
            if (isReconnect && this.abort === ac) {
              // Tell listeners now, before the next event of this connection is
              // dispatched: events after the gap must wait for their repair.
              this.state = "open";
              for (const l of this.allListeners()) l.onResync?.();
              this.settleWaiters();
            }
            return;
          }
          if (t === "server.instance.disposed" && !disposed) {
            // The server disposed this directory's instance: this stream is finished.
            disposed = true;
            ac.abort(new BridgeError("transport", "OpenCode disposed the instance (server.instance.disposed)"));
          }
          this.dispatch(payload);
        },
        onIssue: (issue) => {
          if (this.abort !== ac) return;
          this.stats.issues++;
          this.opts.logger?.warn({ issue: issue.code, event_type: issue.type, session_id: issue.sessionID }, issue.message);
          // A frame cut off by the drop is part of the gap, which the listeners repair.
          if (issue.code === "truncated") return;
          const sid = issue.sessionID;
          for (const l of sid !== undefined ? [...(this.listeners.get(sid) ?? [])] : this.allListeners()) l.onIssue(issue);
        },
      },
      { maxFrameBytes: this.opts.maxFrameBytes },
    );
    const pump = (async (): Promise<BridgeError> => {
      try {
        for await (const chunk of res.body) {
          this.lastByteAt = this.clock.now();
          decoder.push(chunk as Buffer);
        }
        decoder.end();
        return new BridgeError("transport", "the OpenCode event stream ended");
      } catch (err) {
        decoder.end();
        return ac.signal.reason instanceof BridgeError ? ac.signal.reason : transportError(err, url);
      }
    })();
    const first = await Promise.race([connectedP.then(() => undefined), pump]);
    this.clock.clearTimeout(timer);
    if (first !== undefined) {
      if (this.state === "connecting") this.state = "idle";
      throw first;
    }
    this.state = "open";
    this.lastByteAt = this.clock.now();
    this.startWatchdog(ac);
    this.opts.logger?.debug({ url: url.split("?")[0], reconnect: isReconnect }, "event stream open");
    void pump.then((err) => this.dropped(ac, err));
  }

  /** The connection of `ac` ended: unless closed on purpose, report a gap and reconnect. */
  private dropped(ac: AbortController, err: BridgeError): void {
    if (this.abort !== ac || this.state === "closed") return;
    this.stopWatchdog();
    this.abort = undefined;
    this.stats.drops++;
    this.opts.logger?.warn({ err: err.message }, "event stream dropped");
    if (this.listeners.size === 0) {
      // Nobody is waiting: reconnect lazily, on the next open().
      this.state = "idle";
      return;
    }
    this.state = "reconnecting";
    for (const l of this.allListeners()) l.onGap?.(err);
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
      this.opts.logger?.error({ err: e.message }, "giving up on the event stream");
      for (const l of this.allListeners()) l.onClose(e);
      this.settleWaiters(e);
      return;
    }
    const delay = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * this.policy.growFactor ** (attempt - 1));
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state !== "reconnecting" || this.opening) return;
      this.stats.reconnects++;
      this.opening = this.connect().finally(() => {
        this.opening = undefined;
      });
      this.opening.catch((err: unknown) => {
        if (this.state !== "reconnecting") return; // closed, or another open() succeeded
        this.opts.logger?.warn({ attempt, err: (err as Error).message }, "reconnect failed");
        this.scheduleReconnect(attempt + 1, err instanceof BridgeError ? err : transportError(err, "/event"));
      });
    }, delay);
  }

  private startWatchdog(ac: AbortController): void {
    const ms = this.opts.watchdogMs ?? 0;
    if (ms <= 0) return;
    const check = () => {
      if (this.abort !== ac) return;
      const silent = this.clock.now() - this.lastByteAt;
      if (silent >= ms && this.listeners.size > 0) {
        ac.abort(new BridgeError("transport", `no byte on the event stream for ${silent} ms (watchdog)`));
        return;
      }
      // A quiet stream with nobody listening is normal: keep watching.
      this.watchdog = this.clock.setTimeout(check, silent >= ms ? ms : ms - silent);
    };
    this.watchdog = this.clock.setTimeout(check, ms);
  }

  private stopWatchdog(): void {
    if (this.watchdog !== undefined) this.clock.clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private dispatch(payload: unknown): void {
    const sid = sessionOf(payload);
    if (sid !== undefined) {
      const set = this.listeners.get(sid);
      if (set) for (const l of set) l.onEvent(payload);
      return;
    }
    for (const set of this.listeners.values()) for (const l of set) l.onEvent(payload);
  }
}

/** Hubs shared per (server, directory, credentials, dispatcher) within the process. */
const shared = new Map<string, { hub: EventHub; refs: number }>();

export function acquireHub(http: OpencodeHttp, key: string, opts: HubOptions): { hub: EventHub; release(): void } {
  let entry = shared.get(key);
  if (!entry) {
    entry = { hub: new EventHub(http, opts), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const e = entry;
  let released = false;
  return {
    hub: e.hub,
    release: () => {
      if (released) return;
      released = true;
      e.refs--;
      if (e.refs === 0) {
        e.hub.close();
        shared.delete(key);
      }
    },
  };
}
