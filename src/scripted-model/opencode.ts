/**
 * A whole offline OpenCode for trying the bridge and for tests of a host: the
 * scripted model on loopback, a throw-away project wired to it (isolated HOME),
 * and an `opencode serve` owned by the caller (the pinned version from the
 * per-user cache, installed there on first use). No API key, no network after
 * the first install.
 */
import type { Logger } from "pino";
import { ensureOpencode, type InstallProgress, opencodeLine, type OpencodeLine, PINNED_OPENCODE_VERSION } from "../server/install.js";
import { OwnedServer } from "../server/owned.js";
import { createScriptedProject, type PermissionAction, type ScriptedProject } from "../server/scripted-project.js";
import type { Script } from "./scripts.js";
import { startScriptedModel, type ScriptedModel } from "./server.js";

export interface ScriptedOpencodeOptions {
  /** OpenCode's permission for edit, bash and webfetch in the project (default allow). */
  readonly permission?: PermissionAction;
  /** Files to create in the project directory. */
  readonly files?: Readonly<Record<string, string>>;
  /** Scripts of your own, chosen with `[scenario:NAME]` like the built-in ones. */
  readonly extraScripts?: Readonly<Record<string, Script>>;
  /**
   * Which OpenCode to install and start when no `binary` is given (default: the
   * pinned 1.x, `PINNED_OPENCODE_VERSION`; `PINNED_OPENCODE2_VERSION` for 2.x).
   */
  readonly version?: string;
  /** The `opencode` binary (default: `version` from the cache, installed on first use). */
  readonly binary?: string;
  /** Called while the pinned opencode-ai is being installed (first use only). */
  readonly onInstall?: (p: InstallProgress) => void;
  readonly logger?: Logger;
  /** How long `opencode serve` may take to answer (default 60 s). */
  readonly readyTimeoutMs?: number;
}

export interface ScriptedOpencode {
  /** Base URL of the `opencode serve` (pass as the adapter's `baseUrl`). */
  readonly url: string;
  /** Its generated password (pass as the adapter's `password`). */
  readonly password: string;
  /** The project directory (pass as the adapter's `directory`). */
  readonly directory: string;
  /** The server's version. */
  readonly version: string;
  /** The server's line: 1 (`/global/health`, `/event`) or 2 (`/api/*`). */
  readonly line: OpencodeLine;
  /** The scripted model (its `url` and every request it received). */
  readonly model: ScriptedModel;
  readonly project: ScriptedProject;
  /** Stop the server and the model and remove the project. */
  stop(): Promise<void>;
}

export async function startScriptedOpencode(opts: ScriptedOpencodeOptions = {}): Promise<ScriptedOpencode> {
  const version = opts.version ?? PINNED_OPENCODE_VERSION;
  const binary = opts.binary ?? (await ensureOpencode(version, { onProgress: opts.onInstall }));
  const model = await startScriptedModel({ extraScripts: opts.extraScripts });
  let project: ScriptedProject | undefined;
  let owned: OwnedServer | undefined;
  const stop = async () => {
    await owned?.stop().catch(() => {});
    await model.close().catch(() => {});
    await project?.cleanup().catch(() => {});
  };
  try {
    project = await createScriptedProject({ modelUrl: model.url, permission: opts.permission, files: opts.files });
    owned = new OwnedServer({
      directory: project.dir,
      binary,
      // A binary from the cache is of the version asked for; one given is asked what it is.
      ...(opts.binary === undefined ? { line: opencodeLine(version) } : {}),
      env: project.env,
      logger: opts.logger,
      readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    });
    const server = await owned.ensure();
    return {
      url: server.url,
      password: owned.password,
      directory: project.dir,
      version: server.version,
      line: server.line,
      model,
      project,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
