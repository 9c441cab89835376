export { toSinkObject, isRequestEvent, takesRequests, type SinkMessage, type Sink, type SinkCallback, type SinkObject, type SinkStats, type SinkHooks } from "./types.js";
export { SinkError, type SinkErrorCode } from "./errors.js";
export { MemorySink } from "./memory.js";
export { JsonlSink } from "./jsonl.js";
export { FanoutSink, type FanoutCounters, type FanoutOptions, type NamedSink } from "./fanout.js";
export {
  WebhookSink,
  WebhookOptionsSchema,
  parseWebhookOptions,
  parseRetryAfter,
  type WebhookCounters,
  type WebhookOptions,
  type WebhookOptionsInput,
} from "./webhook.js";
