/**
 * `GET /v1/turns/:trace_id/events`: one turn as Server-Sent Events.
 *
 *   id: <seq>            event: reply      data: <reply JSON>
 *   event: truncated     data: {"from": a, "to": b}     (replies the daemon did not keep)
 *   event: done          data: {"trace_id", "session_id", "outcome", "replies"}
 *
 * A subscriber that joins late first gets the turn's kept replies from seq 0
 * (or after `Last-Event-ID`), then the rest live, then `done`, and the stream
 * ends. A comment line is sent every `heartbeatMs` so proxies keep the
 * connection. A subscriber that does not read is cut off once more than
 * `maxBufferedBytes` wait for it, rather than letting the daemon buffer without bound.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { StoredReply, TurnRecord, TurnStore, TurnSubscriber } from "./turns.js";

export interface EventStreamOptions {
  readonly heartbeatMs: number;
  readonly maxBufferedBytes: number;
  readonly log: Logger;
}

/** The seq to resume after, from `Last-Event-ID` (0 without one). */
export function resumeFrom(req: IncomingMessage): number {
  const raw = req.headers["last-event-id"];
  const v = Array.isArray(raw) ? raw[0] : raw;
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) + 1 : 0;
}

/** Streams `turn` to `res`; resolves when the stream has ended (the turn ended or the client left). */
export function streamTurn(
  req: IncomingMessage,
  res: ServerResponse,
  store: TurnStore,
  turn: TurnRecord,
  opts: EventStreamOptions,
): Promise<void> {
  return new Promise<void>((resolve) => {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
    let ended = false;
    let unsubscribe = () => {};
    const heartbeat = setInterval(() => write(": keep-alive\n\n"), opts.heartbeatMs);
    heartbeat.unref();
    const finish = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe();
      resolve();
    };
    const write = (frame: string) => {
      if (ended) return;
      res.write(frame);
      if (res.writableLength > opts.maxBufferedBytes) {
        opts.log.warn({ trace_id: turn.traceId, buffered: res.writableLength }, "event subscriber is not reading: disconnecting it");
        res.destroy();
        finish();
      }
    };
    const sub: TurnSubscriber = {
      reply: (r: StoredReply) => write(`id: ${r.seq}\nevent: reply\ndata: ${r.json}\n\n`),
      truncated: (from, to) => write(`event: truncated\ndata: ${JSON.stringify({ from, to })}\n\n`),
      done: (t) => {
        write(
          `event: done\ndata: ${JSON.stringify({ trace_id: t.traceId, session_id: t.sessionId, outcome: t.outcome, replies: t.total })}\n\n`,
        );
        if (!ended) res.end();
        finish();
      },
    };
    res.on("close", finish);
    req.on("close", finish);
    unsubscribe = store.subscribe(turn, sub, resumeFrom(req));
  });
}
