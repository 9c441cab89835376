/**
 * Finding — and on first use installing — the ACP agents the bridge is tested with,
 * the way src/server/install.ts does for `opencode-ai`: a pinned version installed
 * with the machine's own npm into the per-user cache (`<cache root>/acp/<agent>/<version>`),
 * staged in a sibling directory renamed into place once complete, found from any
 * directory later. Nothing is written into the current directory. `opencode acp`
 * needs no install of its own: it comes with OpenCode (`ensureOpencode`).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot, installIntoCache } from "../server/install.js";

export interface AcpAgentPackage {
  /** The npm package and the version pinned. */
  readonly pkg: string;
  readonly version: string;
  /** The command that starts the agent from an install directory (`<dir>/node_modules/…`). */
  readonly command: (modules: string) => readonly string[];
  /** A file that exists only when the install is complete (its native binary). */
  readonly complete: (modules: string) => string;
}

const platform = `${process.platform}-${process.arch}`;

/** The agents installed on demand. Their versions are the ones the captures come from. */
export const ACP_AGENTS = {
  claude: {
    pkg: "@agentclientprotocol/claude-agent-acp",
    version: "0.101.0",
    // Run with this Node: the package's bin is a plain ES module with a `node` shebang.
    command: (m) => [process.execPath, join(m, "@agentclientprotocol", "claude-agent-acp", "dist", "index.js")],
    // The native `claude` the Agent SDK runs; without it the adapter fails on the first prompt.
    complete: (m) => join(m, "@anthropic-ai", `claude-agent-sdk-${platform}`, "package.json"),
  },
  codex: {
    pkg: "@zed-industries/codex-acp",
    version: "0.16.0",
    // The platform binary itself: the package's JS wrapper would stand between our signals and it.
    command: (m) => [join(m, "@zed-industries", `codex-acp-${platform}`, "bin", "codex-acp")],
    complete: (m) => join(m, "@zed-industries", `codex-acp-${platform}`, "bin", "codex-acp"),
  },
} as const satisfies Record<string, AcpAgentPackage>;

export type AcpAgentName = keyof typeof ACP_AGENTS;

/** The directory an agent's pinned version is installed into. */
export function agentCacheDir(agent: AcpAgentName, root = cacheRoot()): string {
  const a = ACP_AGENTS[agent];
  return join(root, "acp", agent, a.version);
}

/** The agent's command if its pinned version is installed in the cache. */
export function cachedAgentCommand(agent: AcpAgentName, root?: string): readonly string[] | undefined {
  const modules = join(agentCacheDir(agent, root), "node_modules");
  return existsSync(ACP_AGENTS[agent].complete(modules)) ? ACP_AGENTS[agent].command(modules) : undefined;
}

export interface AgentInstallOptions {
  readonly root?: string;
  readonly npm?: string;
  /** Give up after this long (default 10 minutes: claude-agent-acp is ~400 MB). */
  readonly timeoutMs?: number;
}

/** Installs the agent's pinned version into the cache unless it is there; returns its command. */
export async function ensureAgent(agent: AcpAgentName, opts: AgentInstallOptions = {}): Promise<readonly string[]> {
  const root = opts.root ?? cacheRoot();
  const have = cachedAgentCommand(agent, root);
  if (have) return have;
  const a: AcpAgentPackage = ACP_AGENTS[agent];
  return installIntoCache({
    ...opts,
    spec: `${a.pkg}@${a.version}`,
    dir: agentCacheDir(agent, root),
    found: (dir) => (existsSync(a.complete(join(dir, "node_modules"))) ? a.command(join(dir, "node_modules")) : undefined),
    missing: `no native binary for ${platform}`,
    what: "agent",
  });
}
