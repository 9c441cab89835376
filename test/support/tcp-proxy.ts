/**
 * A TCP proxy on loopback between the bridge and a real `opencode serve`, for
 * fault injection: it can cut the event stream (1.x `/event`, 2.x `/api/event`) at a chosen point of what the
 * server sends — before a chunk (the bridge never sees it) or in the middle of
 * one (the bridge sees half a frame).
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export type CutMode = "before" | "mid";

/** Decides, for each chunk the server sends on an event stream, whether to cut there. */
export type Cutter = (chunk: string, seenSoFar: string) => CutMode | undefined;

export interface TcpProxy {
  readonly url: string;
  /** Arm a cut on the next event stream(s); fires once, then disarms. */
  armCut(cutter: Cutter): void;
  /** Cut every open event stream now. */
  cutNow(): void;
  /** How many cuts were made. */
  readonly cuts: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let cutter: Cutter | undefined;
  let cuts = 0;
  const eventPairs = new Set<{ client: Socket; upstream: Socket }>();
  const all = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    all.add(client);
    all.add(upstream);
    let isEvent = false;
    let seen = "";
    const pair = { client, upstream };
    const cut = () => {
      cuts++;
      eventPairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (d: Buffer) => {
      // Keep-alive: a connection that carried other requests may carry the event stream next.
      // 1.x's `/event` or 2.x's `/api/event`.
      const head = isEvent ? "" : d.toString("latin1", 0, 16);
      if (!isEvent && (head.startsWith("GET /event") || head.startsWith("GET /api/event"))) {
        isEvent = true;
        eventPairs.add(pair);
      }
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      if (isEvent && cutter) {
        const text = d.toString("utf8");
        seen += text;
        const mode = cutter(text, seen);
        if (mode !== undefined) {
          cutter = undefined;
          if (mode === "mid") client.write(d.subarray(0, Math.floor(d.length / 2)));
          cut();
          return;
        }
      }
      client.write(d);
    });
    const end = () => {
      eventPairs.delete(pair);
      client.destroy();
      upstream.destroy();
      all.delete(client);
      all.delete(upstream);
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    armCut: (c) => {
      cutter = c;
    },
    cutNow: () => {
      for (const p of [...eventPairs]) {
        cuts++;
        eventPairs.delete(p);
        p.client.destroy();
        p.upstream.destroy();
      }
    },
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of all) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Cut after the server has sent `n` frames whose text matches `pattern` (counted across chunks). */
export function afterMatches(pattern: string, n: number, mode: CutMode): Cutter {
  let count = 0;
  return (chunk) => {
    let i = chunk.indexOf(pattern);
    while (i >= 0) {
      count++;
      if (count >= n) return mode;
      i = chunk.indexOf(pattern, i + pattern.length);
    }
    return undefined;
  };
}

export interface FrameDropProxy {
  readonly url: string;
  /** Frames of `/event` dropped so far. */
  readonly dropped: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy that silently drops chosen frames of the `/event` stream and keeps
 * the connection open (what a server whose stream stops carrying `message.part.*`
 * events for a while looks like); every other request passes through unchanged.
 * HTTP-level, not TCP: the stream's chunked encoding must be re-framed once frames go.
 */
export async function startFrameDropProxy(
  target: { host: string; port: number },
  drop: (frame: string) => boolean,
): Promise<FrameDropProxy> {
  const { createServer: createHttpServer, request } = await import("node:http");
  let dropped = 0;
  const server = createHttpServer((req, res) => {
    const up = request(
      { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!(req.url ?? "").startsWith("/event")) {
          upRes.pipe(res);
          return;
        }
        let buf = "";
        upRes.setEncoding("utf8");
        upRes.on("data", (chunk: string) => {
          buf += chunk;
          let end = buf.indexOf("\n\n");
          while (end >= 0) {
            const frame = buf.slice(0, end + 2);
            buf = buf.slice(end + 2);
            if (drop(frame)) dropped++;
            else res.write(frame);
            end = buf.indexOf("\n\n");
          }
        });
        upRes.on("end", () => res.end(buf));
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
    res.on("close", () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get dropped() {
      return dropped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
