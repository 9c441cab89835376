/**
 * The daemon's counters and their Prometheus text exposition (format 0.0.4).
 * Everything is counted in-process; nothing here does I/O.
 */
import { REPLY_KINDS, type Reply, type ReplyKind } from "../codec/reply.js";
import type { DaemonCore } from "./core.js";

/** A histogram with fixed upper bounds (seconds), as Prometheus expects: cumulative buckets, sum and count. */
export class Histogram {
  private readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const i = this.bounds.findIndex((b) => v <= b);
    if (i >= 0) this.counts[i] = (this.counts[i] ?? 0) + 1;
  }

  /** Cumulative counts per bound, then +Inf. */
  cumulative(): { le: string; count: number }[] {
    let acc = 0;
    const out = this.bounds.map((b, i) => {
      acc += this.counts[i] ?? 0;
      return { le: String(b), count: acc };
    });
    out.push({ le: "+Inf", count: this.count });
    return out;
  }
}

/** What a sink reports: replies it delivered, retries, replies it failed to deliver. */
export interface SinkMetric {
  readonly sink: string;
  readonly delivered: number;
  readonly retries: number;
  readonly failures: number;
}

export class Metrics {
  private readonly turns = new Map<string, number>();
  private readonly replies = new Map<ReplyKind, number>(REPLY_KINDS.map((k) => [k, 0]));
  readonly timeToFirstDelta = new Histogram([0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]);
  providerRetries = 0;
  httpRequests = new Map<string, number>();

  turnEnded(outcome: string): void {
    this.turns.set(outcome, (this.turns.get(outcome) ?? 0) + 1);
  }

  reply(r: Reply): void {
    this.replies.set(r.kind, (this.replies.get(r.kind) ?? 0) + 1);
  }

  request(status: number): void {
    const key = String(status);
    this.httpRequests.set(key, (this.httpRequests.get(key) ?? 0) + 1);
  }

  /** The exposition, read at scrape time from the parts of `core` that own each value. */
  render(core: DaemonCore, opencodeUp: boolean): string {
    const o = core.options;
    const out: string[] = [];
    type Type = "counter" | "gauge" | "histogram";
    const sample = (name: string, labels: Record<string, string>, value: number) => {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      out.push(`${name}${l.length ? `{${l.join(",")}}` : ""} ${formatValue(value)}`);
    };
    /** A family: its HELP and TYPE, then one sample per [label value, value] (one unlabelled sample for a number). */
    const family = (name: string, type: Type, help: string, values: number | Iterable<readonly [string, number]>, label = "") => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      if (typeof values === "number") sample(name, {}, values);
      else for (const [v, n] of values) sample(name, { [label]: v }, n);
    };
    const sinkMetrics = core.sinkMetrics();
    const sinks = (pick: (m: SinkMetric) => number) => sinkMetrics.map((m) => [m.sink, pick(m)] as const);

    const outcomes = ["final", ...[...this.turns.keys()].filter((k) => k !== "final").sort()];
    family("opencode_bridge_turns_total", "counter", "Turns ended, by outcome: final, or the error reply's code.", outcomes.map((o) => [o, this.turns.get(o) ?? 0] as const), "outcome");
    family("opencode_bridge_turns_in_flight", "gauge", "Turns accepted and not yet ended.", core.store.running().length);
    family("opencode_bridge_turns_retained", "gauge", "Turns whose replies are kept for event subscribers.", core.store.size);
    family("opencode_bridge_sessions_cached", "gauge", "OpenCode sessions with a cached adapter.", core.pool.size);

    family("opencode_bridge_replies_total", "counter", "Replies produced, by kind.", REPLY_KINDS.map((k) => [k, this.replies.get(k) ?? 0] as const), "kind");

    family("opencode_bridge_time_to_first_delta_seconds", "histogram", "From accepting a turn to its first delta reply.", []);
    for (const b of this.timeToFirstDelta.cumulative()) {
      sample("opencode_bridge_time_to_first_delta_seconds_bucket", { le: b.le }, b.count);
    }
    sample("opencode_bridge_time_to_first_delta_seconds_sum", {}, this.timeToFirstDelta.sum);
    sample("opencode_bridge_time_to_first_delta_seconds_count", {}, this.timeToFirstDelta.count);

    family("opencode_bridge_sink_delivered_total", "counter", "Replies a sink delivered (for the webhook: acknowledged with 2xx).", sinks((m) => m.delivered), "sink");
    family("opencode_bridge_sink_retries_total", "counter", "Delivery attempts a sink repeated.", sinks((m) => m.retries), "sink");
    family("opencode_bridge_sink_failures_total", "counter", "Replies a sink failed to deliver (gave up, dropped or threw).", sinks((m) => m.failures), "sink");

    family("opencode_bridge_provider_retries_total", "counter", "Model provider retries OpenCode reported.", this.providerRetries);
    family("opencode_bridge_event_stream_reconnects_total", "counter", "Reconnections of OpenCode's /event stream.", core.reconnects);
    const restarts = core.upstream.restarts?.();
    if (restarts !== undefined) family("opencode_bridge_opencode_restarts_total", "counter", "Restarts of the opencode serve the bridge owns.", restarts);
    family("opencode_bridge_opencode_up", "gauge", "1 when OpenCode answered its health check at this scrape.", opencodeUp ? 1 : 0);
    family("opencode_bridge_event_subscribers", "gauge", "Event-stream (SSE) subscribers connected.", core.budget.subscribers);
    family("opencode_bridge_event_subscriber_buffered_bytes", "gauge", "Bytes waiting for event subscribers (socket buffers and queued replies the turns do not keep).", core.budget.bytes);
    family(
      "opencode_bridge_event_subscribers_cut_total",
      "counter",
      "Event subscribers cut off, by reason: buffer (its own bound), total (the shared bound), stalled (drain deadline).",
      Object.entries(core.budget.dropped),
      "reason",
    );
    family("opencode_bridge_connections", "gauge", "Open HTTP connections to the daemon.", core.connections);
    // Connections without the token (./guests.ts): none are counted without a token.
    if (core.guests !== undefined) {
      family("opencode_bridge_guest_connections", "gauge", "Open connections that have not sent the token yet.", core.guests.size);
      family(
        "opencode_bridge_guest_connections_closed_total",
        "counter",
        "Connections without the token closed by the daemon, by reason: deadline (no token in time), crowded (too many).",
        Object.entries(core.guests.closed),
        "reason",
      );
    }
    if (core.journal !== undefined) {
      family("opencode_bridge_journal_write_failures_total", "counter", "Journal records that could not be written.", core.journal.failures);
    }
    const limits = {
      max_active_turns: o.maxActiveTurns,
      retain_turns: o.maxTurns,
      max_reply_bytes_per_turn: o.maxReplyBytesPerTurn,
      max_subscribers: o.maxSubscribers,
      max_subscribers_per_turn: o.maxSubscribersPerTurn,
      max_subscriber_buffer_bytes: o.maxSubscriberBufferBytes,
      max_subscriber_bytes_total: o.maxSubscriberBytesTotal,
      subscriber_drain_timeout_seconds: o.subscriberDrainTimeoutMs / 1000,
      max_connections: o.maxConnections,
      max_body_bytes: o.maxBodyBytes,
      shutdown_grace_seconds: o.shutdownGraceMs / 1000,
      close_timeout_seconds: o.closeTimeoutMs / 1000,
    };
    family("opencode_bridge_limit", "gauge", "The daemon's configured bounds, by name.", Object.entries(limits), "limit");
    family("opencode_bridge_http_requests_total", "counter", "HTTP requests answered by the daemon, by status.", [...this.httpRequests].sort(), "status");
    return `${out.join("\n")}\n`;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
