/**
 * Bearer-token checks and the loopback rule. The token is kept only as its
 * SHA-256 digest and compared in constant time: digests have a fixed length, so
 * neither the token's content nor its length shows in the timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export class BearerAuth {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  /** Whether an `Authorization` header carries the token. */
  accepts(header: string | string[] | undefined): boolean {
    const value = Array.isArray(header) ? header[0] : header;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value ?? "");
    // Compare something in every case, so a missing header costs what a wrong one does.
    const presented = digest(m?.[1] ?? "");
    return timingSafeEqual(presented, this.expected) && m !== null;
  }
}

/** Whether binding to `host` keeps the daemon reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^::ffff:127\./.test(h);
  return false;
}

/** The host name of a Host header (`name:port`, `[v6]:port`), lower-cased. */
function hostnameOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") < 0 ? undefined : h.indexOf("]"));
  const colon = h.lastIndexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * The browser-facing checks every request passes before anything else:
 * - `Host` must be an IP address, `localhost`, or a configured name. A web page
 *   that rebinds its own DNS name to 127.0.0.1 sends that name as Host, so it is
 *   refused: DNS rebinding cannot read the daemon's answers.
 * - `Origin`, when present (browsers send it on cross-origin requests and on
 *   every POST), must be explicitly allowed. A request without one comes from a
 *   program, not a page.
 */
export class RequestGuard {
  private readonly hosts: ReadonlySet<string>;
  private readonly origins: ReadonlySet<string>;

  constructor(allowHosts: readonly string[], allowOrigins: readonly string[]) {
    this.hosts = new Set(allowHosts.map((h) => h.toLowerCase()));
    this.origins = new Set(allowOrigins.map((o) => o.toLowerCase().replace(/\/$/, "")));
  }

  /** Why the request is refused, or undefined when it passes. */
  refusal(host: string | undefined, origin: string | undefined): string | undefined {
    if (host !== undefined) {
      const name = hostnameOf(host);
      if (!(isIP(name) !== 0 || name === "localhost" || this.hosts.has(name))) {
        return `Host ${JSON.stringify(host)} is not accepted: use an IP address or localhost, or start the daemon with --allow-host ${name}`;
      }
    }
    // The console (GET /console) is served by the daemon itself: its own origin is the Host it was loaded from (checked above).
    const ownOrigin = origin !== undefined && host !== undefined && origin.toLowerCase() === `http://${host.trim().toLowerCase()}`;
    if (origin !== undefined && !ownOrigin && !this.origins.has(origin.toLowerCase())) {
      return `Origin ${JSON.stringify(origin)} is not allowed: start the daemon with --allow-origin ${origin} to let pages of that origin call it`;
    }
    return undefined;
  }
}
