/**
 * The bridge as an HTTP daemon (node:http, no framework). See docs/daemon.md.
 *
 *   POST /v1/turns                       start a turn → 202 {trace_id, session_id}
 *   GET  /v1/turns/:trace_id/events      the turn as Server-Sent Events, from seq 0
 *   POST /v1/turns/:trace_id/abort       abort a running turn
 *   GET  /v1/turns                       turns in flight and recent ones
 *   GET  /v1/turns/:trace_id             one turn, with its pending requests
 *   POST /v1/turns/:trace_id/requests/:request_id   answer a permission or question
 *   GET  /console                        the operator's web page (src/daemon/console.ts)
 *   GET  /healthz                        bridge and OpenCode status (no token needed)
 *   GET  /metrics                        Prometheus text
 *
 * Every turn's replies go to the event subscribers and to the configured
 * outputs (webhook, JSON Lines …). Turns run in the background, one adapter per
 * OpenCode session: turns of one session are serialized, sessions run in parallel.
 */
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pino, { type Logger } from "pino";
import { OpencodeAdapter } from "../adapter/adapter.js";
import type { BridgeError } from "../adapter/errors.js";
import { OpencodeHttp } from "../adapter/http.js";
import type { Reply } from "../codec/reply.js";
import type { RequestAnswer, RequestEvent } from "../codec/requests.js";
import { FanoutSink } from "../sink/fanout.js";
import type { SinkObject } from "../sink/types.js";
import { BearerAuth, RequestGuard } from "./auth.js";
import { HttpError, issuesOf, readJson, requireJsonContentType, sendError, sendJson, summarizeIssues } from "./http.js";
import { CONSOLE_HTML } from "./console.js";
import { Metrics, type SinkMetric } from "./metrics.js";
import { AnswerSchema, parseDaemonOptions, requestHash, TurnRequestSchema, type DaemonOptions, type DaemonOptionsInput, type TurnRequest } from "./options.js";
import { AdapterPool } from "./pool.js";
import { Journal } from "./journal.js";
import { defaultTitle, FileSessionStore, MemorySessionStore, SessionKeys, type SessionStore } from "../adapter/sessions.js";
import { OutputLanes } from "./output-lanes.js";
import { recoverJournal, resumeRecovered, type RecoveryContext } from "./recovery.js";
import { streamTurn, SubscriberBudget } from "./sse.js";
import { TurnStore, type TurnOutcome, type TurnRecord } from "./turns.js";
import type { OpencodeTarget, Upstream } from "./upstream.js";

const BRIDGE_VERSION = readVersion();

function readVersion(): string {
  try {
    // src/daemon and dist/daemon both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: readonly string[]) => Promise<void> | void;
interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Partial<Record<"GET" | "POST", Handler>>>;
}

const delay = (ms: number) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, Math.max(0, ms));
    t.unref();
  });

/** Waits for `p` at most until `deadline` (performance.now() ms); resolves whether it settled in time. */
/** Replies of one turn that may wait for the outputs before the turn itself waits (docs/daemon.md, the memory bound). */
const OUTPUT_LAG = 10_000;

const within = (p: Promise<unknown>, deadline: number): Promise<boolean> =>
  Promise.race([p.then(
    () => true,
    () => true,
  ), delay(deadline - performance.now()).then(() => false)]);

/** What a bounded shutdown did not finish, for the log and /metrics. */
export interface ShutdownReport {
  /** Turns that had not settled when the deadline came (the journal keeps them for the next start). */
  turnsUnsettled: number;
  /** Steps cut short: "turns", "adapters", "outputs", "listener", "opencode". */
  stepsCutShort: string[];
}

export class BridgeDaemon {
  readonly options: DaemonOptions;
  /** The host's logger (adapters add their own component); `log` is the daemon's child of it. */
  private readonly rootLog: Logger;
  private readonly log: Logger;
  private readonly upstream: Upstream;
  private readonly outputs: FanoutSink;
  private readonly lanes: OutputLanes<Reply | RequestEvent>;
  private readonly auth: BearerAuth | undefined;
  private readonly guard: RequestGuard;
  private readonly store: TurnStore;
  private readonly pool: AdapterPool;
  private readonly metrics = new Metrics();
  private readonly budget: SubscriberBudget;
  private readonly journal: Journal | undefined;
  /** Session keys (`session_key`) → sessions, kept in --state-dir/sessions.json when there is one. Keys are scoped by directory. */
  private readonly sessionStore: SessionStore;
  /** Turns whose output failure was logged (once per turn). */
  private readonly outputErrorLogged = new WeakSet<TurnRecord>();
  private connections = 0;
  /** When a client last listed the turns (GET /v1/turns: the console polls it). */
  private lastListed = -Infinity;
  /** Set once a shutdown has ended: what it gave up. */
  shutdownReport: ShutdownReport | undefined;
  private readonly routes: readonly Route[];
  /** Trace ids between validation and the turn's record (its session is being created). */
  private readonly reserved = new Set<string>();
  /** Stream reconnects seen per shared stats object (adapters of one stream share it). */
  private readonly seenReconnects = new WeakMap<object, number>();
  private reconnects = 0;
  private readonly startedAt = Date.now();
  private server: Server | undefined;
  private draining = false;
  private stopping: Promise<void> | undefined;
  private resolveStopped!: () => void;
  /** Resolves once shutdown has finished. */
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(private readonly input: DaemonOptionsInput) {
    this.options = parseDaemonOptions(input);
    this.rootLog = input.logger ?? pino({ enabled: false });
    this.log = this.rootLog.child({ component: "daemon" });
    this.upstream = input.upstream;
    this.outputs = new FanoutSink(input.outputs ?? []);
    this.lanes = new OutputLanes((r) => this.toOutputs(r), OUTPUT_LAG);
    this.auth = this.options.token === undefined ? undefined : new BearerAuth(this.options.token);
    this.guard = new RequestGuard(this.options.allowHosts, this.options.allowOrigins);
    this.budget = new SubscriberBudget(this.options.maxSubscribers, this.options.maxSubscribersPerTurn, this.options.maxSubscriberBytesTotal);
    this.sessionStore = this.options.stateDir !== undefined ? new FileSessionStore(join(this.options.stateDir, "sessions.json")) : new MemorySessionStore();
    if (this.sessionStore instanceof FileSessionStore && this.sessionStore.recovered) this.log.warn(this.sessionStore.recovered);
    if (this.options.stateDir !== undefined) {
      this.journal = new Journal(this.options.stateDir, {
        keepFinished: this.options.maxTurns,
        maxBytes: this.options.journalMaxBytes,
        syncIntervalMs: 200,
        onError: (err) =>
          this.log.error({ err: err.message, file: this.journal?.file }, "the journal cannot be written: turns go on, but a crash from now on may lose them"),
      });
    }
    for (const { name, sink } of this.outputs.entries()) {
      sink.bind?.({
        turnIdOf: (r) => this.lanes.turnIdOf(r.trace_id) ?? this.store.get(r.trace_id)?.turnId,
        acknowledged: (r) => {
          const id = this.lanes.turnIdOf(r.trace_id) ?? this.store.get(r.trace_id)?.turnId;
          if (id !== undefined) this.journal?.ack(id, name, r.seq);
        },
      });
    }
    this.store = new TurnStore({ maxTurns: this.options.maxTurns, maxReplyBytesPerTurn: this.options.maxReplyBytesPerTurn });
    this.pool = new AdapterPool(
      (target, directory) => this.makeAdapter(target, directory),
      this.options.maxIdleSessions,
      (adapter) => this.countReconnects(adapter),
    );
    this.routes = [
      { pattern: /^\/v1\/turns$/, methods: { POST: (req, res) => this.postTurn(req, res), GET: (req, res) => this.getTurns(req, res) } },
      { pattern: /^\/v1\/turns\/([^/]+)\/events$/, methods: { GET: (req, res, p) => this.getEvents(req, res, p) } },
      { pattern: /^\/v1\/turns\/([^/]+)\/abort$/, methods: { POST: (req, res, p) => this.postAbort(req, res, p) } },
      { pattern: /^\/v1\/turns\/([^/]+)\/requests\/([^/]+)$/, methods: { POST: (req, res, p) => this.postAnswer(req, res, p) } },
      { pattern: /^\/v1\/turns\/([^/]+)$/, methods: { GET: (req, res, p) => this.getTurn(req, res, p) } },
      { pattern: /^\/metrics$/, methods: { GET: (req, res) => this.getMetrics(req, res) } },
    ];
  }

  /** Listens; resolves with the address. */
  async start(): Promise<{ url: string; host: string; port: number }> {
    if (this.auth === undefined) {
      this.log.warn("running without a token (--no-token): every local process, and every user of this machine, can start turns");
    }
    const recovery = this.recoveryContext();
    const recovered = recovery ? recoverJournal(recovery) : [];
    const server = createServer((req, res) => void this.handle(req, res));
    server.maxConnections = this.options.maxConnections;
    server.on("connection", (socket) => {
      this.connections++;
      socket.once("close", () => this.connections--);
    });
    // These bound receiving a request (slow clients), not answering it: an event
    // stream stays open for the length of its turn.
    server.requestTimeout = 60_000;
    server.headersTimeout = 30_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    const url = `http://${host}:${addr.port}`;
    this.log.info({ url, opencode: this.upstream.mode, auth: this.auth ? "bearer" : "none", state_dir: this.options.stateDir }, "listening");
    if (recovery) void resumeRecovered(recovery, recovered);
    return { url, host: addr.address, port: addr.port };
  }

  /**
   * Graceful shutdown: new turns get 503; running turns get `shutdownGraceMs` to
   * finish, then are aborted; adapters and outputs are flushed and closed, the
   * listener is closed and an owned OpenCode is stopped. Idempotent.
   */
  shutdown(reason = "shutdown"): Promise<void> {
    this.stopping ??= this.doShutdown(reason).finally(() => this.resolveStopped());
    return this.stopping;
  }

  /**
   * For a second signal: the process is about to exit. Logs what is given up;
   * the journal (synced here) keeps it for the next start. An owned OpenCode is killed.
   */
  exitNow(reason: string): void {
    const running = this.store.running();
    this.log.warn(
      { reason, turns_running: running.length, trace_ids: running.slice(0, 20).map((t) => t.traceId), outputs: this.sinkMetrics() },
      "exiting now: running turns and unacknowledged replies are left to the journal",
    );
    try {
      this.journal?.close();
    } catch {
      // Exiting anyway; what was written is in the file.
    }
    this.upstream.kill?.();
  }

  /** Aborts every running turn now. */
  abortAll(reason: string): void {
    for (const t of this.store.running()) {
      this.log.warn({ trace_id: t.traceId, reason }, "aborting the turn");
      t.controller.abort();
    }
  }

  // ---- request handling ---------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on("finish", () => this.metrics.request(res.statusCode));
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    try {
      // Before anything else, even /healthz: forged browser requests and DNS rebinding get nothing.
      const origin = req.headers.origin;
      const refusal = this.guard.refusal(req.headers.host, origin);
      if (refusal !== undefined) throw new HttpError(403, refusal);
      if (origin !== undefined) {
        res.setHeader("access-control-allow-origin", origin);
        res.setHeader("vary", "Origin");
      }
      if (req.method === "OPTIONS" && origin !== undefined) {
        // The CORS preflight of an allowed origin (a JSON POST or an Authorization header needs one).
        res.writeHead(204, {
          "access-control-allow-methods": "GET, POST",
          "access-control-allow-headers": "authorization, content-type, last-event-id",
          "access-control-max-age": "600",
        });
        res.end();
        return;
      }
      if (path === "/healthz") {
        if (req.method !== "GET") throw new HttpError(405, `${req.method} is not allowed on /healthz`, { allow: ["GET"] }, { allow: "GET" });
        await this.getHealth(res);
        return;
      }
      if (path === "/console") {
        // The page holds no data: what it shows it fetches with the token. Never framed (its buttons answer requests).
        if (req.method !== "GET") throw new HttpError(405, `${req.method} is not allowed on /console`, { allow: ["GET"] }, { allow: "GET" });
        res.writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "x-frame-options": "DENY",
          "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
          "referrer-policy": "no-referrer",
        });
        res.end(CONSOLE_HTML);
        return;
      }
      // Authentication comes before routing: without the token nothing about the API is revealed.
      if (this.auth && !this.auth.accepts(req.headers.authorization)) {
        throw new HttpError(
          401,
          "missing or wrong bearer token",
          "send Authorization: Bearer <token> (the daemon's --token or BRIDGE_TOKEN)",
          { "www-authenticate": 'Bearer realm="opencode-bridge"' },
        );
      }
      for (const route of this.routes) {
        const m = route.pattern.exec(path);
        if (!m) continue;
        const handler = route.methods[req.method as "GET" | "POST"];
        if (!handler) {
          const allow = Object.keys(route.methods);
          throw new HttpError(405, `${req.method} is not allowed on ${path}`, { allow }, { allow: allow.join(", ") });
        }
        const params = m.slice(1).map((p) => {
          try {
            return decodeURIComponent(p);
          } catch {
            throw new HttpError(400, "the path is not valid percent-encoding", { path });
          }
        });
        await handler(req, res, params);
        return;
      }
      throw new HttpError(404, `no route ${path}`, {
        routes: [
          "POST /v1/turns",
          "GET /v1/turns",
          "GET /v1/turns/:trace_id",
          "GET /v1/turns/:trace_id/events",
          "POST /v1/turns/:trace_id/abort",
          "POST /v1/turns/:trace_id/requests/:request_id",
          "GET /healthz",
          "GET /metrics",
          "GET /console",
        ],
      });
    } catch (err) {
      if (err instanceof HttpError) {
        sendError(res, err);
        return;
      }
      this.log.error({ err: (err as Error)?.message, path }, "request failed");
      sendError(res, new HttpError(500, "internal error", (err as Error)?.message));
    }
  }

  private async postTurn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.draining) throw this.unavailable();
    requireJsonContentType(req);
    const body = await readJson(req, this.options.maxBodyBytes);
    const parsed = TurnRequestSchema.safeParse(body);
    if (!parsed.success) throw new HttpError(400, `invalid turn request: ${summarizeIssues(parsed.error)}`, issuesOf(parsed.error));
    const turn = parsed.data;
    const active = this.store.running().length + this.reserved.size;
    if (active >= this.options.maxActiveTurns) {
      throw new HttpError(429, `too many turns in progress (the limit is ${this.options.maxActiveTurns})`, { limit: this.options.maxActiveTurns }, { "retry-after": "1" });
    }
    const traceId = turn.trace_id ?? randomUUID();
    const hash = requestHash(turn);
    const existing = this.store.get(traceId);
    if (existing && existing.requestHash === hash) {
      // The same request again (a host retrying after a lost answer): the turn it started, not a second prompt
      // (answered once the turn's record is synced, like the first answer).
      await this.journal?.synced();
      sendJson(res, 200, { trace_id: traceId, session_id: existing.sessionId, events: `/v1/turns/${encodeURIComponent(traceId)}/events`, existing: true });
      return;
    }
    if (existing || this.reserved.has(traceId)) {
      throw new HttpError(
        409,
        existing
          ? `trace_id ${traceId} is already in use by a turn with a different request`
          : `trace_id ${traceId} is being started by another request right now; retry to get its turn`,
        { trace_id: traceId },
      );
    }
    const directory = turn.directory ?? this.options.directory;
    if (!isDirectory(directory)) throw new HttpError(400, `directory ${directory} does not exist or is not a directory`, { directory });

    this.reserved.add(traceId);
    let record: TurnRecord;
    let target: OpencodeTarget;
    try {
      try {
        target = await this.upstream.target();
      } catch (err) {
        throw new HttpError(502, "OpenCode is not available", (err as Error).message);
      }
      const sessionId = await this.resolveSession(target, directory, turn);
      // Shutdown may have begun while the session was being created.
      if (this.draining) throw this.unavailable();
      record = this.store.create(traceId, sessionId, directory, performance.now());
      record.info = {
        text: turn.text.length > 300 ? `${turn.text.slice(0, 300)}…` : turn.text,
        ...(turn.permission ? { permission: turn.permission } : {}),
        ...(turn.question ? { question: turn.question } : {}),
      };
      record.requestHash = hash;
      // Journaled (and synced) before the 202: an accepted turn outlives a crash. One
      // fdatasync for all the turns accepted in this turn of the event loop.
      this.journal?.turn(record.turnId, traceId, sessionId, directory, Date.now(), hash);
      await this.journal?.synced();
    } finally {
      this.reserved.delete(traceId);
    }
    this.run(record, turn, target);
    this.log.info({ trace_id: traceId, session_id: record.sessionId }, "turn accepted");
    sendJson(res, 202, {
      trace_id: traceId,
      session_id: record.sessionId,
      events: `/v1/turns/${encodeURIComponent(traceId)}/events`,
    });
  }

  /** The session to run in: the one named (checked to exist), the key's, or a new one. */
  private async resolveSession(target: OpencodeTarget, directory: string, turn: TurnRequest): Promise<string> {
    const http = new OpencodeHttp({ ...target, directory, requestTimeoutMs: 15_000 });
    const sessionId = turn.session_id;
    try {
      if (turn.session_key !== undefined) {
        const keys = new SessionKeys(http, this.sessionStore);
        const opts = { ...(turn.title ? { title: turn.title } : {}), ...(turn.model ? { model: turn.model } : {}), ...(turn.agent ? { agent: turn.agent } : {}) };
        return (await keys.ensure(keyIn(directory, turn.session_key), { title: defaultTitle(turn.session_key), ...opts })).sessionId;
      }
      if (sessionId === undefined) return await http.createSession();
      const r = await http.call("GET", `/session/${encodeURIComponent(sessionId)}`, { okStatuses: [404] });
      if (r.status === 404) throw new HttpError(404, `OpenCode has no session ${sessionId}`, { session_id: sessionId, directory });
      return sessionId;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      const e = err as BridgeError;
      throw new HttpError(502, sessionId === undefined ? "could not create an OpenCode session" : "could not look up the OpenCode session", {
        code: e.code,
        reason: e.message,
      });
    }
  }

  /** Runs the turn in the background; its record ends when the adapter's turn has ended. */
  private run(record: TurnRecord, turn: TurnRequest, target: OpencodeTarget): void {
    const lease = this.pool.acquire(target, record.directory, record.sessionId);
    record.answerer = (id, answer) => lease.adapter.answer(id, answer);
    const ended = (outcome: TurnOutcome) => this.endTurn(record, outcome, turn.session_key);
    const input = turn.parts ? [{ type: "text" as const, text: turn.text }, ...turn.parts] : turn.text;
    lease.adapter
      .prompt(input, {
        traceId: record.traceId,
        sessionId: record.sessionId,
        signal: record.controller.signal,
        model: turn.model,
        agent: turn.agent,
        system: turn.system,
        ...(turn.permission ? { permission: turn.permission } : {}),
        ...(turn.question ? { question: turn.question } : {}),
        onRequest: () => this.nobodyToAnswer(record),
        noReply: turn.no_reply,
        tools: turn.tools,
        variant: turn.variant,
        ...(turn.timeouts
          ? { timeouts: { firstEventMs: turn.timeouts.first_event_ms, idleMs: turn.timeouts.idle_ms, turnMs: turn.timeouts.turn_ms } }
          : {}),
      })
      .then(
        (result) => ended(result.status === "final" ? "final" : (result.error?.code ?? "internal")),
        (err: unknown) => {
          // prompt() rejects only for a bridge bug (bad options reaching it); the adapter
          // has already delivered the turn's terminal error reply.
          this.log.error({ trace_id: record.traceId, err: (err as Error)?.message }, "the adapter refused the turn");
          ended("internal");
        },
      )
      .finally(() => lease.release());
  }

  /** A turn has ended: counted, journaled, and its subscribers told. */
  private endTurn(record: TurnRecord, outcome: TurnOutcome, sessionKey?: string): void {
    if (sessionKey !== undefined) {
      const known = this.sessionStore.get(keyIn(record.directory, sessionKey));
      void Promise.resolve(known).then((k) => {
        if (k?.sessionId === record.sessionId) return this.sessionStore.set(keyIn(record.directory, sessionKey), { ...k, lastOutcome: outcome });
      }).catch((err: unknown) => this.log.warn({ err: (err as Error)?.message }, "could not record how a keyed session's turn ended"));
    }
    this.metrics.turnEnded(outcome);
    this.journal?.end(record.turnId, outcome);
    this.store.finish(record, outcome);
    this.log.debug({ trace_id: record.traceId, session_id: record.sessionId, outcome, replies: record.total }, "turn record closed");
  }

  /** What recovery after a restart works with (none without a state directory). */
  private recoveryContext(): RecoveryContext | undefined {
    if (!this.journal) return undefined;
    return {
      journal: this.journal,
      store: this.store,
      outputs: this.outputs,
      upstream: this.upstream,
      log: this.log,
      deliver: (reply) => this.recordSink.deliver(reply) as Promise<void>,
      end: (record, outcome) => this.endTurn(record, outcome),
    };
  }

  private getEvents(req: IncomingMessage, res: ServerResponse, [traceId]: readonly string[]): Promise<void> {
    const record = this.store.get(traceId ?? "");
    if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId, retained_turns: this.options.maxTurns });
    const refusal = this.budget.refusal(record);
    if (refusal !== undefined) throw new HttpError(429, `too many event subscribers: ${refusal}`, undefined, { "retry-after": "5" });
    return streamTurn(req, res, this.store, record, {
      heartbeatMs: this.options.heartbeatMs,
      maxBufferedBytes: this.options.maxSubscriberBufferBytes,
      drainTimeoutMs: this.options.subscriberDrainTimeoutMs,
      budget: this.budget,
      log: this.log,
    });
  }

  /**
   * Under `ask`, a request waits for a client's answer over HTTP, unless nobody
   * could give one: no event subscriber of the turn, no output (webhook, JSON
   * Lines) that carries requests to a host, no client that listed turns in the
   * last minute (the console polls). Then it is rejected at once, saying why.
   */
  private nobodyToAnswer(record: TurnRecord): RequestAnswer | undefined {
    const watched = performance.now() - this.lastListed < 60_000;
    if (record.subscribers.size > 0 || this.outputs.takesRequests || watched) return undefined;
    return {
      reply: "reject",
      message: "opencode-bridge's policy is \"ask\" but no client of the daemon could answer (no event subscriber of the turn, no output, no console open)",
    };
  }

  private getTurns(_req: IncomingMessage, res: ServerResponse): void {
    this.lastListed = performance.now();
    const turns = this.store.all();
    sendJson(res, 200, { turns: turns.map((t) => t.summary()) });
  }

  private getTurn(_req: IncomingMessage, res: ServerResponse, [traceId]: readonly string[]): void {
    const record = this.store.get(traceId ?? "");
    if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId });
    sendJson(res, 200, record.summary());
  }

  private async postAnswer(req: IncomingMessage, res: ServerResponse, [traceId, requestId]: readonly string[]): Promise<void> {
    requireJsonContentType(req);
    const record = this.store.get(traceId ?? "");
    if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId });
    const body = await readJson(req, this.options.maxBodyBytes);
    const parsed = AnswerSchema.safeParse(body);
    if (!parsed.success) throw new HttpError(400, `invalid answer: ${summarizeIssues(parsed.error)}`, issuesOf(parsed.error));
    const id = requestId ?? "";
    if (!record.pending.has(id)) {
      if (record.requestIds.has(id)) throw new HttpError(409, `request ${id} has already been answered`, { trace_id: record.traceId, request_id: id });
      throw new HttpError(404, `turn ${record.traceId} has no request ${id}`, { trace_id: record.traceId, request_id: id });
    }
    const answerer = record.answerer;
    if (answerer === undefined) throw new HttpError(409, `turn ${record.traceId} has ended`, { trace_id: record.traceId, request_id: id });
    const outcome = await answerer(id, parsed.data);
    if (outcome.status === "answered") {
      this.log.info({ trace_id: record.traceId, request_id: id }, "request answered over HTTP");
      sendJson(res, 200, { trace_id: record.traceId, request_id: id, status: "answered" });
      return;
    }
    const status = outcome.status === "invalid" ? 400 : outcome.status === "unknown" ? 404 : 409;
    throw new HttpError(status, outcome.message, { trace_id: record.traceId, request_id: id });
  }

  private postAbort(req: IncomingMessage, res: ServerResponse, [traceId]: readonly string[]): void {
    requireJsonContentType(req, true);
    const record = this.store.get(traceId ?? "");
    if (!record) throw new HttpError(404, `no turn ${traceId} (unknown, or no longer retained)`, { trace_id: traceId });
    if (record.finished) throw new HttpError(409, `turn ${traceId} has already ended`, { trace_id: traceId, outcome: record.outcome });
    this.log.info({ trace_id: record.traceId }, "abort requested");
    record.controller.abort();
    sendJson(res, 202, { trace_id: record.traceId, session_id: record.sessionId, status: "aborting" });
  }

  private async getHealth(res: ServerResponse): Promise<void> {
    const opencode = await this.upstream.health(this.options.healthTimeoutMs);
    const status = this.draining ? "draining" : opencode.healthy && opencode.supported !== false ? "ok" : "degraded";
    sendJson(res, status === "ok" ? 200 : 503, {
      status,
      bridge: {
        version: BRIDGE_VERSION,
        uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
        turns_in_flight: this.store.running().length,
        turns_retained: this.store.size,
        draining: this.draining,
      },
      opencode,
    });
  }

  private async getMetrics(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    const opencode = await this.upstream.health(this.options.healthTimeoutMs);
    for (const a of this.pool.adapters()) this.countReconnects(a);
    const text = this.metrics.render({
      turnsInFlight: this.store.running().length,
      turnsRetained: this.store.size,
      sessionsCached: this.pool.size,
      sinks: this.sinkMetrics(),
      streamReconnects: this.reconnects,
      opencodeRestarts: this.upstream.restarts(),
      opencodeUp: opencode.healthy,
      subscribers: this.budget.subscribers,
      subscriberBytes: this.budget.bytes,
      subscribersDropped: this.budget.dropped,
      connections: this.connections,
      journalFailures: this.journal?.failures,
      limits: {
        max_active_turns: this.options.maxActiveTurns,
        retain_turns: this.options.maxTurns,
        max_reply_bytes_per_turn: this.options.maxReplyBytesPerTurn,
        max_subscribers: this.options.maxSubscribers,
        max_subscribers_per_turn: this.options.maxSubscribersPerTurn,
        max_subscriber_buffer_bytes: this.options.maxSubscriberBufferBytes,
        max_subscriber_bytes_total: this.options.maxSubscriberBytesTotal,
        subscriber_drain_timeout_seconds: this.options.subscriberDrainTimeoutMs / 1000,
        max_connections: this.options.maxConnections,
        max_body_bytes: this.options.maxBodyBytes,
        shutdown_grace_seconds: this.options.shutdownGraceMs / 1000,
        close_timeout_seconds: this.options.closeTimeoutMs / 1000,
      },
    });
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" });
    res.end(text);
  }

  // ---- turns, sinks, metrics --------------------------------------------------

  /**
   * What every adapter delivers to: the journal, the turn's record (and its
   * subscribers) and metrics at once, then the outputs through the turn's lane
   * (./output-lanes.ts): a slow webhook does not pace the turn or its SSE
   * subscribers, until its lane holds `OUTPUT_LAG` replies.
   */
  private readonly recordSink: SinkObject = {
    request: (evt: RequestEvent) => {
      this.store.request(evt);
      // In the turn's lane, so the outputs see it in its place among the replies.
      return this.lanes.push(evt, this.store.get(evt.trace_id)?.turnId);
    },
    deliver: (reply: Reply) => {
      // In the journal before anywhere else: nothing reaches a subscriber or an output that a crash could forget.
      const known = this.store.get(reply.trace_id);
      if (known && !known.finished) this.journal?.reply(known.turnId, reply);
      const record = this.store.add(reply);
      this.metrics.reply(reply);
      if (record && reply.kind === "delta" && !record.sawDelta) {
        record.sawDelta = true;
        this.metrics.timeToFirstDelta.observe((performance.now() - record.acceptedAt) / 1000);
      }
      return this.lanes.push(reply, known?.turnId);
    },
  };

  /**
   * Hands one reply of a lane to every output: undefined when they took it
   * synchronously (the webhook queues it), else a promise; never throws or rejects
   * (a failure is counted by the output and logged once per turn).
   */
  private readonly toOutputs = (reply: Reply | RequestEvent): void | Promise<void> => {
    let pending: void | Promise<void>;
    try {
      pending = "type" in reply ? this.outputs.request(reply) : this.outputs.deliver(reply);
    } catch (err) {
      return this.outputFailed(reply, err);
    }
    if (pending === undefined) return undefined;
    return pending.then(undefined, (err: unknown) => this.outputFailed(reply, err));
  };

  private outputFailed(reply: Reply | RequestEvent, err: unknown): void {
    const record = this.store.get(reply.trace_id);
    if (record && !this.outputErrorLogged.has(record)) {
      this.outputErrorLogged.add(record);
      this.log.warn({ trace_id: reply.trace_id, seq: "seq" in reply ? reply.seq : undefined, err: (err as Error).message }, "an output failed to take a reply (counted; the turn goes on)");
    }
  }

  private makeAdapter(target: OpencodeTarget, directory: string): OpencodeAdapter {
    return new OpencodeAdapter(
      {
        ...this.input.adapter,
        baseUrl: target.baseUrl,
        directory,
        username: target.username,
        password: target.password,
        logger: this.rootLog,
        onRetry: (s) => {
          this.metrics.providerRetries++;
          this.input.adapter?.onRetry?.(s);
        },
      },
      this.recordSink,
    );
  }

  private countReconnects(adapter: OpencodeAdapter): void {
    const stats = adapter.streamStats;
    const seen = this.seenReconnects.get(stats) ?? 0;
    if (stats.reconnects > seen) {
      this.reconnects += stats.reconnects - seen;
      this.seenReconnects.set(stats, stats.reconnects);
    }
  }

  private sinkMetrics(): SinkMetric[] {
    return this.outputs.entries().map(({ name, sink, counters }) => {
      // A sink that counts for itself knows best (the webhook: acknowledged, not merely queued).
      const s = sink.stats?.();
      if (s) return { sink: name, delivered: s.delivered, retries: s.retries, failures: s.failures };
      return { sink: name, delivered: counters.accepted, retries: 0, failures: counters.failures };
    });
  }

  private unavailable(): HttpError {
    return new HttpError(503, "the bridge is shutting down and takes no new turns", undefined, { "retry-after": "5" });
  }

  /**
   * Bounded: running turns get `shutdownGraceMs`; then everything else —
   * aborting what still runs, closing adapters and outputs (the webhook's own
   * close timeout), the listener, an owned OpenCode — shares `closeTimeoutMs`,
   * step by step, whatever peers do. What did not finish is counted and logged.
   */
  private async doShutdown(reason: string): Promise<void> {
    this.draining = true;
    const running = this.store.running();
    this.log.info({ reason, running: running.length, grace_ms: this.options.shutdownGraceMs, close_timeout_ms: this.options.closeTimeoutMs }, "shutting down");
    const report: ShutdownReport = { turnsUnsettled: 0, stepsCutShort: [] };
    const allDone = () => Promise.all(this.store.running().map((t) => t.done)).then(() => undefined);
    if (running.length > 0) await within(allDone(), performance.now() + this.options.shutdownGraceMs);
    const end = performance.now() + this.options.closeTimeoutMs;
    const step = async (name: string, p: Promise<unknown>, until = end) => {
      if (!(await within(p, until))) report.stepsCutShort.push(name);
    };
    if (this.store.running().length > 0) {
      this.abortAll(`still running after the ${this.options.shutdownGraceMs} ms shutdown grace`);
      await step("turns", allDone());
      report.turnsUnsettled = this.store.running().length;
    }
    await step("adapters", this.pool.closeAll());
    await step(
      "outputs",
      (async () => {
        try {
          // Replies still in the lanes go to the outputs first, for at most half of what is
          // left of the close timeout (a hung receiver must not use it all); then the outputs
          // close, and what a lane still holds reaches a closed output and counts as its failure.
          await within(this.lanes.idle(), performance.now() + (end - performance.now()) / 2);
          await this.outputs.close();
        } catch (err) {
          this.log.error({ err: (err as Error).message }, "an output failed to flush or close");
        }
      })(),
    );
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await within(closed, Math.min(end, performance.now() + 2_000));
      server.closeAllConnections();
      await step("listener", closed, performance.now() + 1_000);
    }
    // An owned OpenCode is stopped with TERM then KILL; it gets what is left of the budget, and at least a second.
    await step(
      "opencode",
      this.upstream.stop().catch((err: unknown) => this.log.error({ err: (err as Error).message }, "could not stop OpenCode")),
      Math.max(end, performance.now() + 1_000),
    );
    if (report.stepsCutShort.includes("opencode")) this.upstream.kill?.();
    try {
      this.journal?.close();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "could not close the journal");
    }
    this.shutdownReport = report;
    const outputs = this.sinkMetrics();
    if (report.stepsCutShort.length > 0) {
      // Gave up on what did not finish in time; the journal keeps unfinished turns and unacknowledged replies.
      this.log.warn({ turns_unsettled: report.turnsUnsettled, cut_short: report.stepsCutShort, outputs }, "stopped");
    } else {
      this.log.info({ outputs }, "stopped");
    }
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A session key as the daemon stores it: scoped by the turn's directory. */
const keyIn = (directory: string, key: string) => `${directory}\u0000${key}`;
