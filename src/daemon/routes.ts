/**
 * The daemon's front door: every request passes the host/origin guard, CORS,
 * then `/healthz` and `/console` (no token), then the token, then the route table.
 * Every failure is answered as JSON (./http.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { postTurn } from "./accept.js";
import { CONSOLE_HTML } from "./console.js";
import type { DaemonCore } from "./core.js";
import { HttpError, sendError } from "./http.js";
import { postAnswer } from "./requests.js";
import { getHealth, getMetrics } from "./status.js";
import { getEvents, getTurn, getTurns, postAbort } from "./turn-routes.js";
import { errorMessage } from "../util/errors.js";

type Handler = (req: IncomingMessage, res: ServerResponse, params: readonly string[]) => Promise<void> | void;
export interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Partial<Record<"GET" | "POST", Handler>>>;
}

/** The routes behind the token. */
export function daemonRoutes(core: DaemonCore): readonly Route[] {
  return [
    { pattern: /^\/v1\/turns$/, methods: { POST: (req, res) => postTurn(core, req, res), GET: (req, res) => getTurns(core, req, res) } },
    { pattern: /^\/v1\/turns\/([^/]+)\/events$/, methods: { GET: (req, res, p) => getEvents(core, req, res, p) } },
    { pattern: /^\/v1\/turns\/([^/]+)\/abort$/, methods: { POST: (req, res, p) => postAbort(core, req, res, p) } },
    { pattern: /^\/v1\/turns\/([^/]+)\/requests\/([^/]+)$/, methods: { POST: (req, res, p) => postAnswer(core, req, res, p) } },
    { pattern: /^\/v1\/turns\/([^/]+)$/, methods: { GET: (req, res, p) => getTurn(core, req, res, p) } },
    { pattern: /^\/metrics$/, methods: { GET: (_req, res) => getMetrics(core, res) } },
  ];
}

export async function handleRequest(core: DaemonCore, routes: readonly Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.on("finish", () => core.metrics.request(res.statusCode));
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  try {
    // Before anything else, even /healthz: forged browser requests and DNS rebinding get nothing.
    const origin = req.headers.origin;
    const refusal = core.guard.refusal(req.headers.host, origin);
    if (refusal !== undefined) throw new HttpError(403, refusal);
    if (origin !== undefined) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("vary", "Origin");
    }
    if (req.method === "OPTIONS" && origin !== undefined) {
      // The CORS preflight of an allowed origin (a JSON POST or an Authorization header needs one).
      res.writeHead(204, {
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": "authorization, content-type, last-event-id",
        "access-control-max-age": "600",
      });
      res.end();
      return;
    }
    if (path === "/healthz") {
      if (req.method !== "GET") throw new HttpError(405, `${req.method} is not allowed on /healthz`, { allow: ["GET"] }, { allow: "GET" });
      await getHealth(core, res);
      return;
    }
    if (path === "/console") {
      // The page holds no data: what it shows it fetches with the token. Never framed (its buttons answer requests).
      if (req.method !== "GET") throw new HttpError(405, `${req.method} is not allowed on /console`, { allow: ["GET"] }, { allow: "GET" });
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "x-frame-options": "DENY",
        "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        "referrer-policy": "no-referrer",
      });
      res.end(CONSOLE_HTML);
      return;
    }
    // Authentication comes before routing: without the token nothing about the API is revealed.
    if (core.auth && !core.auth.accepts(req.headers.authorization)) {
      throw new HttpError(
        401,
        "missing or wrong bearer token",
        "send Authorization: Bearer <token> (the daemon's --token or BRIDGE_TOKEN)",
        { "www-authenticate": 'Bearer realm="opencode-bridge"' },
      );
    }
    for (const route of routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      const handler = route.methods[req.method as "GET" | "POST"];
      if (!handler) {
        const allow = Object.keys(route.methods);
        throw new HttpError(405, `${req.method} is not allowed on ${path}`, { allow }, { allow: allow.join(", ") });
      }
      const params = m.slice(1).map((p) => {
        try {
          return decodeURIComponent(p);
        } catch {
          throw new HttpError(400, "the path is not valid percent-encoding", { path });
        }
      });
      await handler(req, res, params);
      return;
    }
    throw new HttpError(404, `no route ${path}`, {
      routes: [
        "POST /v1/turns",
        "GET /v1/turns",
        "GET /v1/turns/:trace_id",
        "GET /v1/turns/:trace_id/events",
        "POST /v1/turns/:trace_id/abort",
        "POST /v1/turns/:trace_id/requests/:request_id",
        "GET /healthz",
        "GET /metrics",
        "GET /console",
      ],
    });
  } catch (err) {
    if (err instanceof HttpError) {
      sendError(res, err);
      return;
    }
    core.log.error({ err, path }, "request failed");
    sendError(res, new HttpError(500, "internal error", errorMessage(err)));
  }
}
