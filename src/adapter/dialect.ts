/**
 * The dialect seam: everything the adapter, the daemon and the CLI ask of an agent
 * backend, and nothing more. OpenCode 1.x (src/adapter/dialect-v1.ts) and OpenCode
 * 2.x (src/adapter/dialect-v2.ts) implement it; nothing above it knows which line
 * it talks to. An ACP agent fits it too: its `session/update` notifications are
 * its event stream, `session/new` creates, `session/prompt` prompts, `session/cancel`
 * aborts, `session/request_permission` answers go through `replyPermission`.
 *
 * What a backend must give, in the codec's vocabulary (src/codec/events.ts):
 * - events as `ParsedEvent`s (OpenCode 1.x's event kinds: `message.part.*`,
 *   `session.status`/`session.idle`/`session.error`, `permission.*`, `question.*`),
 *   in order, one connection at a time; a `server.connected` event first, when the
 *   stream is live (nothing of a turn is sent before it);
 * - the session's record as 1.x records (`{info, parts}`, oldest first) — what
 *   repair and verify-at-end read when the stream missed something;
 * - which sessions are busy now.
 * Ids (sessions, messages, requests) are the backend's own strings.
 *
 * `createDialect` is the one place a backend client is built (with its timeouts);
 * by default it finds the line at connect time (src/adapter/line.ts).
 */
import { request, type Dispatcher } from "undici";
import type { ParsedEvent } from "../codec/events.js";
import type { RecordMessage } from "../codec/record.js";
import { EventStreamDecoder, type DecoderHandlers, type DecoderOptions, type StreamIssue } from "../stream/sse.js";
import { BridgeError } from "./errors.js";
import { OpencodeHttp, summarize, transportError } from "./http.js";
import type { WirePart } from "./parts.js";

/**
 * Which OpenCode line (the same numbers as src/server's `OpencodeLine`, so an owned
 * server's `line` is passed as is): said in logs, health and errors; nothing above
 * the seam branches on it.
 */
export type Line = 1 | 2;

export interface ServerInfo {
  readonly line: Line;
  readonly version: string;
  readonly healthy: boolean;
}

/** One OpenCode permission rule, as 1.x's `POST /session` takes it. */
export interface PermissionRule {
  readonly permission: string;
  readonly pattern: string;
  readonly action: "allow" | "deny" | "ask";
}

export interface SessionCreate {
  readonly title?: string;
  readonly parentID?: string;
  readonly permission?: readonly PermissionRule[];
}

export interface PromptBody {
  /** The turn's user message id (src/adapter/message-id.ts): a retry with the same id is the same prompt. */
  messageID?: string;
  parts: WirePart[];
  noReply?: boolean;
  tools?: Record<string, boolean>;
  variant?: string;
  model?: { providerID: string; modelID: string };
  agent?: string;
  system?: string;
}

export type PermissionDecision = "once" | "always" | "reject";

/** Where one connection of the event stream delivers, in order. */
export interface StreamReceiver {
  /** Whether anyone listens to this session (or to a parent of it): events of others may be skipped unread. */
  listening(sessionID: string): boolean;
  /** `child` is a session started under `parent` (a subagent), told before its events. */
  childSession(child: string, parent: string): void;
  event(evt: ParsedEvent): void;
  /** One frame (message) was read, whatever it held and whoever it was for: the stream's counters. */
  frame(): void;
  issue(issue: StreamIssue): void;
  /** Bytes arrived (the silent-socket watchdog's food). */
  bytes(): void;
}

export interface Dialect {
  /** The server's line and version; the first call finds them (and fails with one clear line for a non-agent URL). */
  info(signal?: AbortSignal): Promise<ServerInfo>;
  /**
   * Open one connection of the event stream. Resolves once it is open (the server
   * accepted it); `ended` then resolves (never rejects) with why it ended. Rejects
   * when it cannot be opened (`auth`, `protocol`: not an event stream, `transport`).
   * Aborting `signal` ends it with `signal.reason` when that is a BridgeError.
   */
  openEvents(to: StreamReceiver, signal: AbortSignal): Promise<{ ended: Promise<BridgeError> }>;
  /** A new session in the directory; resolves its id. The only way sessions are created. */
  createSession(opts?: SessionCreate, signal?: AbortSignal): Promise<string>;
  /** False when the server does not know the session. */
  sessionExists(sessionId: string, signal?: AbortSignal): Promise<boolean>;
  /** True when it was deleted, false when it did not exist. */
  deleteSession(sessionId: string): Promise<boolean>;
  /** The record of the session's most recent `limit` messages, oldest first, in 1.x's shape. */
  sessionMessages(sessionId: string, limit: number, signal?: AbortSignal): Promise<RecordMessage[]>;
  /** Ids of the session's most recent messages (to tell this turn's prompt from older ones). */
  recentMessageIds(sessionId: string, limit: number, signal?: AbortSignal): Promise<string[]>;
  /** Send the prompt and return once the server has taken it (not when the turn ends). */
  prompt(sessionId: string, body: PromptBody, signal?: AbortSignal): Promise<void>;
  /** Interrupt the session's running turn (nothing when idle). */
  abort(sessionId: string): Promise<void>;
  /** The busy sessions of the directory (`{type: "busy"|"retry"}`); idle ones are absent. */
  sessionStatus(signal?: AbortSignal): Promise<Record<string, { type: string }>>;
  /** False when the server no longer knows the request (answered elsewhere). */
  replyPermission(sessionId: string, requestId: string, decision: PermissionDecision, message?: string): Promise<boolean>;
  /** One array of chosen labels (or free text) per question. False when the server no longer knows it. */
  replyQuestion(sessionId: string, requestId: string, answers: readonly (readonly string[])[]): Promise<boolean>;
  rejectQuestion(sessionId: string, requestId: string): Promise<boolean>;
  /**
   * The server's clock minus ours as far as it tells (never ahead of it), for ids
   * that must sort after the server's own (src/adapter/message-id.ts); undefined before any answer.
   */
  readonly serverClockOffsetMs: number | undefined;
  /** Identifies the credentials, for sharing one event stream (src/adapter/shared-hub.ts); never logged. */
  readonly authKey: string;
}

/** Where a backend is and how to talk to it. */
export interface DialectTarget {
  readonly baseUrl: string;
  readonly directory: string;
  readonly username?: string;
  readonly password?: string;
  readonly dispatcher?: Dispatcher;
  /** Per request; default DEFAULT_REQUEST_TIMEOUT_MS (src/adapter/http.ts). */
  readonly requestTimeoutMs?: number;
  /** The line when it is known (a server the bridge started); else it is found at connect time. */
  readonly line?: Line;
  /** The event stream's frame cap (default: src/codec/sse.ts). */
  readonly maxFrameBytes?: number;
}

const enc = encodeURIComponent;

/**
 * What both OpenCode lines share: their one HTTP client (built here, with its
 * timeout), the credentials key, the session routes' shape and how a connection
 * of the event stream is read.
 */
export abstract class OpencodeDialect {
  readonly http: OpencodeHttp;

  /** `sessionRoute`: where a session is, by id (`/session`, `/api/session`). */
  constructor(
    protected readonly target: DialectTarget,
    directoryQuery: boolean,
    private readonly sessionRoute: string,
  ) {
    this.http = new OpencodeHttp({ ...target, directoryQuery });
  }

  get serverClockOffsetMs(): number | undefined {
    return this.http.serverClockOffsetMs;
  }

  get authKey(): string {
    return this.http.auth ?? "";
  }

  async sessionExists(sessionId: string, signal?: AbortSignal): Promise<boolean> {
    const r = await this.http.call("GET", `${this.sessionRoute}/${enc(sessionId)}`, { signal, okStatuses: [404] });
    return r.status !== 404;
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    const r = await this.http.call("DELETE", `${this.sessionRoute}/${enc(sessionId)}`, { okStatuses: [404] });
    return r.status !== 404;
  }

  /**
   * One connection of the event stream at `path` (1.x `GET /event`, 2.x `GET /api/event`):
   * the request, and the check that the answer is an event stream (2xx,
   * `text/event-stream`; anything else is a BridgeError that says what came back,
   * never a web page quoted); then the body's bytes go into the SSE decoder, its
   * frames to `handlers` (issues and bytes to `to`), until the stream ends, and
   * `ended` resolves with why (never rejects). What a frame means is the line's;
   * waiting for `server.connected`, routing and reconnecting are the hub's.
   */
  protected async readStream(
    path: string,
    to: StreamReceiver,
    signal: AbortSignal,
    handlers: Omit<DecoderHandlers, "onIssue">,
    opts: DecoderOptions = {},
  ): Promise<{ ended: Promise<BridgeError> }> {
    const url = this.http.url(path);
    /** The abort reason, when someone aborted with a BridgeError; else `err` as a transport error. */
    const why = (err: unknown) => (signal.reason instanceof BridgeError ? signal.reason : transportError(err, url));
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: "GET",
        headers: this.http.headers({ accept: "text/event-stream" }),
        signal,
        dispatcher: this.target.dispatcher,
      });
    } catch (err) {
      throw why(err);
    }
    const type = String(res.headers["content-type"] ?? "");
    if (res.statusCode < 200 || res.statusCode >= 300 || !type.startsWith("text/event-stream")) {
      const text = await res.body.text().catch(() => "");
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new BridgeError("auth", `OpenCode refused the event stream (HTTP ${res.statusCode}): check OPENCODE_SERVER_PASSWORD`, {
          status: res.statusCode,
          url,
        });
      }
      throw new BridgeError(
        "protocol",
        `GET ${path} answered HTTP ${res.statusCode} with content type ${JSON.stringify(type)}, not an event stream: ${summarize(text.slice(0, 200))}`,
        { status: res.statusCode, url },
      );
    }
    const decoder = new EventStreamDecoder({ ...handlers, onIssue: (issue) => to.issue(issue) }, { maxFrameBytes: this.target.maxFrameBytes, ...opts });
    const read = async (): Promise<BridgeError> => {
      try {
        for await (const chunk of res.body) {
          to.bytes();
          decoder.push(chunk as Buffer);
        }
        decoder.end();
        return new BridgeError("transport", "the OpenCode event stream ended");
      } catch (err) {
        decoder.end();
        return why(err);
      }
    };
    return { ended: read() };
  }
}
