/**
 * `serve`'s backend: an ACP agent (`--acp`), an OpenCode server given by URL, or an
 * `opencode serve` the daemon owns (with `--scripted`, in a throw-away project wired to
 * the scripted model) — built from the options, and started before the daemon listens
 * (an owned server, or the agent once to check it).
 */
import type { Logger } from "pino";
import { resolveAcpCommand } from "../acp/command.js";
import { AcpUpstream } from "../daemon/acp.js";
import { ExternalUpstream, OwnedUpstream, type Upstream } from "../daemon/upstream.js";
import { startScriptedModel, type ScriptedModel } from "../scripted-model/server.js";
import { chooseOpencodeBinary, ensureOpencode, opencodeLine, PINNED_OPENCODE_VERSION } from "../server/install.js";
import { createScriptedProject, type ScriptedProject } from "../server/scripted-project.js";
import { errorMessage } from "../util/errors.js";
import { howToGetOpencode, installOpencode, installReporter } from "./install-report.js";
import type { CliIo } from "./io.js";
import { nonEmpty } from "./usage.js";

export interface Backend {
  readonly upstream: Upstream;
  /** The turns' default directory: `--directory`, or the throw-away project of `--scripted`. */
  readonly directory: string;
  /** Stops the scripted model and removes its project (`--scripted`; nothing to do otherwise). */
  cleanup(): Promise<void>;
}

/** The backend the options choose; undefined when what it needs could not be installed or started (said). */
export async function buildBackend(
  o: { acp: string | undefined; opencodeUrl: string | undefined; scripted: boolean; version: string | undefined; directory: string; logger: Logger },
  io: CliIo,
  say: (s: string) => void,
): Promise<Backend | undefined> {
  const { version, directory, logger } = o;
  const nothing = async () => {};
  if (o.acp !== undefined) {
    return { upstream: new AcpUpstream({ command: resolveAcpCommand(o.acp, io.env), env: io.env, directory, logger }), directory, cleanup: nothing };
  }
  if (o.opencodeUrl) {
    const t = { baseUrl: o.opencodeUrl, password: nonEmpty(io.env.OPENCODE_SERVER_PASSWORD), username: nonEmpty(io.env.OPENCODE_SERVER_USERNAME) };
    return { upstream: new ExternalUpstream(t, directory), directory, cleanup: nothing };
  }
  const line = version !== undefined ? { line: opencodeLine(version) } : {};
  const owned = (binary: string | undefined, dir: string, env?: Record<string, string>) =>
    new OwnedUpstream({ directory: dir, binary, ...line, env, logger: logger.child({ component: "opencode" }) });
  // A version asked for is installed into the per-user cache on first use (and wins over $OPENCODE_BIN).
  const install = (v: string) => ensureOpencode(v, { onProgress: installReporter(say) });
  if (!o.scripted) {
    const binary = version === undefined ? chooseOpencodeBinary(io.env).binary : await installOpencode(version, say);
    return binary === undefined ? undefined : { upstream: owned(binary, directory), directory, cleanup: nothing };
  }
  // --scripted: the scripted model and a throw-away project wired to it, stopped and removed at the end.
  let model: ScriptedModel | undefined;
  let project: ScriptedProject | undefined;
  const cleanup = async () => {
    await model?.close().catch(() => {});
    await project?.cleanup().catch(() => {});
  };
  try {
    const binary = version !== undefined ? await install(version) : (nonEmpty(io.env.OPENCODE_BIN) ?? (await install(PINNED_OPENCODE_VERSION)));
    model = await startScriptedModel();
    project = await createScriptedProject({ modelUrl: model.url, permission: "ask" });
    say(`scripted model on ${model.url}; project ${project.dir}`);
    return { upstream: owned(binary, project.dir, { ...project.env }), directory: project.dir, cleanup };
  } catch (err) {
    say(`could not start the scripted model: ${errorMessage(err)}`);
    await cleanup();
    return undefined;
  }
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
