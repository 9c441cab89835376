/**
 * One `/event` subscription per (server, directory), shared by every session the
 * process drives and demultiplexed by session id.
 *
 * `open()` is only done when the HTTP status is 2xx, the content type is
 * `text/event-stream` and `server.connected` has arrived — so a prompt is never
 * sent before its events can be seen. Events that name no session (older servers
 * omit it on some) go to every subscriber; the codec attributes them.
 */
import { request, type Dispatcher } from "undici";
import type { Logger } from "pino";
import { EventStreamDecoder, type StreamIssue } from "../codec/sse.js";
import { BridgeError } from "./errors.js";
import { transportError, type OpencodeHttp } from "./http.js";

export interface HubListener {
  onEvent(payload: unknown): void;
  onIssue(issue: StreamIssue): void;
  /** The stream ended or failed (not called after an intentional close). */
  onClose(err: BridgeError): void;
}

export interface HubOptions {
  readonly connectTimeoutMs: number;
  readonly dispatcher?: Dispatcher;
  readonly logger?: Logger;
  readonly maxFrameBytes?: number;
}

type HubState = "idle" | "connecting" | "open" | "closed";

function sessionOf(payload: unknown): string | undefined {
  const p = (payload as { properties?: Record<string, unknown> } | null)?.properties;
  if (typeof p !== "object" || p === null) return undefined;
  if (typeof p.sessionID === "string") return p.sessionID;
  const part = p.part as { sessionID?: unknown } | undefined;
  if (typeof part?.sessionID === "string") return part.sessionID;
  const info = p.info as { sessionID?: unknown } | undefined;
  if (typeof info?.sessionID === "string") return info.sessionID;
  return undefined;
}

export class EventHub {
  private state: HubState = "idle";
  private opening: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private readonly listeners = new Map<string, Set<HubListener>>();
  /** Counters for /metrics and tests. */
  readonly stats = { connects: 0, events: 0, issues: 0 };

  constructor(
    private readonly http: OpencodeHttp,
    private readonly opts: HubOptions,
  ) {}

  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Open the stream if it is not open; concurrent callers share one attempt. */
  open(): Promise<void> {
    if (this.state === "open") return Promise.resolve();
    this.opening ??= this.connect().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  subscribe(sessionId: string, listener: HubListener): () => void {
    let set = this.listeners.get(sessionId);
    if (!set) {
      set = new Set();
      this.listeners.set(sessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(sessionId) === set) this.listeners.delete(sessionId);
    };
  }

  /** Close intentionally: no listener is told of an error. */
  close(): void {
    this.state = "closed";
    this.abort?.abort();
    this.abort = undefined;
  }

  private async connect(): Promise<void> {
    const url = this.http.url("/event");
    const ac = new AbortController();
    this.abort = ac;
    this.state = "connecting";
    this.stats.connects++;
    const timer = setTimeout(() => ac.abort(new BridgeError("timeout", `no server.connected from ${url} within ${this.opts.connectTimeoutMs} ms`)), this.opts.connectTimeoutMs);
    timer.unref?.();
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: "GET",
        headers: this.http.headers({ accept: "text/event-stream" }),
        signal: ac.signal,
        dispatcher: this.opts.dispatcher,
      });
    } catch (err) {
      clearTimeout(timer);
      this.state = "idle";
      throw ac.signal.reason instanceof BridgeError ? ac.signal.reason : transportError(err, url);
    }
    const type = String(res.headers["content-type"] ?? "");
    if (res.statusCode < 200 || res.statusCode >= 300 || !type.startsWith("text/event-stream")) {
      clearTimeout(timer);
      const body = await res.body.text().catch(() => "");
      this.state = "idle";
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
    const decoder = new EventStreamDecoder(
      {
        onEvent: (payload) => {
          this.stats.events++;
          if (!sawConnected && (payload as { type?: unknown } | null)?.type === "server.connected") {
            sawConnected = true;
            connected();
          }
          this.dispatch(payload);
        },
        onIssue: (issue) => {
          this.stats.issues++;
          this.opts.logger?.warn({ issue: issue.code, event_type: issue.type, session_id: issue.sessionID }, issue.message);
          for (const l of this.targets(issue.sessionID)) l.onIssue(issue);
        },
      },
      { maxFrameBytes: this.opts.maxFrameBytes },
    );
    const pump = (async () => {
      try {
        for await (const chunk of res.body) decoder.push(chunk as Buffer);
        decoder.end();
        return new BridgeError("transport", "the OpenCode event stream ended");
      } catch (err) {
        decoder.end();
        return transportError(err, url);
      }
    })();
    const first = await Promise.race([connectedP.then(() => undefined), pump]);
    clearTimeout(timer);
    if (first !== undefined) {
      this.state = "idle";
      throw ac.signal.reason instanceof BridgeError ? ac.signal.reason : first;
    }
    this.state = "open";
    this.opts.logger?.debug({ url }, "event stream open");
    void pump.then((err) => {
      if (this.abort !== ac) return; // replaced or intentionally closed
      this.state = "idle";
      this.abort = undefined;
      this.opts.logger?.warn({ err: err.message }, "event stream closed");
      for (const set of [...this.listeners.values()]) for (const l of [...set]) l.onClose(err);
    });
  }

  private targets(sessionId: string | undefined): HubListener[] {
    if (sessionId !== undefined) return [...(this.listeners.get(sessionId) ?? [])];
    const all: HubListener[] = [];
    for (const set of this.listeners.values()) all.push(...set);
    return all;
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

/** Hubs shared per (server, directory, credentials) within the process. */
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
