/** `opencode-bridge/sink`: where replies go (the root exports the same names). */
export type { Sink, SinkObject } from "./types.js";
export { SinkError } from "./errors.js";
export { MemorySink } from "./memory.js";
export { JsonlSink } from "./jsonl.js";
export { FanoutSink, type NamedSink } from "./fanout.js";
export { WebhookSink, type WebhookOptionsInput } from "./webhook.js";
