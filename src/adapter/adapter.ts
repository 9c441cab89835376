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
import { toSinkObject, type Sink, type SinkObject } from "../sink/types.js";
import { parseAdapterConfig, type AdapterConfig, type AdapterConfigInput } from "./config.js";
import type { AnswerOutcome } from "./requests.js";
import type { BridgeRequest, PermissionReply, RequestAnswer } from "../codec/requests.js";
import { BridgeError } from "./errors.js";
import type { EventHub } from "./event-hub.js";
import { acquireHub, hubKey } from "./shared-hub.js";
import { opencodeCapabilities, type BackendCapabilities } from "./capabilities.js";
import type { Dialect, PromptBody } from "./dialect.js";
import { createDialect } from "./line.js";
import { holdProcess } from "./keep-alive.js";
import { toWireParts, type PromptInputPart } from "./parts.js";
import { MemorySessionStore, SessionKeys, type SessionOptions } from "./sessions.js";
import type { Turn } from "./turn.js";
import type { TurnResult } from "./delivery.js";
import { endedTurn, startTurn, type TurnDeps } from "./start.js";
import { followTurn, type FollowedTurn } from "./follow.js";
import { SUPPORTED_VERSIONS, checkPrompt, isSupportedVersion, type AdapterOptions, type PromptOptions } from "./prompt-options.js";

export class OpencodeAdapter {
  /** What this backend can do (src/adapter/capabilities.ts): the same on both OpenCode lines. */
  readonly capabilities: BackendCapabilities = opencodeCapabilities();
  readonly config: AdapterConfig;
  private readonly sink: SinkObject;
  private readonly dialect: Dialect;
  private readonly hub: EventHub;
  private readonly releaseHub: () => void;
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly log: Logger;
  private version: Promise<string> | undefined;
  private closed = false;
  /** The turn running now (turns are serialized), for answers to its requests. */
  private current: Turn | undefined;
  private readonly keys: SessionKeys;
  /** What a turn borrows from the adapter (src/adapter/start.ts). */
  private readonly deps: TurnDeps;

  constructor(config: AdapterConfigInput, sink: Sink, private readonly options: AdapterOptions = {}) {
    this.config = parseAdapterConfig(config);
    this.sink = toSinkObject(sink);
    this.log = (this.config.logger ?? pino({ enabled: false })).child({ component: "adapter" });
    // The config names the target as the dialect reads it (baseUrl, directory, credentials, timeouts, line, frame cap).
    this.dialect = createDialect(this.config);
    const key = hubKey(this.config, this.dialect.authKey);
    // The hub reads its timeouts, reconnect policy, watchdog and clock from the config.
    const shared = acquireHub(this.dialect, key, { ...this.config, logger: this.log.child({ component: "event-hub" }) });
    this.hub = shared.hub;
    this.releaseHub = shared.release;
    this.keys = new SessionKeys(this.dialect, options.sessionStore ?? new MemorySessionStore());
    this.deps = {
      config: this.config,
      dialect: this.dialect,
      hub: this.hub,
      sink: this.sink,
      log: this.log,
      serverVersion: () => this.serverVersion(),
      current: (t) => void (this.current = t),
    };
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
    this.version ??= this.dialect.info().then(
      ({ version }) => {
        if (!isSupportedVersion(version)) {
          throw new BridgeError(
            "unsupported_version",
            `OpenCode ${version} is not supported: opencode-bridge drives 1.x servers from ${SUPPORTED_VERSIONS.min.join(".")} on, and 2.x`,
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
      model = checkPrompt(this.config, input, opts, this.closed);
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
        return p.ok ? startTurn(this.deps, this.keys, p.parts, opts, model) : p;
      })
      .then((r) => ("ok" in r ? this.refuse(r.err, opts) : r))
      .finally(release);
  }

  private async refuse(err: Error, opts: PromptOptions): Promise<never> {
    const traceId = opts.traceId ?? this.config.newTraceId();
    const code = err instanceof BridgeError ? err.replyCode : "internal";
    const log = this.log.child({ trace_id: traceId });
    await endedTurn(this.deps, this.config, traceId, opts.sessionId, log, code, `the bridge refused the turn: ${err.message}`).settled();
    throw err;
  }

  /** Follow a turn this process did not start (after a restart) to its end: src/adapter/follow.ts. */
  follow(turn: FollowedTurn, opts: PromptOptions = {}): Promise<TurnResult> {
    return this.queue.add(() => followTurn(this.deps, turn, opts)).finally(holdProcess());
  }

  /** Permission and question requests of the running turn that wait for an answer. */
  pendingRequests(): BridgeRequest[] {
    return this.current?.requests.list() ?? [];
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
    return turn.requests.answer(requestId, answer);
  }

  /** Close the adapter: waits for queued turns, then releases the shared event stream. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.onIdle();
    if (this.options.deleteSessionsOnClose) {
      for (const id of [...this.keys.created]) {
        await this.keys.delete(id).catch((err: unknown) => this.log.warn({ session_id: id, err }, "could not delete a session on close"));
      }
    }
    this.releaseHub();
    await this.sink.flush?.();
  }
}
