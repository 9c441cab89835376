/**
 * A small `/event` server on 127.0.0.1:0 for the benchmarks, in the benchmark's
 * own process (so that send and receive times come from one clock).
 *
 * Every GET /event (or 2.x's /api/event) answers `text/event-stream` with the plan set for it:
 * - bulk: the whole prepared stream, as fast as the socket takes it, then end;
 * - paced: one frame per `intervalMs`, each written on its own, its send time
 *   (performance.now(), before the write) recorded by frame index, then end.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Plan =
  | { readonly kind: "bulk"; readonly bytes: Buffer }
  | { readonly kind: "paced"; readonly frames: readonly Buffer[]; readonly intervalMs: number; readonly sent: Float64Array };

export class SseServer {
  private plan: Plan | undefined;
  private readonly sockets = new Set<Socket>();
  /** Streams answered, for checks. */
  served = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    server.on("connection", (s: Socket) => {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  static async start(): Promise<SseServer> {
    let self!: SseServer;
    const server = createServer((req, res) => self.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    self = new SseServer(server, `http://127.0.0.1:${port}`);
    return self;
  }

  /** The plan for the next GET /event (used once). */
  next(plan: Plan): void {
    this.plan = plan;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "").split("?")[0];
    const plan = this.plan;
    // `/event` (1.x) or `/api/event` (2.x): the plan decides what is sent.
    if (req.method !== "GET" || (path !== "/event" && path !== "/api/event") || plan === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`no plan for ${req.method} ${req.url}\n`);
      return;
    }
    this.plan = undefined;
    this.served++;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    if (plan.kind === "bulk") {
      res.end(plan.bytes);
      return;
    }
    const { frames, intervalMs, sent } = plan;
    let i = 0;
    const t0 = performance.now();
    const tick = () => {
      // Write every frame that is due (normally one): frame i is due at t0 + i·interval.
      const now = performance.now();
      while (i < frames.length && now >= t0 + i * intervalMs) {
        sent[i] = performance.now();
        res.write(frames[i] as Buffer);
        i++;
      }
      if (i < frames.length) setTimeout(tick, Math.max(0, t0 + i * intervalMs - performance.now()));
      else res.end();
    };
    tick();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
