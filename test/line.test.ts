/**
 * Line detection against servers that are not OpenCode (real loopback HTTP servers):
 * one clear line saying so — never `not_found`, never a web page quoted — through
 * `createDialect` and through the adapter as a host uses it.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { OpencodeAdapter } from "../src/adapter/adapter.js";
import { BridgeError } from "../src/adapter/errors.js";
import { createDialect, detectLine } from "../src/adapter/line.js";
import { MemorySink } from "../src/sink/memory.js";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function serve(answer: (path: string, auth: string | undefined) => { status: number; type: string; body: string }): Promise<string> {
  const server = createServer((req, res) => {
    const a = answer(new URL(req.url ?? "/", "http://x").pathname, req.headers.authorization);
    res.writeHead(a.status, { "content-type": a.type });
    res.end(a.body);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const PAGE = '<!doctype html>\n<html lang="en"><head><title>Some app</title></head><body>hello</body></html>';
const html = () => ({ status: 200, type: "text/html", body: PAGE });
const notFound = () => ({ status: 404, type: "application/json", body: '{"error":"no such route"}' });

describe("a URL that is not an OpenCode server", () => {
  it.each([
    ["a web app answering every path with a page (200)", html],
    ["an API answering 404 everywhere", notFound],
    ["a server answering JSON without a version", () => ({ status: 200, type: "application/json", body: '{"ok":true}' })],
  ])("%s: protocol, one line that says so, no HTML", async (_name, answer) => {
    const url = await serve(answer);
    const err = await detectLine({ baseUrl: url, directory: "/tmp" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).code).toBe("protocol");
    expect((err as BridgeError).message).toBe(
      `${url} is not an OpenCode server: neither GET /api/info (2.x) nor GET /global/health (1.x) answered as OpenCode does`,
    );
  });

  it("the adapter's turn ends error protocol with that line, and sends nothing else", async () => {
    const seen: string[] = [];
    const url = await serve((path) => {
      seen.push(path);
      return html();
    });
    const sink = new MemorySink();
    const r = await new OpencodeAdapter({ baseUrl: url, directory: "/tmp" }, sink).prompt("hello");
    expect(r.status).toBe("error");
    expect(r.error?.code).toBe("protocol");
    expect(r.error?.error).toContain("is not an OpenCode server");
    expect(r.error?.error).not.toMatch(/<|doctype|html/i);
    expect(sink.replies.map((x) => x.kind)).toEqual(["error"]);
    expect(new Set(seen)).toEqual(new Set(["/api/info", "/global/health"]));
  });

  it("a server that refuses every request (401) is auth, not 'not OpenCode'", async () => {
    const url = await serve(() => ({ status: 401, type: "application/json", body: '{"error":"unauthorized"}' }));
    const err = await createDialect({ baseUrl: url, directory: "/tmp", password: "pw" }).info().catch((e: unknown) => e);
    expect((err as BridgeError).code).toBe("auth");
  });

  it("a refused connection is transport, and the next call asks again", async () => {
    const url = await serve(html);
    await new Promise<void>((r) => servers.splice(0)[0]?.close(() => r()));
    const d = createDialect({ baseUrl: url, directory: "/tmp", requestTimeoutMs: 2_000 });
    expect(((await d.info().catch((e: unknown) => e)) as BridgeError).code).toBe("transport");
    expect(((await d.createSession().catch((e: unknown) => e)) as BridgeError).code).toBe("transport");
  });
});
