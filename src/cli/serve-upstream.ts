/**
 * `serve`'s backend: an ACP agent (`--acp`), an OpenCode server given by URL, or an
 * `opencode serve` the daemon owns — built from the options, and started before the
 * daemon listens (an owned server, or the agent once to check it).
 */
import type { Logger } from "pino";
import { resolveAcpCommand } from "../acp/command.js";
import { AcpUpstream } from "../daemon/acp.js";
import { ExternalUpstream, OwnedUpstream, type Upstream } from "../daemon/upstream.js";
import type { OpencodeLine } from "../server/install.js";
import { errorMessage } from "../util/errors.js";
import { howToGetOpencode } from "./install-report.js";
import type { CliIo } from "./io.js";
import { nonEmpty } from "./usage.js";

export interface UpstreamChoice {
  readonly acp: string | undefined;
  readonly opencodeUrl: string | undefined;
  readonly directory: string;
  readonly binary: string | undefined;
  readonly line: OpencodeLine | undefined;
  readonly env: Record<string, string> | undefined;
  readonly logger: Logger;
}

export function buildUpstream(c: UpstreamChoice, io: CliIo): Upstream {
  if (c.acp !== undefined) return new AcpUpstream({ command: resolveAcpCommand(c.acp, io.env), env: io.env, directory: c.directory, logger: c.logger });
  if (c.opencodeUrl) {
    const t = { baseUrl: c.opencodeUrl, password: nonEmpty(io.env.OPENCODE_SERVER_PASSWORD), username: nonEmpty(io.env.OPENCODE_SERVER_USERNAME) };
    return new ExternalUpstream(t, c.directory);
  }
  const line = c.line !== undefined ? { line: c.line } : {};
  return new OwnedUpstream({ directory: c.directory, binary: c.binary, ...line, env: c.env, logger: c.logger.child({ component: "opencode" }) });
}

/** Starts an owned server, or the ACP agent once (after the daemon is built: its adapters need it); what failed, in words. */
export async function prepareUpstream(upstream: Upstream, io: CliIo, say: (s: string) => void): Promise<string | undefined> {
  try {
    if (upstream instanceof AcpUpstream) {
      const caps = await upstream.probe();
      say(`ACP agent ${caps.agent ? `${caps.agent.name} ${caps.agent.version ?? ""}`.trim() : upstream.command} is ready`);
    } else if (upstream.mode === "owned") {
      await upstream.target();
    }
    return undefined;
  } catch (err) {
    if (upstream instanceof AcpUpstream) return `could not start the ACP agent \`${upstream.command}\`: ${errorMessage(err)}`;
    return `could not start opencode serve (${errorMessage(err)}); ${howToGetOpencode(io.env, "--opencode-url")}`;
  }
}
