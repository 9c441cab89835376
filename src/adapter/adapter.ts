/**
 * The adapter: drives OpenCode turns and pushes their replies into a sink.
 *
 *   const adapter = new OpencodeAdapter({ baseUrl, directory }, (reply) => recorder.add(reply));
 *   const result = await adapter.prompt("Fix the failing test");
 *
 * Turns on one adapter are serialized (a p-queue of concurrency 1): one turn's
 * replies never interleave with another's, and an aborted turn has settled before
 * the next starts. For sessions in parallel, use one adapter per session: they
 * share one `/event` connection per (server, directory).
 *
 * `prompt` never throws for a turn's failure: it ends the turn with an `error`
 * reply and resolves. It rejects only for programming errors (bad options), and
 * even then the sink gets the call's terminal `error` reply first.
 */
import PQueue from "p-queue";
import pino, { type Logger } from "pino";
import { createTurnState } from "../codec/codec.js";
import { toSinkObject, type Sink, type SinkObject } from "../sink/types.js";
import { parseAdapterConfig, type AdapterConfig, type AdapterConfigInput, type PermissionPolicy, type PermissionReply, type QuestionPolicy } from "./config.js";
import type { AnswerOutcome, BridgeRequest, RequestAnswer, RequestHook } from "./requests.js";
import { BridgeError } from "./errors.js";
import type { EventHub } from "./event-hub.js";
import { acquireHub } from "./shared-hub.js";
import { OpencodeHttp, type PromptBody } from "./http.js";
import { holdProcess } from "./keep-alive.js";
import { newMessageId } from "./message-id.js";
import { toWireParts, type PromptInputPart, type WirePart } from "./parts.js";
import { MemorySessionStore, SessionKeys, type SessionOptions, type SessionStore } from "./sessions.js";
import { Turn, type TurnResult } from "./turn.js";

export interface PromptOptions {
  readonly traceId?: string;
  /** Resume this OpenCode session; omitted: a new session is created. */
  readonly sessionId?: string;
  /** Aborts the turn: the OpenCode session is aborted and the turn ends with `aborted`. */
  readonly signal?: AbortSignal;
  /** "provider/model", or the pair. */
  readonly model?: string | { providerID: string; modelID: string };
  readonly agent?: string;
  readonly system?: string;
  /** This turn's permission policy (default: the adapter's). */
  readonly permission?: PermissionPolicy;
  /** This turn's question policy (default: the adapter's). */
  readonly question?: QuestionPolicy;
  /** This turn's request hook (default: the adapter's `onRequest`). */
  readonly onRequest?: RequestHook;
  /**
   * Run in the host's keyed session (see src/adapter/sessions.ts): created on first
   * use with `session` options and this prompt's model and agent, reused while they
   * stay the same. Exclusive with `sessionId`.
   */
  readonly sessionKey?: string;
  /** How a keyed session is created (title, permission rules, parent). */
  readonly session?: Omit<SessionOptions, "model" | "agent">;
  /** Store the prompt without running the model; the turn ends `final` with no content once OpenCode has stored it. */
  readonly noReply?: boolean;
  /** Enable/disable tools by name for this prompt (OpenCode writes these into the session's permission rules). */
  readonly tools?: Record<string, boolean>;
  /** The model variant (e.g. a reasoning effort the provider defines). */
  readonly variant?: string;
  /** Timeouts for this turn, overriding the adapter's. */
  readonly timeouts?: { readonly firstEventMs?: number; readonly idleMs?: number; readonly turnMs?: number };
}

export interface AdapterOptions {
  /** Where session keys are kept; default: in memory. */
  readonly sessionStore?: SessionStore;
  /** On `close()`, delete every session this adapter created (keyed or not). Default false. */
  readonly deleteSessionsOnClose?: boolean;
}

/** The OpenCode versions this bridge supports: 1.2.0 and later 1.x (2.x drops the routes it uses). */
export const SUPPORTED_VERSIONS = { min: [1, 2, 0], belowMajor: 2 } as const;

export function isSupportedVersion(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])];
  if ((v[0] ?? 0) >= SUPPORTED_VERSIONS.belowMajor) return false;
  for (let i = 0; i < 3; i++) {
    const a = v[i] ?? 0;
    const b = SUPPORTED_VERSIONS.min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

export function parseModel(model: PromptOptions["model"]): PromptBody["model"] {
  if (model === undefined) return undefined;
  if (typeof model !== "string") return model;
  const i = model.indexOf("/");
  if (i <= 0 || i === model.length - 1) {
    throw new BridgeError("config", `model must look like provider/model, got ${JSON.stringify(model)}`);
  }
  return { providerID: model.slice(0, i), modelID: model.slice(i + 1) };
}

const dispatcherIds = new WeakMap<object, number>();
let lastDispatcherId = 0;
function dispatcherId(d: object | undefined): number {
  if (d === undefined) return 0;
  let id = dispatcherIds.get(d);
  if (id === undefined) {
    id = ++lastDispatcherId;
    dispatcherIds.set(d, id);
  }
  return id;
}

export class OpencodeAdapter {
  readonly config: AdapterConfig;
  private readonly sink: SinkObject;
  private readonly http: OpencodeHttp;
  private readonly hub: EventHub;
  private readonly releaseHub: () => void;
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly log: Logger;
  private version: Promise<string> | undefined;
  private closed = false;
  /** The turn running now (turns are serialized), for answers to its requests. */
  private current: Turn | undefined;
  private readonly keys: SessionKeys;

  constructor(config: AdapterConfigInput, sink: Sink, private readonly options: AdapterOptions = {}) {
    this.config = parseAdapterConfig(config);
    this.sink = toSinkObject(sink);
    this.log = (this.config.logger ?? pino({ enabled: false })).child({ component: "adapter" });
    this.http = new OpencodeHttp({
      baseUrl: this.config.baseUrl,
      directory: this.config.directory,
      username: this.config.username,
      password: this.config.password,
      requestTimeoutMs: this.config.requestTimeoutMs,
      dispatcher: this.config.dispatcher,
    });
    // Adapters share a stream only when they would open the same one: same server,
    // directory, credentials and dispatcher.
    const key = [
      this.config.baseUrl,
      this.config.directory,
      this.http.auth ?? "",
      dispatcherId(this.config.dispatcher),
      this.config.maxFrameBytes,
    ].join("\u0000");
    const shared = acquireHub(this.http, key, {
      connectTimeoutMs: this.config.connectTimeoutMs,
      dispatcher: this.config.dispatcher,
      logger: this.log.child({ component: "event-hub" }),
      reconnect: this.config.reconnect,
      watchdogMs: this.config.watchdogMs,
      clock: this.config.clock,
      maxFrameBytes: this.config.maxFrameBytes,
    });
    this.hub = shared.hub;
    this.releaseHub = shared.release;
    this.keys = new SessionKeys(this.http, options.sessionStore ?? new MemorySessionStore());
  }

  /**
   * The OpenCode session for the host's `key`: reused while its configuration is the
   * same and its last turn did not end `transport`/`timeout`, else created (with the
   * title, default `bridge: <key>`, parent and permission rules). Resolves its id.
   */
  async ensureSession(key: string, opts: SessionOptions = {}): Promise<string> {
    await this.serverVersion();
    return (await this.keys.ensure(key, opts)).sessionId;
  }

  /** Delete a keyed session (by its key) or any session (by its id) on the server; false when it did not exist. */
  deleteSession(keyOrSessionId: string): Promise<boolean> {
    return this.keys.delete(keyOrSessionId);
  }

  /** The server's version, checked against the supported range (cached after the first success). */
  serverVersion(): Promise<string> {
    this.version ??= this.http.health().then(
      ({ version }) => {
        if (!isSupportedVersion(version)) {
          throw new BridgeError(
            "unsupported_version",
            `OpenCode ${version} is not supported: opencode-bridge drives 1.x servers from ${SUPPORTED_VERSIONS.min.join(".")} on (2.x removed the routes it uses)`,
          );
        }
        return version;
      },
      (err: unknown) => {
        this.version = undefined; // try again next turn
        throw err;
      },
    );
    return this.version;
  }

  /** The shared event stream's counters (connects, reconnects, drops, events, issues). */
  get streamStats(): Readonly<EventHub["stats"]> {
    return this.hub.stats;
  }

  /** Drop the shared event stream as a network failure would (it reconnects and repairs). */
  dropEventStream(reason?: string): void {
    this.hub.drop(reason);
  }

  /**
   * Run one turn; resolves when its terminal reply has been delivered. A call that
   * is refused (empty text, malformed model, closed adapter) still delivers its one
   * terminal `error` reply, then rejects: nothing above the adapter ever has to
   * make up a terminal reply.
   */
  prompt(input: string | readonly PromptInputPart[], opts: PromptOptions = {}): Promise<TurnResult> {
    let model: PromptBody["model"];
    try {
      if (typeof input !== "string" && !Array.isArray(input)) {
        throw new TypeError(`prompt text must be a non-empty string or an array of parts, got ${JSON.stringify(input)}`);
      }
      if (typeof input === "string" && input.trim() === "") {
        throw new TypeError(`prompt text must be a non-empty string, got ${JSON.stringify(input)}`);
      }
      if (this.closed) throw new Error("the adapter is closed");
      if (opts.sessionKey !== undefined && opts.sessionId !== undefined) {
        throw new BridgeError("config", "give either sessionKey or sessionId, not both");
      }
      if (opts.sessionKey !== undefined && (typeof opts.sessionKey !== "string" || opts.sessionKey === "")) {
        throw new BridgeError("config", `sessionKey must be a non-empty string, got ${JSON.stringify(opts.sessionKey)}`);
      }
      model = parseModel(opts.model);
      const p = opts.permission;
      if (p !== undefined && p !== "reject" && p !== "allow" && p !== "ask" && typeof p !== "function") {
        throw new BridgeError("config", `permission must be "reject", "allow", "ask" or a function, got ${JSON.stringify(p)}`);
      }
      if (opts.question !== undefined && opts.question !== "reject" && opts.question !== "ask") {
        throw new BridgeError("config", `question must be "reject" or "ask", got ${JSON.stringify(opts.question)}`);
      }
      withTimeouts(this.config, opts.timeouts); // checks them
    } catch (err) {
      return this.refuse(err as Error, opts);
    }
    // An open turn keeps the process alive until it has settled, whatever it waits for.
    const release = holdProcess();
    // Files are read now, but the turn keeps its place in the queue (turns run in call order).
    const parts = toWireParts(input).then(
      (p) => ({ ok: true as const, parts: p }),
      (err: unknown) => ({ ok: false as const, err: err as Error }),
    );
    return this.queue
      .add(async () => {
        const p = await parts;
        return p.ok ? this.runTurn(p.parts, opts, model) : p;
      })
      .then((r) => ("ok" in r ? this.refuse(r.err, opts) : r))
      .finally(release);
  }

  private async refuse(err: Error, opts: PromptOptions): Promise<never> {
    const traceId = opts.traceId ?? this.config.newTraceId();
    const log = this.log.child({ trace_id: traceId });
    const turn = new Turn(createTurnState({ traceId, sessionId: opts.sessionId }), opts.sessionId ?? "", this.config, this.http, this.sink, log);
    turn.end(err instanceof BridgeError ? err.replyCode : "internal", `the bridge refused the turn: ${err.message}`);
    await turn.settled();
    throw err;
  }

  /** Permission and question requests of the running turn that wait for an answer. */
  pendingRequests(): BridgeRequest[] {
    return this.current?.pendingRequests() ?? [];
  }

  /** Answer a permission request of the running turn; a message goes to the model with a rejection. */
  replyPermission(requestId: string, reply: PermissionReply, message?: string): Promise<AnswerOutcome> {
    return this.answer(requestId, message === undefined ? { reply } : { reply, message });
  }

  /** Answer a question of the running turn: one array of chosen labels (or free text) per question. */
  replyQuestion(requestId: string, answers: readonly (readonly string[])[]): Promise<AnswerOutcome> {
    return this.answer(requestId, { answers });
  }

  /** Dismiss a question of the running turn. */
  rejectQuestion(requestId: string): Promise<AnswerOutcome> {
    return this.answer(requestId, { reply: "reject" });
  }

  /**
   * Answer a request of the running turn. Resolves `answered`, or says why not:
   * `unknown` (no such request now), `already_answered`, `invalid` (wrong shape for it).
   */
  async answer(requestId: string, answer: RequestAnswer): Promise<AnswerOutcome> {
    const turn = this.current;
    if (turn === undefined) return { status: "unknown", message: `no turn is running, so there is no request ${requestId}` };
    return turn.answer(requestId, answer);
  }

  /** Close the adapter: waits for queued turns, then releases the shared event stream. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.onIdle();
    if (this.options.deleteSessionsOnClose) {
      for (const id of [...this.keys.created]) {
        await this.keys.delete(id).catch((err: unknown) => this.log.warn({ session_id: id, err: (err as Error)?.message }, "could not delete a session on close"));
      }
    }
    this.releaseHub();
    await this.sink.flush?.();
  }

  private async runTurn(parts: WirePart[], opts: PromptOptions, model: PromptBody["model"]): Promise<TurnResult> {
    const traceId = opts.traceId ?? this.config.newTraceId();
    let log = this.log.child({ trace_id: traceId });
    let sessionId = opts.sessionId;
    let turn: Turn | undefined;
    // This turn's configuration: the adapter's, with the prompt's timeouts and request policies.
    const cfg: AdapterConfig = {
      ...withTimeouts(this.config, opts.timeouts),
      permission: opts.permission ?? this.config.permission,
      question: opts.question ?? this.config.question,
      onRequest: opts.onRequest ?? this.config.onRequest,
    };
    let unsubscribe: (() => void) | undefined;
    const onAbort = () => void turn?.abortByHost("the turn was aborted by the host");
    try {
      if (opts.signal?.aborted) throw new BridgeError("config", "the turn was aborted before it started");
      await this.serverVersion();
      // Subscribe first, and check it, so that no event of the turn can be missed.
      await this.hub.open();
      let resumed = opts.sessionId !== undefined;
      if (opts.sessionKey !== undefined) {
        const keyed = await this.keys.ensure(
          opts.sessionKey,
          { ...opts.session, ...(model ? { model: `${model.providerID}/${model.modelID}` } : {}), ...(opts.agent ? { agent: opts.agent } : {}) },
          opts.signal,
        );
        sessionId = keyed.sessionId;
        resumed = !keyed.created;
      }
      if (sessionId === undefined) {
        sessionId = await this.http.createSession(opts.signal);
        this.keys.created.add(sessionId);
      }
      log = log.child({ session_id: sessionId });
      // User messages already in a resumed session are never taken for this turn's prompt
      // (and an unknown session fails here, 404 → not_found, even on 1.2.x whose prompt_async answers 204).
      const prior = resumed ? await this.http.recentMessageIds(sessionId, 20, opts.signal) : [];
      // The turn's own user message id: exactly that message is admitted as this turn's prompt.
      // On the server's clock when it runs behind ours (never ahead of it), after every id known of the session.
      const offset = Math.min(0, this.http.serverClockOffsetMs ?? 0);
      const messageID = newMessageId(traceId, this.config.clock.now() + offset, [sessionId, ...prior]);
      const state = createTurnState({
        traceId,
        sessionId,
        priorMessageIds: prior,
        userMessageId: messageID,
        noReply: opts.noReply,
        // A noReply prompt has no answer to verify: its `final` comes once the prompt is stored.
        holdFinal: cfg.verifyAtEnd && opts.noReply !== true,
      });
      turn = new Turn(state, sessionId, cfg, this.http, this.sink, log);
      this.current = turn;
      unsubscribe = this.hub.subscribe(sessionId, turn);
      // The stream may have dropped since it was opened: wait for it to be back (or fail)
      // before prompting, so that no event of the turn goes unseen.
      await this.hub.open();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      log.info({ parts: parts.length, chars: parts.reduce((n, p) => n + (p.type === "text" ? p.text.length : p.url.length), 0) }, "prompting");
      turn.sending();
      await this.http.promptAsync(sessionId, {
        messageID,
        parts,
        ...(opts.noReply ? { noReply: true } : {}),
        ...(opts.tools ? { tools: opts.tools } : {}),
        ...(opts.variant ? { variant: opts.variant } : {}),
        ...(model ? { model } : {}),
        ...(opts.agent ? { agent: opts.agent } : {}),
        ...(opts.system ? { system: opts.system } : {}),
      });
      turn.started();
      if (opts.signal?.aborted) onAbort();
    } catch (err) {
      const e =
        err instanceof BridgeError
          ? err
          : opts.signal?.aborted
            ? new BridgeError("config", "the turn was aborted before the prompt was sent")
            : new BridgeError("protocol", `unexpected failure: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      const code = opts.signal?.aborted ? "aborted" : e.replyCode;
      log.warn({ code, err: e.message }, "the turn failed before it started");
      turn ??= new Turn(createTurnState({ traceId, sessionId }), sessionId ?? "", cfg, this.http, this.sink, log);
      turn.end(code, e.message);
    }
    try {
      const result = await turn.settled();
      log.info({ status: result.status, replies: result.replies }, "turn ended");
      if (opts.sessionKey !== undefined && sessionId !== undefined) {
        await this.keys
          .ended(opts.sessionKey, sessionId, result.status === "final" ? "final" : (result.error?.code ?? "internal"))
          .catch((err: unknown) => log.warn({ err: (err as Error)?.message }, "could not record how the keyed session's turn ended"));
      }
      return result;
    } finally {
      if (this.current === turn) this.current = undefined;
      opts.signal?.removeEventListener("abort", onAbort);
      unsubscribe?.();
    }
  }
}

/** The adapter's configuration with one prompt's timeouts in place of its own. */
function withTimeouts(config: AdapterConfig, t: PromptOptions["timeouts"]): AdapterConfig {
  if (t === undefined) return config;
  for (const [k, v] of Object.entries(t)) {
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v <= 0)) {
      throw new BridgeError("config", `timeouts.${k} must be a whole number of milliseconds greater than 0, got ${JSON.stringify(v)}`);
    }
  }
  return {
    ...config,
    ...(t.firstEventMs !== undefined ? { firstEventTimeoutMs: t.firstEventMs } : {}),
    ...(t.idleMs !== undefined ? { idleTimeoutMs: t.idleMs } : {}),
    ...(t.turnMs !== undefined ? { turnTimeoutMs: t.turnMs } : {}),
  };
}
