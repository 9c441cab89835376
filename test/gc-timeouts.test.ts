/**
 * Timeouts that survive garbage collection. On Node 20 a timeout reached only
 * through `AbortSignal.any` can be collected, and the request then waits forever.
 * Each test sends a request to a real loopback server that never answers, forces
 * a collection (`gc()`, vitest runs with --expose-gc) once the request has
 * arrived, and expects the request to time out all the same.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BridgeError } from "../src/adapter/errors.js";
import { OpencodeHttp } from "../src/adapter/http.js";
import { WebhookSink } from "../src/sink/webhook.js";
import { deadline } from "../src/util/deadline.js";

const forceGc = (globalThis as { gc?: () => void }).gc;

/** A server that takes requests and never answers; `arrived` resolves at each request's arrival. */
async function hangingServer(onRequest: (req: IncomingMessage) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req) => {
    req.resume();
    onRequest(req);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Collects garbage several times, letting finalizers run between rounds. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    forceGc?.();
    await new Promise((r) => setImmediate(r));
  }
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe("GC-proof timeouts", () => {
  it("runs with gc() exposed", () => {
    expect(typeof forceGc).toBe("function");
  });

  it("the webhook sink times out an attempt to a receiver that never answers, after a forced GC", async () => {
    const { url, server } = await hangingServer(() => void collect());
    servers.push(server);
    const sink = new WebhookSink({ url, requestTimeoutMs: 300, maxAttempts: 2, initialDelayMs: 1, closeTimeoutMs: 60_000 });
    await sink.deliver({ kind: "final", trace_id: "t-gc", session_id: "ses_gc", seq: 0, content: "x" });
    await sink.flush();
    expect(sink.stats()).toMatchObject({ delivered: 0, retries: 1, failures: 1 });
  });

  it("the adapter's HTTP client times out a request OpenCode never answers, after a forced GC", async () => {
    const { url, server } = await hangingServer(() => void collect());
    servers.push(server);
    const http = new OpencodeHttp({ baseUrl: url, directory: "/tmp", requestTimeoutMs: 300 });
    const caller = new AbortController();
    const err = await http.call("GET", "/session/status", { signal: caller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).code).toBe("timeout");
  });

  it("a deadline aborts with the parent's reason when the parent aborts first, and clear() lets go", () => {
    const parent = new AbortController();
    const d = deadline(60_000, parent.signal);
    parent.abort(new Error("stop"));
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as Error).message).toBe("stop");
    d.clear();
    const e = deadline(60_000);
    e.clear();
    expect(e.signal.aborted).toBe(false);
  });
});
