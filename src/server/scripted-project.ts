/**
 * A throw-away OpenCode project wired to the scripted model: a temporary
 * directory with an `opencode.json` naming a custom OpenAI-compatible provider
 * (read alike by 1.x and 2.x; 2.x applies `permission.bash` to its `shell` tool),
 * and an isolated HOME/XDG environment so that the user's own OpenCode config,
 * auth and state never leak into a capture, a test or the demo.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type PermissionAction = "allow" | "ask" | "deny";

export interface ScriptedProjectOptions {
  /** Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:PORT/v1 */
  readonly modelUrl: string;
  /** OpenCode's `permission` setting for edit, bash and webfetch. Default: allow. */
  readonly permission?: PermissionAction;
  /** Files to create in the project directory. */
  readonly files?: Readonly<Record<string, string>>;
}

export interface ScriptedProject {
  /** The project directory (pass it as `directory` on every call). */
  readonly dir: string;
  /** Environment for `opencode serve`: isolated HOME and XDG directories. */
  readonly env: Readonly<Record<string, string>>;
  /** The model to ask for: provider/model. */
  readonly model: { readonly providerID: string; readonly modelID: string };
  cleanup(): Promise<void>;
}

export const SCRIPTED_PROVIDER = "scripted";
export const SCRIPTED_MODEL = "scripted-model";

/** The `provider` entry of an opencode.json that names the scripted model at `modelUrl`. */
export function scriptedProvider(modelUrl: string): Record<string, unknown> {
  return {
    npm: "@ai-sdk/openai-compatible",
    name: "Scripted",
    options: { baseURL: modelUrl, apiKey: "sk-scripted-not-a-secret" },
    models: { [SCRIPTED_MODEL]: { name: "Scripted model" } },
  };
}

/** A temporary directory with a `project` and an isolated `home` in it; `cleanup` removes it all. */
export async function tempProject(prefix: string): Promise<{ dir: string; home: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const dir = join(root, "project");
  const home = join(root, "home");
  await mkdir(dir, { recursive: true });
  await mkdir(home, { recursive: true });
  return { dir, home, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export async function createScriptedProject(opts: ScriptedProjectOptions): Promise<ScriptedProject> {
  const { dir, home, cleanup } = await tempProject("opencode-bridge-");
  const permission = opts.permission ?? "allow";
  // An opencode.json for a project that uses only the scripted model.
  const config = {
    $schema: "https://opencode.ai/config.json",
    autoupdate: false,
    share: "disabled",
    model: `${SCRIPTED_PROVIDER}/${SCRIPTED_MODEL}`,
    small_model: `${SCRIPTED_PROVIDER}/${SCRIPTED_MODEL}`,
    provider: { [SCRIPTED_PROVIDER]: scriptedProvider(opts.modelUrl) },
    permission: { edit: permission, bash: permission, webfetch: permission },
  };
  await writeFile(join(dir, "opencode.json"), JSON.stringify(config, null, 2));
  for (const [name, content] of Object.entries(opts.files ?? {})) {
    await writeFile(join(dir, name), content);
  }
  const env = {
    HOME: home,
    XDG_DATA_HOME: join(home, "data"),
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_STATE_HOME: join(home, "state"),
    XDG_CACHE_HOME: join(home, "cache"),
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    // Offline: no look-up of the models catalog (both lines read it; the scripted model is not in it).
    OPENCODE_DISABLE_MODELS_FETCH: "1",
  };
  return {
    dir,
    env,
    model: { providerID: SCRIPTED_PROVIDER, modelID: SCRIPTED_MODEL },
    cleanup,
  };
}
