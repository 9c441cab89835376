export { toSinkObject, type Sink, type SinkCallback, type SinkObject } from "./types.js";
export { MemorySink } from "./memory.js";
export { JsonlSink } from "./jsonl.js";
