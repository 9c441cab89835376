/**
 * The daemon's one route table (src/daemon/routes.ts `ROUTES`): the 404 body's
 * list, the 405 `Allow`, the CORS preflight and docs/daemon.md's route headings
 * all come from it. Over HTTP against a daemon on loopback port 0 (its OpenCode
 * is a closed port: none of these requests reaches it).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeDaemon } from "../src/daemon/daemon.js";
import { ROUTE_LIST } from "../src/daemon/routes.js";
import { ExternalUpstream } from "../src/daemon/upstream.js";

const TOKEN = "route-table-token-0123456789";
let daemon: BridgeDaemon;
let url: string;

beforeAll(async () => {
  const directory = resolve(import.meta.dirname, "..");
  daemon = new BridgeDaemon({
    port: 0,
    token: TOKEN,
    directory,
    allowOrigins: ["http://app.example"],
    upstream: new ExternalUpstream({ baseUrl: "http://127.0.0.1:9" }, directory),
  });
  ({ url } = await daemon.start());
});

afterAll(async () => {
  await daemon?.shutdown("test over");
});

const call = (method: string, path: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...headers }, signal: AbortSignal.timeout(10_000) });

describe("the daemon's route table", () => {
  it("a 404 lists every route, as before the table (byte for byte)", async () => {
    const r = await call("GET", "/no/such/route");
    expect(r.status).toBe(404);
    expect(await r.text()).toBe(
      JSON.stringify({
        error: "no route /no/such/route",
        details: {
          routes: [
            "POST /v1/turns",
            "GET /v1/turns",
            "GET /v1/turns/:trace_id",
            "GET /v1/turns/:trace_id/events",
            "GET /v1/turn-list",
            "POST /v1/turns/:trace_id/abort",
            "POST /v1/turns/:trace_id/requests/:request_id",
            "GET /v1/backends",
            "GET /healthz",
            "GET /metrics",
            "GET /console",
            "GET /console.js",
          ],
        },
      }),
    );
  });

  it("a wrong method gets 405 with the route's Allow; open routes too, without a token", async () => {
    const turns = await call("DELETE", "/v1/turns");
    expect([turns.status, turns.headers.get("allow"), await turns.json()]).toEqual([
      405,
      "POST, GET",
      { error: "DELETE is not allowed on /v1/turns", details: { allow: ["POST", "GET"] } },
    ]);
    const health = await fetch(`${url}/healthz`, { method: "POST", signal: AbortSignal.timeout(10_000) });
    expect([health.status, health.headers.get("allow"), await health.json()]).toEqual([
      405,
      "GET",
      { error: "POST is not allowed on /healthz", details: { allow: ["GET"] } },
    ]);
    const page = await fetch(`${url}/console`, { signal: AbortSignal.timeout(10_000) });
    expect([page.status, page.headers.get("x-frame-options")]).toEqual([200, "DENY"]);
    await page.text();
    const noToken = await fetch(`${url}/no/such/route`, { signal: AbortSignal.timeout(10_000) });
    expect(noToken.status).toBe(401);
    await noToken.text();
  });

  it("the CORS preflight allows the methods of the table", async () => {
    const r = await fetch(`${url}/v1/turns`, { method: "OPTIONS", headers: { origin: "http://app.example" }, signal: AbortSignal.timeout(10_000) });
    expect([r.status, r.headers.get("access-control-allow-methods"), r.headers.get("access-control-allow-origin")]).toEqual([
      204,
      "GET, POST",
      "http://app.example",
    ]);
  });

  it("docs/daemon.md has a heading for every route, and none for a route the table lacks", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "docs", "daemon.md"), "utf8");
    const headed = doc
      .split("\n")
      .filter((l) => l.startsWith("#"))
      .flatMap((l) => [...l.matchAll(/`((?:GET|POST|PUT|PATCH|DELETE) \/[^`]*)`/g)].map((m) => m[1] as string));
    expect([...new Set(headed)].sort()).toEqual([...ROUTE_LIST].sort());
  });
});
