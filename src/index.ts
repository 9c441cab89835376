/**
 * opencode-bridge: the public API (README "Public API"). Each part is also its own
 * entry point: `opencode-bridge/codec` (pure, no pino/undici), `/adapter`, `/sink`,
 * `/daemon`. Everything not exported here is internal.
 */

// The codec and the reply contract, and the adapter: their entry points are explicit lists.
export * from "./codec/index.js";
export * from "./adapter/index.js";

// Sinks and the daemon: their entry points also export lower-level pieces; the root names what hosts use.
export { toSinkObject, isRequestEvent, MemorySink, JsonlSink, FanoutSink, WebhookSink, parseWebhookOptions, SinkError } from "./sink/index.js";
export type { SinkErrorCode, Sink, SinkCallback, SinkObject, SinkMessage, NamedSink, FanoutCounters, FanoutOptions, WebhookCounters, WebhookOptions, WebhookOptionsInput } from "./sink/index.js";

export { BridgeDaemon, parseDaemonOptions, ExternalUpstream, OwnedUpstream } from "./daemon/index.js";
export type { DaemonOptions, DaemonOptionsInput, TurnRequest, TurnOutcome, OpencodeTarget, Upstream, UpstreamHealth } from "./daemon/index.js";

// A managed `opencode serve` process.
export { startManagedServer, type ManagedServer, type ManagedServerOptions } from "./server/managed.js";
