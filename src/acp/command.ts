/**
 * The argv for an `--acp` command line: `opencode acp` runs the OpenCode the bridge
 * would start (src/server/install.ts), `claude-agent-acp` and `codex-acp` the pinned
 * versions in the per-user cache when installed there; anything else as given.
 */
import { chooseOpencodeBinary, cacheRoot } from "../server/install.js";
import { cachedAgentCommand } from "./install.js";
import { splitCommand } from "./process.js";

type Env = Readonly<Record<string, string | undefined>>;

export function resolveAcpCommand(line: string, env: Env = process.env): string[] {
  const [first, ...rest] = splitCommand(line);
  if (first === undefined) return [];
  const root = cacheRoot(env);
  if (first === "opencode") {
    const choice = chooseOpencodeBinary(env);
    return [choice.found ? choice.binary : first, ...rest];
  }
  const cached = first === "claude-agent-acp" ? cachedAgentCommand("claude", root) : first === "codex-acp" ? cachedAgentCommand("codex", root) : undefined;
  return cached ? [...cached, ...rest] : [first, ...rest];
}
