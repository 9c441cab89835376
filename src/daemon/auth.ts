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
