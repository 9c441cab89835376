/**
 * `GET /v1/turn-list`: the turn list as a stream, for the console and any client
 * that shows turns. First `event: turns` with every retained turn's summary
 * (as `GET /v1/turns`), then `event: turn` with a turn's summary each time it
 * starts, starts or stops waiting for a person, or ends — so a turn that came
 * and went between two polls is still seen. A comment line every `heartbeatMs`.
 *
 * Bounds: at most MAX_WATCHERS streams; a reader that lets MAX_BUFFERED bytes
 * pile up is cut off (it can reconnect and get the whole list again).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DaemonCore } from "./core.js";
import { HttpError } from "./http.js";

const MAX_WATCHERS = 64;
const MAX_BUFFERED = 1024 * 1024;

export function streamTurnList(core: DaemonCore, req: IncomingMessage, res: ServerResponse): void {
  const store = core.store;
  if (store.watchers.size >= MAX_WATCHERS) {
    throw new HttpError(429, `${MAX_WATCHERS} clients follow the turn list (the limit)`, undefined, { "retry-after": "5" });
  }
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
  res.write(`event: turns\ndata: ${JSON.stringify({ turns: store.all().map((t) => t.summary()) })}\n\n`);
  const stop = () => {
    store.watchers.delete(watch);
    clearInterval(heartbeat);
    if (!res.writableEnded) res.end();
  };
  const watch = (summary: Record<string, unknown> | null) => {
    if (summary === null || res.writableLength > MAX_BUFFERED) return stop();
    res.write(`event: turn\ndata: ${JSON.stringify(summary)}\n\n`);
  };
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), core.options.heartbeatMs);
  store.watchers.add(watch);
  req.once("close", stop);
  res.once("close", stop);
}
