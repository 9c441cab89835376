/**
 * The OpenCode server behind the daemon: one given by URL (`--opencode-url`),
 * or an `opencode serve` the daemon starts and owns. Either way the daemon asks
 * for a target (URL and credentials) before each turn — an owned server that
 * has died is restarted then, possibly on another port.
 */
import type { Logger } from "pino";
import { isSupportedVersion } from "../adapter/adapter.js";
import { OpencodeHttp } from "../adapter/http.js";
import { OwnedServer, type OwnedServerOptions } from "../server/owned.js";

export interface OpencodeTarget {
  readonly baseUrl: string;
  readonly username?: string;
  readonly password?: string;
}

export interface UpstreamHealth {
  readonly mode: "external" | "owned";
  readonly healthy: boolean;
  readonly version?: string;
  /** Whether the bridge supports that version. */
  readonly supported?: boolean;
  readonly error?: string;
}

export interface Upstream {
  readonly mode: "external" | "owned";
  /** Where to send the next turn (an owned server is started or restarted here). */
  target(): Promise<OpencodeTarget>;
  /** Asks OpenCode's /global/health; never throws. */
  health(timeoutMs: number): Promise<UpstreamHealth>;
  /** Restarts of an owned server (undefined for an external one). */
  restarts(): number | undefined;
  stop(): Promise<void>;
}

async function probe(mode: Upstream["mode"], target: OpencodeTarget | undefined, directory: string, timeoutMs: number): Promise<UpstreamHealth> {
  if (!target) return { mode, healthy: false, error: "not started" };
  try {
    const http = new OpencodeHttp({ ...target, directory, requestTimeoutMs: timeoutMs });
    const { healthy, version } = await http.health();
    return { mode, healthy, version, supported: isSupportedVersion(version) };
  } catch (err) {
    return { mode, healthy: false, error: (err as Error).message };
  }
}

/** An OpenCode server someone else runs. */
export class ExternalUpstream implements Upstream {
  readonly mode = "external";
  constructor(
    private readonly t: OpencodeTarget,
    private readonly directory: string,
  ) {}

  target(): Promise<OpencodeTarget> {
    return Promise.resolve(this.t);
  }

  health(timeoutMs: number): Promise<UpstreamHealth> {
    return probe(this.mode, this.t, this.directory, timeoutMs);
  }

  restarts(): undefined {
    return undefined;
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

/** An `opencode serve` on a free loopback port with a generated password, owned by the daemon. */
export class OwnedUpstream implements Upstream {
  readonly mode = "owned";
  private readonly server: OwnedServer;
  private last: OpencodeTarget | undefined;

  constructor(
    private readonly opts: OwnedServerOptions & { readonly logger?: Logger },
  ) {
    this.server = new OwnedServer(opts);
  }

  async target(): Promise<OpencodeTarget> {
    const s = await this.server.ensure();
    this.last = { baseUrl: s.url, password: this.server.password };
    return this.last;
  }

  health(timeoutMs: number): Promise<UpstreamHealth> {
    return probe(this.mode, this.last, this.opts.directory, timeoutMs);
  }

  restarts(): number {
    return this.server.restarts;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}
