export { toSinkObject, type Sink, type SinkCallback, type SinkObject } from "./types.js";
export { MemorySink } from "./memory.js";
export { JsonlSink } from "./jsonl.js";
export { FanoutSink, type FanoutCounters, type NamedSink } from "./fanout.js";
export {
  WebhookSink,
  WebhookOptionsSchema,
  parseWebhookOptions,
  parseRetryAfter,
  realWebhookClock,
  type WebhookClock,
  type WebhookCounters,
  type WebhookOptions,
  type WebhookOptionsInput,
} from "./webhook.js";
