/**
 * The capture tool's HTTP side (scripts/capture.ts for 1.x, scripts/capture-v2.ts
 * for 2.x): JSON calls logged with their answers, and an SSE endpoint's raw bytes
 * recorded to a file.
 */
import { createWriteStream } from "node:fs";
import { request } from "undici";

export interface HttpEntry {
  method: string;
  path: string;
  body?: unknown;
  status: number;
  response: unknown;
}

/** Long strings (data URLs, stack traces stay) cut for the HTTP log. */
export function shorten(v: unknown): unknown {
  if (typeof v === "string") return v.startsWith("data:") && v.length > 120 ? `${v.slice(0, 120)}…` : v;
  if (Array.isArray(v)) return v.map(shorten);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, shorten(x)]));
  }
  return v;
}

/**
 * A JSON call; when `log` is given it is recorded there with the project directory
 * written as `<project>` (paths would differ per run).
 */
export async function json(
  url: string,
  method: string,
  body?: unknown,
  log?: { entries: HttpEntry[]; dir: string },
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: unknown }> {
  let res: Awaited<ReturnType<typeof request>>;
  let text: string;
  try {
    res = await request(url, {
      method: method as "GET",
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    text = await res.body.text();
  } catch (err) {
    if (!log) throw err;
    // Recorded as status 0: the server gave no answer (a timeout, a reset).
    res = { statusCode: 0 } as Awaited<ReturnType<typeof request>>;
    text = `[no answer: ${String(err)}]`;
  }
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  if (process.env.CAPTURE_DEBUG) console.error(`${method} ${url.split("?")[0]} → ${res.statusCode}`);
  if (log) {
    const u = new URL(url);
    const path = `${u.pathname}${u.search}`
      .replaceAll(encodeURIComponent(log.dir), "<project>")
      .replaceAll(log.dir, "<project>");
    const scrub = (v: unknown) => JSON.parse(JSON.stringify(shorten(v) ?? null).replaceAll(log.dir, "<project>")) as unknown;
    log.entries.push({
      method,
      path,
      ...(body === undefined ? {} : { body: scrub(body) }),
      status: res.statusCode,
      response: scrub(parsed),
    });
  }
  return { status: res.statusCode, body: parsed };
}

export interface Frame {
  type?: string;
  properties?: Record<string, unknown> & {
    sessionID?: string;
    info?: { role?: string; sessionID?: string };
    status?: { type?: string };
    id?: string;
  };
}

/**
 * Records one SSE endpoint's bytes to a file until aborted; resolves once the
 * stream is open, with `done` settling when the recording has ended.
 */
export async function recordStream(
  url: string,
  path: string,
  signal: AbortSignal,
  onFrame?: (f: Frame) => void,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ done: Promise<void> }> {
  const res = await request(url, { signal, headers });
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}`);
  const file = createWriteStream(path);
  let buffered = "";
  const pump = (async () => {
    try {
      for await (const chunk of res.body) {
        file.write(chunk as Buffer);
        if (!onFrame) continue;
        buffered += (chunk as Buffer).toString("utf8");
        let i: number;
        while ((i = buffered.indexOf("\n\n")) >= 0) {
          const frame = buffered.slice(0, i);
          buffered = buffered.slice(i + 2);
          for (const line of frame.split("\n")) {
            if (line.startsWith("data:")) {
              try {
                onFrame(JSON.parse(line.slice(5)) as Frame);
              } catch {
                // not JSON: kept in the capture as it came
              }
            }
          }
        }
      }
    } catch {
      // aborted at the end of the capture
    }
    await new Promise<void>((r) => file.end(() => r()));
  })();
  return { done: pump };
}

