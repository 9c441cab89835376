/**
 * The daemon's front door: every request passes the host/origin guard, CORS,
 * then the open routes (`/healthz`, `/console`, `/console.js`: no token), then the token, then
 * the rest of the route table (`ROUTES`, the one list of the daemon's routes).
 * Every failure is answered as JSON (./http.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { postTurn } from "./accept.js";
import { CONSOLE_HEADERS, CONSOLE_HTML } from "./console.js";
import { CONSOLE_JS } from "./console-script.js";
import type { DaemonCore } from "./core.js";
import { HttpError, sendError } from "./http.js";
import { getBackends, getHealth, getMetrics } from "./status.js";
import { streamTurnList } from "./turn-list.js";
import { getEvents, getTurn, getTurns, postAbort, postAnswer } from "./turn-routes.js";
import { errorMessage } from "../util/errors.js";

type Method = "GET" | "POST";
type Handler = (core: DaemonCore, req: IncomingMessage, res: ServerResponse, params: readonly string[]) => Promise<void> | void;

export interface Route {
  /** The path as docs/daemon.md writes it; `:name` segments are parameters, handed to the handler in order. */
  readonly path: string;
  /** Served before the token is checked (still behind the host/origin guard). */
  readonly open?: true;
  readonly methods: Readonly<Partial<Record<Method, Handler>>>;
}

/**
 * The one route table: routing, the 404 body's list, the 405 `Allow`, the CORS
 * preflight's allowed methods and docs/daemon.md's route headings
 * (test/daemon-routes.test.ts) all come from it. Paths are matched whole, so the
 * order only sets the order of the 404 list.
 */
export const ROUTES: readonly Route[] = [
  { path: "/v1/turns", methods: { POST: postTurn, GET: getTurns } },
  { path: "/v1/turns/:trace_id", methods: { GET: getTurn } },
  { path: "/v1/turns/:trace_id/events", methods: { GET: getEvents } },
  { path: "/v1/turn-list", methods: { GET: (core, req, res) => streamTurnList(core, req, res) } },
  { path: "/v1/turns/:trace_id/abort", methods: { POST: postAbort } },
  { path: "/v1/turns/:trace_id/requests/:request_id", methods: { POST: postAnswer } },
  { path: "/v1/backends", methods: { GET: (core, _req, res) => getBackends(core, res) } },
  { path: "/healthz", open: true, methods: { GET: (core, _req, res) => getHealth(core, res) } },
  { path: "/metrics", methods: { GET: (core, _req, res) => getMetrics(core, res) } },
  { path: "/console", open: true, methods: { GET: page("text/html; charset=utf-8", CONSOLE_HTML, CONSOLE_HEADERS) } },
  { path: "/console.js", open: true, methods: { GET: page("text/javascript; charset=utf-8", CONSOLE_JS) } },
];

/** `METHOD /path` of every route, in table order: the 404 body's `routes`. */
export const ROUTE_LIST: readonly string[] = ROUTES.flatMap((r) => Object.keys(r.methods).map((m) => `${m} ${r.path}`));

/** Every method some route takes: the CORS preflight's `access-control-allow-methods`. */
const ALLOWED_METHODS = [...new Set(ROUTES.flatMap((r) => Object.keys(r.methods)))].sort().join(", ");

const MATCHERS: readonly { route: Route; pattern: RegExp }[] = ROUTES.map((route) => ({
  route,
  pattern: new RegExp(`^${route.path.replace(/:[a-z_]+/g, "([^/]+)")}$`),
}));

function matchRoute(path: string): { route: Route; match: RegExpExecArray } | undefined {
  for (const { route, pattern } of MATCHERS) {
    const match = pattern.exec(path);
    if (match) return { route, match };
  }
  return undefined;
}

/**
 * A page served as it is: the console's, which holds no data (what it shows it
 * fetches with the token), and its script, served apart so the page's CSP allows no inline script.
 */
function page(contentType: string, body: string, headers: Readonly<Record<string, string>> = {}): Handler {
  return (_core, _req, res) => {
    res.writeHead(200, { "content-type": contentType, "cache-control": "no-store", ...headers });
    res.end(body);
  };
}

/** Run the route's handler for the request's method, or refuse it with 405 and the route's `Allow`. */
async function serve(core: DaemonCore, route: Route, match: RegExpExecArray, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const handler = route.methods[req.method as Method];
  if (!handler) {
    const allow = Object.keys(route.methods);
    throw new HttpError(405, `${req.method} is not allowed on ${path}`, { allow }, { allow: allow.join(", ") });
  }
  const params = match.slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw new HttpError(400, "the path is not valid percent-encoding", { path });
    }
  });
  await handler(core, req, res, params);
}

export async function handleRequest(core: DaemonCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.on("finish", () => core.metrics.request(res.statusCode));
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  // Every answer is what its content type says: no browser guessing a script or a page out of JSON.
  res.setHeader("x-content-type-options", "nosniff");
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
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": "authorization, content-type, last-event-id",
        "access-control-max-age": "600",
      });
      res.end();
      return;
    }
    const found = matchRoute(path);
    if (found?.route.open) return await serve(core, found.route, found.match, path, req, res);
    // Authentication comes before routing: without the token nothing about the API is revealed.
    if (core.auth && !core.auth.accepts(req.headers.authorization)) {
      throw new HttpError(
        401,
        "missing or wrong bearer token",
        "send Authorization: Bearer <token> (the daemon's --token or BRIDGE_TOKEN)",
        { "www-authenticate": 'Bearer realm="opencode-bridge"' },
      );
    }
    core.guests?.authenticated(req.socket);
    if (found) return await serve(core, found.route, found.match, path, req, res);
    throw new HttpError(404, `no route ${path}`, { routes: ROUTE_LIST });
  } catch (err) {
    if (err instanceof HttpError) {
      sendError(res, err);
      return;
    }
    core.log.error({ err, path }, "request failed");
    sendError(res, new HttpError(500, "internal error", errorMessage(err)));
  }
}
