/**
 * `serve --acp "COMMAND"`: the daemon's turns run on an ACP agent (`opencode acp`,
 * claude-agent-acp, codex-acp, any agent speaking ACP v1 on stdio) instead of an
 * OpenCode server, behind the same HTTP API.
 *
 * One agent process per session: each session's `AcpAdapter` (src/acp/adapter.ts)
 * starts its own agent (in its own process group) and keeps it for the session's
 * next turns, so sessions run in parallel, and an agent that dies or hangs takes one
 * session's turn with it, not the daemon's. Idle agents are bounded (`maxIdleAgents`,
 * least recently used stopped first, ./pool.ts); a later turn on a stopped or dead
 * agent's session starts a new agent and resumes the session there (`session/resume`,
 * else `session/load`, as the agent offers).
 *
 * The session is opened before the turn is accepted (its id is in the 202), as for
 * OpenCode. ACP agents keep no record the bridge can read back, so a turn the daemon
 * was running when it died ends `error` `transport` at the next start (`target()`
 * refuses, and recovery says so).
 */
import type { Logger } from "pino";
import { AcpAdapter, type AcpAdapterConfig } from "../acp/adapter.js";
import { capabilitiesOf, type BackendCapabilities } from "../acp/capabilities.js";
import { BridgeError } from "../adapter/errors.js";
import type { DaemonCore } from "./core.js";
import { HttpError } from "./http.js";
import type { TurnRequest } from "./options.js";
import type { Lease } from "./pool.js";
import { keyIn } from "./run.js";
import type { OpencodeTarget, Upstream, UpstreamHealth } from "./upstream.js";
import { errorMessage } from "../util/errors.js";

export interface AcpUpstreamOptions {
  /** The agent's argv (resolved: src/acp/command.ts). */
  readonly command: readonly string[];
  /** The agent's environment (default: the daemon's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The daemon's default directory (where the start-up probe runs the agent). */
  readonly directory: string;
  readonly logger?: Logger;
  /** Time for an agent to start and open a session (default 60 s). */
  readonly startTimeoutMs?: number;
  /** Idle agent processes kept (default 4): each holds a session's agent, and agents are large. */
  readonly maxIdleAgents?: number;
}

export class AcpUpstream implements Upstream {
  readonly mode = "acp";
  readonly maxIdle: number;
  private caps: BackendCapabilities = capabilitiesOf(undefined);
  /** Why the last agent start failed, until one succeeds. */
  private failed: string | undefined;
  /** The start-up probe's agent, given to the first new session in its directory. */
  private spare: AcpAdapter | undefined;
  /** Session keys being resolved now: concurrent first turns of a key share one session. */
  private readonly keying = new Map<string, Promise<unknown>>();

  private bound: DaemonCore | undefined;

  constructor(private readonly opts: AcpUpstreamOptions) {
    this.maxIdle = opts.maxIdleAgents ?? 4;
  }

  /** The daemon whose turns it runs (its adapter settings, logger, reply path, pool, session keys): set when the daemon is built. */
  attach(core: DaemonCore): void {
    this.bound = core;
  }

  private get core(): DaemonCore {
    if (this.bound === undefined) throw new Error("the ACP upstream is not attached to a daemon");
    return this.bound;
  }

  get command(): string {
    return this.opts.command.join(" ");
  }

  /** No OpenCode behind this daemon: recovery and takeover, which read OpenCode's record, end their turns `transport`. */
  target(): Promise<OpencodeTarget> {
    return Promise.reject(new Error(`the daemon runs an ACP agent (${this.command}), which keeps no record of a turn the bridge can read back`));
  }

  health(): Promise<UpstreamHealth> {
    const agent = this.caps.agent;
    return Promise.resolve({
      mode: this.mode,
      healthy: this.failed === undefined,
      command: this.command,
      ...(agent ? { agent: agent.name, ...(agent.version ? { version: agent.version } : {}) } : {}),
      ...(this.failed !== undefined ? { error: this.failed } : {}),
    });
  }

  /** What the agent can do, from its `initialize` answer (the probe's, then the last session's). */
  capabilities(): BackendCapabilities {
    return this.caps;
  }

  /** An adapter (not yet started) for one session in `directory`. */
  adapter(directory: string): AcpAdapter {
    const core = this.core;
    const { verifyAtEnd: _v, line: _l, ...settings } = core.input.adapter ?? {};
    const config: AcpAdapterConfig = {
      ...settings,
      command: this.opts.command,
      directory,
      logger: core.rootLog,
      ...(this.opts.env ? { env: this.opts.env } : {}),
      ...(this.opts.startTimeoutMs !== undefined ? { startTimeoutMs: this.opts.startTimeoutMs } : {}),
    };
    return new AcpAdapter(config, core.replies.sink);
  }

  /**
   * Starts the agent once in the default directory (a wrong command fails here, at
   * start-up) and learns its capabilities; the agent is kept for the first session.
   */
  async probe(): Promise<BackendCapabilities> {
    const a = this.adapter(this.opts.directory);
    try {
      await a.start();
    } catch (err) {
      await a.close();
      throw err;
    }
    this.spare = a;
    this.caps = a.capabilities;
    return this.caps;
  }

  /** The probe's agent for a new session in `directory`, else a new adapter. */
  private fresh(directory: string): AcpAdapter {
    const spare = this.spare;
    this.spare = undefined;
    if (spare && spare.config.directory === directory) return spare;
    if (spare) void spare.close();
    return this.adapter(directory);
  }

  /** Opens the turn's session (on its cached agent, or a new one): its id and a lease holding its adapter until the turn has its own. */
  async session(directory: string, turn: TurnRequest): Promise<{ sessionId: string; lease: Lease<AcpAdapter> }> {
    const refused = refusal(turn);
    if (refused !== undefined) throw new HttpError(400, refused);
    try {
      if (turn.session_id !== undefined) return await this.open(directory, turn.session_id);
      if (turn.session_key === undefined) return await this.open(directory);
      return await this.keyed(directory, turn.session_key);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (err instanceof BridgeError && err.code === "not_found") throw new HttpError(404, err.message, { session_id: turn.session_id, directory });
      this.failed = errorMessage(err);
      throw new HttpError(502, "could not start the ACP agent or open its session", { command: this.command, reason: this.failed });
    }
  }

  /** A key's session: the one it names, resumed on a new agent when its own has gone; a new one when that fails. */
  private async keyed(directory: string, key: string): Promise<{ sessionId: string; lease: Lease<AcpAdapter> }> {
    const k = keyIn(directory, key);
    const mine = (this.keying.get(k) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        const known = await this.core.sessionStore.get(k);
        if (known) {
          try {
            return await this.open(directory, known.sessionId);
          } catch (err) {
            this.core.log.warn({ session_key: key, session_id: known.sessionId, err: errorMessage(err) }, "the agent could not resume the key's session: starting a new one");
          }
        }
        const opened = await this.open(directory);
        await this.core.sessionStore.set(k, { sessionId: opened.sessionId, configHash: "acp" });
        return opened;
      });
    this.keying.set(k, mine);
    try {
      return await mine;
    } finally {
      if (this.keying.get(k) === mine) this.keying.delete(k);
    }
  }

  private async open(directory: string, sessionId?: string): Promise<{ sessionId: string; lease: Lease<AcpAdapter> }> {
    if (sessionId !== undefined) {
      const lease = this.lease(directory, sessionId);
      try {
        await lease.adapter.openSession(sessionId);
      } catch (err) {
        lease.release();
        throw err;
      }
      this.opened(lease.adapter);
      return { sessionId, lease };
    }
    const adapter = this.fresh(directory);
    let id: string;
    try {
      id = await adapter.openSession();
    } catch (err) {
      await adapter.close();
      throw err;
    }
    this.opened(adapter);
    return { sessionId: id, lease: this.core.pool.acquire(acpKey(directory, id), () => adapter) };
  }

  private opened(adapter: AcpAdapter): void {
    this.failed = undefined;
    this.caps = adapter.capabilities;
  }

  async stop(): Promise<void> {
    const spare = this.spare;
    this.spare = undefined;
    await spare?.close();
  }

  kill(): void {
    this.spare?.kill();
  }

  /** The session's adapter from the pool (a new one, to resume the session on a new agent, when none is kept). */
  lease(directory: string, sessionId: string): Lease<AcpAdapter> {
    return this.core.pool.acquire(acpKey(directory, sessionId), () => this.adapter(directory));
  }
}

export const isAcp = (upstream: Upstream): upstream is AcpUpstream => upstream.mode === "acp";

const acpKey = (directory: string, sessionId: string) => `acp\u0000${directory}\u0000${sessionId}`;

/** What an ACP turn cannot carry (ACP v1 prompts here are text; the agent has its own model and modes). */
function refusal(turn: TurnRequest): string | undefined {
  const fields: string[] = (["model", "agent", "system", "tools", "variant", "no_reply"] as const).filter((f) => turn[f] !== undefined);
  if (turn.parts?.some((p) => p.type !== "text")) fields.push("file parts");
  if (fields.length === 0) return undefined;
  return `the daemon runs an ACP agent, whose turns take text only: leave out ${fields.join(", ")}`;
}
