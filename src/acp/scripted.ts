/**
 * An ACP agent wired to the scripted model, offline: a throw-away project and an
 * isolated home per agent, so that no user config, key or state leaks in and the
 * agent opens no connection but to the scripted model (facts in
 * /work/shared/agents-offline.md, checked against the agents themselves).
 *
 * `permission: "ask"` makes each agent ask before running a shell command, so the
 * bridge's own permission policy decides; `"allow"` lets the agent run it unasked.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createScriptedProject, tempProject } from "../server/scripted-project.js";

export type ScriptedAgentName = "opencode" | "claude" | "codex";

export interface ScriptedAgentOptions {
  /** The scripted model's port (its `url` is http://127.0.0.1:PORT/v1). */
  readonly modelPort: number;
  /** The command that starts the agent (`[opencode, "acp"]`, `ensureAgent("claude")` …). */
  readonly command: readonly string[];
  readonly permission?: "allow" | "ask";
}

export interface ScriptedAgent {
  readonly command: readonly string[];
  /** The project directory (the ACP session's cwd). */
  readonly dir: string;
  /** The whole environment to run the agent with. */
  readonly env: Readonly<Record<string, string>>;
  cleanup(): Promise<void>;
}

/** The environment every agent gets: the parent's, less anything that would reach a real provider. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // OPENCODE_BRIDGE_* stays: the test run's marker is how its teardown finds leftovers.
    if (v === undefined || (/^(ANTHROPIC|OPENAI|CLAUDE|CODEX|OPENCODE)_/.test(k) && !k.startsWith("OPENCODE_BRIDGE_"))) continue;
    env[k] = v;
  }
  return env;
}

export async function createScriptedAgent(agent: ScriptedAgentName, opts: ScriptedAgentOptions): Promise<ScriptedAgent> {
  const permission = opts.permission ?? "ask";
  if (agent === "opencode") {
    const project = await createScriptedProject({ modelUrl: `http://127.0.0.1:${opts.modelPort}/v1`, permission });
    return {
      command: opts.command,
      dir: project.dir,
      env: { ...baseEnv(), ...project.env, OPENCODE_DISABLE_MODELS_FETCH: "1" },
      cleanup: project.cleanup,
    };
  }
  const { dir, home, cleanup } = await tempProject(`acp-${agent}-`);
  const env: Record<string, string> = { ...baseEnv(), HOME: home, XDG_CONFIG_HOME: join(home, ".config"), XDG_CACHE_HOME: join(home, ".cache") };
  if (agent === "claude") {
    const config = join(home, ".claude");
    await mkdir(config, { recursive: true });
    // `default` mode: the adapter otherwise starts in `auto` and, with a non-Anthropic base URL,
    // appends a billing notice to the first answer. Claude Code runs read-only commands (echo)
    // without asking unless Bash is listed under `ask`.
    // Bypass mode off: the adapter passes --dangerously-skip-permissions otherwise, which Claude
    // Code refuses to run as root (as in containers).
    const base = { defaultMode: "default", disableBypassPermissionsMode: "disable" };
    const permissions = permission === "ask" ? { ...base, ask: ["Bash"] } : { ...base, allow: ["Bash", "Read"] };
    await writeFile(join(config, "settings.json"), JSON.stringify({ permissions }, null, 2));
    Object.assign(env, {
      ANTHROPIC_BASE_URL: `http://127.0.0.1:${opts.modelPort}`,
      ANTHROPIC_API_KEY: "sk-ant-scripted-not-a-secret",
      CLAUDE_CONFIG_DIR: config,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
      // Else a prompt-suggestion model call follows every turn.
      CLAUDE_CODE_ENABLE_PROMPT_SUGGESTION: "false",
    });
  } else {
    const codexHome = join(home, ".codex");
    await mkdir(join(codexHome, "rules"), { recursive: true });
    // A model slug Codex knows (an unknown one prepends a warning to the answer); the Responses
    // wire API (chat is refused); full access (its Linux sandbox cannot start in containers).
    await writeFile(
      join(codexHome, "config.toml"),
      [
        'model = "gpt-5.4"',
        'model_provider = "scripted"',
        'sandbox_mode = "danger-full-access"',
        `approval_policy = "${permission === "ask" ? "untrusted" : "never"}"`,
        "",
        "[model_providers.scripted]",
        'name = "Scripted"',
        `base_url = "http://127.0.0.1:${opts.modelPort}/v1"`,
        'wire_api = "responses"',
        'env_key = "SCRIPTED_API_KEY"',
        "",
      ].join("\n"),
    );
    // Codex takes `echo` for safe and runs it unasked, unless a rule says to prompt.
    if (permission === "ask") await writeFile(join(codexHome, "rules", "default.rules"), 'prefix_rule(pattern=["echo"], decision="prompt")\n');
    Object.assign(env, { CODEX_HOME: codexHome, SCRIPTED_API_KEY: "sk-scripted-not-a-secret" });
  }
  return { command: opts.command, dir, env, cleanup };
}
