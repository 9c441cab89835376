/**
 * A live OpenCode for end-to-end tests: the scripted model on loopback, a
 * throw-away project wired to it, and a real `opencode serve` (the pinned
 * version, or $OPENCODE_E2E_VERSION), all stopped by `stop()`.
 */
import { startScriptedModel, type ScriptedModel } from "../../src/scripted-model/server.js";
import { createScriptedProject, type PermissionAction, type ScriptedProject } from "../../src/server/scripted-project.js";
import { startManagedServer, type ManagedServer } from "../../src/server/managed.js";
import { ensureOpencode, PINNED_OPENCODE_VERSION } from "../../src/server/install.js";

export const E2E_VERSION = process.env.OPENCODE_E2E_VERSION ?? PINNED_OPENCODE_VERSION;

export interface Live {
  readonly model: ScriptedModel;
  readonly project: ScriptedProject;
  readonly server: ManagedServer;
  readonly url: string;
  readonly directory: string;
  /** The Basic-auth password the server wants (always one on 2.x), undefined: none. */
  readonly password: string | undefined;
  stop(): Promise<void>;
}

/** `version`: the OpenCode to run (default E2E_VERSION; PINNED_OPENCODE2_VERSION for the 2.x line). */
export async function startLive(opts: { permission?: PermissionAction; password?: string; version?: string } = {}): Promise<Live> {
  const binary = await ensureOpencode(opts.version ?? E2E_VERSION);
  const model = await startScriptedModel();
  const project = await createScriptedProject({
    modelUrl: model.url,
    permission: opts.permission ?? "allow",
    files: { "hello.txt": "hello from the e2e project\n" },
  });
  let server: ManagedServer;
  try {
    server = await startManagedServer({
      binary,
      cwd: project.dir,
      env: project.env,
      password: opts.password,
      readyTimeoutMs: 60_000,
    });
  } catch (err) {
    await model.close();
    await project.cleanup();
    throw err;
  }
  return {
    model,
    project,
    server,
    url: server.url,
    directory: project.dir,
    password: server.password,
    stop: async () => {
      await server.stop();
      await model.close();
      await project.cleanup();
    },
  };
}

/** `[scenario:NAME]` prompt text for the scripted model. */
export const scenario = (name: string, extra = "") => `[scenario:${name}] ${extra || `Please run the ${name} scenario.`}`;
