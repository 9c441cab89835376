/** `GET /healthz`, `GET /metrics` and `GET /v1/backends`: the bridge's and its backend's status and capabilities. */
import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { opencodeCapabilities } from "../adapter/capabilities.js";
import { isAcp } from "./acp.js";
import type { DaemonCore } from "./core.js";
import { sendJson } from "./http.js";

/** This package's version (`opencode-bridge --version`, `doctor`, `/healthz`). */
export const BRIDGE_VERSION = readVersion();

function readVersion(): string {
  try {
    // src/daemon and dist/daemon both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export async function getHealth(core: DaemonCore, res: ServerResponse): Promise<void> {
  const opencode = await core.upstream.health(core.options.healthTimeoutMs);
  // A journal that cannot be written means new turns are refused: degraded, and why.
  const journal = core.journal?.refusal();
  const status = core.draining ? "draining" : opencode.healthy && opencode.supported !== false && journal === undefined ? "ok" : "degraded";
  sendJson(res, status === "ok" ? 200 : 503, {
    status,
    bridge: {
      version: BRIDGE_VERSION,
      uptime_s: Math.round((Date.now() - core.startedAt) / 1000),
      turns_in_flight: core.store.running().length,
      turns_retained: core.store.size,
      draining: core.draining,
      ...(core.journal ? { journal: journal === undefined ? { ok: true } : { ok: false, error: journal } } : {}),
    },
    opencode,
  });
}

/**
 * What the backend can do, for hosts that adapt their UI: one backend per daemon today
 * (`default`); a list so that named backends can join it. OpenCode's from the health
 * probe (its version and line), an ACP agent's from its last `initialize`.
 */
export async function getBackends(core: DaemonCore, res: ServerResponse): Promise<void> {
  const up = core.upstream;
  if (isAcp(up)) {
    sendJson(res, 200, { backends: [{ name: "default", kind: "acp", command: up.command, capabilities: up.capabilities() }] });
    return;
  }
  const h = await up.health(core.options.healthTimeoutMs);
  const capabilities = opencodeCapabilities(h.version);
  sendJson(res, 200, { backends: [{ name: "default", kind: "opencode-http", mode: up.mode, ...(h.line !== undefined ? { line: h.line } : {}), capabilities }] });
}

export async function getMetrics(core: DaemonCore, res: ServerResponse): Promise<void> {
  const opencode = await core.upstream.health(core.options.healthTimeoutMs);
  for (const a of core.pool.adapters()) core.countReconnects(a);
  const text = core.metrics.render(core, opencode.healthy);
  res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}
