/**
 * One connection to an OpenCode event stream (1.x `GET /event`, 2.x `GET /api/event`),
 * in two steps:
 * - `openEventStream`: the request, and the check that the answer is an event
 *   stream (2xx, `text/event-stream`); anything else is a BridgeError that says
 *   what came back (never a web page quoted);
 * - `readEvents`: the body's bytes into the SSE decoder until the stream ends,
 *   resolving with why it ended (never rejecting).
 * What a frame means is the dialect's (src/adapter/dialect-v1.ts, dialect-v2.ts);
 * waiting for `server.connected`, routing and reconnecting are the hub's.
 */
import { request, type Dispatcher } from "undici";
import type { EventStreamDecoder } from "../stream/sse.js";
import { BridgeError } from "./errors.js";
import { summarize, transportError, type OpencodeHttp } from "./http.js";

/** The abort reason, when someone aborted with a BridgeError; else `err` as a transport error. */
function why(signal: AbortSignal, err: unknown, url: string): BridgeError {
  return signal.reason instanceof BridgeError ? signal.reason : transportError(err, url);
}

export async function openEventStream(
  http: OpencodeHttp,
  path: string,
  signal: AbortSignal,
  dispatcher: Dispatcher | undefined,
): Promise<{ res: Dispatcher.ResponseData; url: string }> {
  const url = http.url(path);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: "GET",
      headers: http.headers({ accept: "text/event-stream" }),
      signal,
      dispatcher,
    });
  } catch (err) {
    throw why(signal, err, url);
  }
  const type = String(res.headers["content-type"] ?? "");
  if (res.statusCode >= 200 && res.statusCode < 300 && type.startsWith("text/event-stream")) return { res, url };
  const text = await res.body.text().catch(() => "");
  if (res.statusCode === 401 || res.statusCode === 403) {
    throw new BridgeError("auth", `OpenCode refused the event stream (HTTP ${res.statusCode}): check OPENCODE_SERVER_PASSWORD`, {
      status: res.statusCode,
      url,
    });
  }
  throw new BridgeError(
    "protocol",
    `GET ${path} answered HTTP ${res.statusCode} with content type ${JSON.stringify(type)}, not an event stream: ${summarize(text.slice(0, 200))}`,
    { status: res.statusCode, url },
  );
}

/** Feed the body to `decoder` until it ends; resolves with why it ended. `onBytes` sees every chunk's arrival. */
export async function readEvents(
  res: Dispatcher.ResponseData,
  decoder: EventStreamDecoder,
  url: string,
  signal: AbortSignal,
  onBytes: () => void,
): Promise<BridgeError> {
  try {
    for await (const chunk of res.body) {
      onBytes();
      decoder.push(chunk as Buffer);
    }
    decoder.end();
    return new BridgeError("transport", "the OpenCode event stream ended");
  } catch (err) {
    decoder.end();
    return why(signal, err, url);
  }
}
