/**
 * The parts of one daemon and the state they share, built once from the options:
 * what the route handlers, the turn runner and the shutdown all work with.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Guests } from "./guests.js";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { OpencodeAdapter } from "../adapter/adapter.js";
import { FileSessionStore, MemorySessionStore, type SessionStore } from "../adapter/sessions.js";
import { FanoutSink } from "../sink/fanout.js";
import { BearerAuth, RequestGuard } from "./auth.js";
import { HttpError } from "./http.js";
import { Journal } from "./journal.js";
import { Metrics, type SinkMetric } from "./metrics.js";
import { parseDaemonOptions, type DaemonOptions, type DaemonOptionsInput } from "./options.js";
import { AdapterPool, type TurnAdapter } from "./pool.js";
import { ReplyPath } from "./reply-path.js";
import { SubscriberBudget } from "./sse.js";
import { PgStore } from "./store/postgres.js";
import { SharedTurns } from "./store/shared.js";
import { TurnStore } from "./turns.js";
import type { OpencodeTarget, Upstream } from "./upstream.js";

export class DaemonCore {
  readonly options: DaemonOptions;
  /** The host's logger (adapters add their own component); `log` is the daemon's child of it. */
  readonly rootLog: Logger;
  readonly log: Logger;
  readonly upstream: Upstream;
  readonly outputs: FanoutSink;
  readonly auth: BearerAuth | undefined;
  readonly guard: RequestGuard;
  readonly store: TurnStore;
  readonly pool: AdapterPool;
  readonly metrics = new Metrics();
  readonly budget: SubscriberBudget;
  readonly journal: Journal | undefined;
  /** With `store`: the turns shared with other daemons in PostgreSQL (then there is no journal). */
  readonly shared: SharedTurns | undefined;
  readonly replies: ReplyPath;
  /** Session keys (`session_key`) → sessions, kept in --state-dir/sessions.json when there is one. Keys are scoped by directory. */
  readonly sessionStore: SessionStore;
  connections = 0;
  /** Connections not yet authenticated, bounded in number and time (none without a token). */
  readonly guests: Guests | undefined;
  /** Trace ids between validation and the turn's record (its session is being created). */
  readonly reserved = new Set<string>();
  /** Stream reconnects seen per shared stats object (adapters of one stream share it). */
  private readonly seenReconnects = new WeakMap<object, number>();
  reconnects = 0;
  readonly startedAt = Date.now();
  /** Set when shutdown begins: no new turns. */
  draining = false;

  constructor(readonly input: DaemonOptionsInput) {
    this.options = parseDaemonOptions(input);
    this.rootLog = input.logger ?? pino({ enabled: false });
    this.log = this.rootLog.child({ component: "daemon" });
    this.upstream = input.upstream;
    // Failures out of an output's lane, and the end of a turn's lanes, go to the reply path (built below).
    this.outputs = new FanoutSink(input.outputs ?? [], {
      onFailure: (err, m) => this.replies.outputFailed(err, m),
      onIdle: (traceId) => this.replies.released(traceId),
    });
    this.auth = this.options.token === undefined ? undefined : new BearerAuth(this.options.token);
    this.guests = this.auth === undefined ? undefined : new Guests();
    this.guard = new RequestGuard(this.options.allowHosts, this.options.allowOrigins);
    this.budget = new SubscriberBudget(this.options.maxSubscribers, this.options.maxSubscribersPerTurn, this.options.maxSubscriberBytesTotal);
    this.store = new TurnStore(this.options);
    if (this.options.store !== undefined) {
      const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
      this.shared = new SharedTurns(this, new PgStore(this.options.store, { owner, leaseMs: this.options.leaseMs }));
    }
    this.sessionStore = this.shared ? this.shared.pg.sessions() : this.options.stateDir !== undefined ? new FileSessionStore(join(this.options.stateDir, "sessions.json")) : new MemorySessionStore();
    if (this.sessionStore instanceof FileSessionStore && this.sessionStore.recovered) this.log.warn(this.sessionStore.recovered);
    if (this.options.stateDir !== undefined && this.shared === undefined) {
      this.journal = new Journal(this.options.stateDir, {
        keepFinished: this.options.maxTurns,
        maxBytes: this.options.journalMaxBytes,
        syncIntervalMs: 200,
        // One write(2) per tick for the replies, flushed before any leaves (SSE: beforeWrite; outputs: ReplyPath).
        coalesce: true,
        onError: (err) =>
          this.log.error({ err, file: this.journal?.file }, "the journal cannot be written: turns go on, but a crash from now on may lose them"),
      });
    }
    this.replies = new ReplyPath(this.store, this.journal ?? this.shared, this.metrics, this.outputs, this.log);
    // An ACP upstream bounds its idle agent processes itself (each is a whole agent).
    this.pool = new AdapterPool(Math.min(this.upstream.maxIdle ?? Infinity, this.options.maxIdleSessions), (adapter) => this.countReconnects(adapter));
    this.upstream.attach?.(this);
  }

  makeAdapter(target: OpencodeTarget, directory: string): OpencodeAdapter {
    return new OpencodeAdapter(
      {
        ...this.input.adapter,
        baseUrl: target.baseUrl,
        directory,
        username: target.username,
        password: target.password,
        ...(target.line !== undefined ? { line: target.line } : {}),
        logger: this.rootLog,
        onRetry: (s) => {
          this.metrics.providerRetries++;
          this.input.adapter?.onRetry?.(s);
        },
      },
      this.replies.sink,
    );
  }

  countReconnects(adapter: TurnAdapter): void {
    if (!(adapter instanceof OpencodeAdapter)) return;
    const stats = adapter.streamStats;
    const seen = this.seenReconnects.get(stats) ?? 0;
    if (stats.reconnects > seen) {
      this.reconnects += stats.reconnects - seen;
      this.seenReconnects.set(stats, stats.reconnects);
    }
  }

  sinkMetrics(): SinkMetric[] {
    return this.outputs.entries().map(({ name, sink, counters }) => {
      // A sink that counts for itself knows best (the webhook: acknowledged, not merely queued).
      const s = sink.stats?.() ?? { delivered: counters.accepted, retries: 0, failures: counters.failures };
      return { sink: name, delivered: s.delivered, retries: s.retries, failures: s.failures };
    });
  }

  unavailable(): HttpError {
    return new HttpError(503, "the bridge is shutting down and takes no new turns", undefined, { "retry-after": "5" });
  }
}
