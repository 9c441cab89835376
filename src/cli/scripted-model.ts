/**
 * `opencode-bridge scripted-model`: the offline scripted model for your own
 * OpenCode, host or tests. Prints where it is and a ready project, then runs
 * until Ctrl-C/SIGTERM and removes what it made.
 */
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { scenarioList } from "../scripted-model/scenarios.js";
import { startScriptedModel } from "../scripted-model/server.js";
import { chooseOpencodeBinary } from "../server/install.js";
import {
  createScriptedProject,
  type PermissionAction,
  type ScriptedProject,
  SCRIPTED_MODEL,
  SCRIPTED_PROVIDER,
  scriptedProvider,
} from "../server/scripted-project.js";
import type { CliIo } from "./io.js";
import { parseOptions, UsageError } from "./usage.js";
import { errorMessage } from "../util/errors.js";

/** DIR/opencode.json as an object (a new one when missing); a usage error when it cannot be merged into. */
function readConfig(file: string): Record<string, unknown> {
  if (!existsSync(file)) return { $schema: "https://opencode.ai/config.json" };
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("it is not a JSON object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot add the provider to ${file}: ${errorMessage(err)} (opencode.jsonc with comments is not supported)`);
  }
}

export async function runScriptedModel(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions(
    "scripted-model",
    args,
    { port: { type: "string" }, directory: { type: "string" }, permission: { type: "string" } },
    false,
  );
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!/^\d+$/.test(values.port ?? "0") || port > 65_535) throw new UsageError(`--port takes 0 to 65535, got ${JSON.stringify(values.port)}`);
  const permission = (values.permission ?? "allow") as PermissionAction;
  if (!["allow", "ask", "deny"].includes(permission)) {
    throw new UsageError(`--permission takes allow, ask or deny, got ${JSON.stringify(values.permission)}`);
  }
  if (values.directory !== undefined && values.permission !== undefined) {
    throw new UsageError("--permission applies to the project this command makes; with --directory, set it in your opencode.json");
  }
  const dir = values.directory === undefined ? undefined : resolve(io.cwd, values.directory);
  if (dir !== undefined && !existsSync(dir)) throw new UsageError(`--directory: no such directory: ${values.directory}`);
  const configFile = dir === undefined ? undefined : join(dir, "opencode.json");
  const existing = configFile === undefined ? undefined : readConfig(configFile);

  const say = (s: string) => io.stdout.write(`${s}\n`);
  let model;
  try {
    model = await startScriptedModel({ port });
  } catch (err) {
    io.stderr.write(`opencode-bridge: could not start the scripted model: ${errorMessage(err)}\n`);
    return 1;
  }
  let project: ScriptedProject | undefined;
  const stopped = new Promise<void>((r) => {
    const off = io.onSignal(["SIGINT", "SIGTERM"], () => {
      off();
      r();
    });
  });
  try {
    const name = `${SCRIPTED_PROVIDER}/${SCRIPTED_MODEL}`;
    say(`scripted model: ${model.url}  (OpenAI-compatible chat completions; model "${name}")`);
    if (configFile !== undefined && existing !== undefined) {
      // The scripted provider merged into DIR/opencode.json, next to the providers there.
      const provider = (typeof existing.provider === "object" && existing.provider !== null ? existing.provider : {}) as Record<string, unknown>;
      existing.provider = { ...provider, [SCRIPTED_PROVIDER]: scriptedProvider(model.url) };
      await writeFile(configFile, `${JSON.stringify(existing, null, 2)}\n`);
      say(`provider "${SCRIPTED_PROVIDER}" written into ${configFile}`);
      say(`use it with --model ${name} (opencode-bridge prompt) or "model": "${name}" in a turn`);
    } else {
      project = await createScriptedProject({ modelUrl: model.url, permission });
      const env = Object.entries(project.env).map(([k, v]) => `${k}=${v}`).join(" ");
      say(`project:        ${project.dir}  (opencode.json uses only the scripted model; permission ${permission})`);
      say(`environment:    ${env}`);
      say("");
      // Commands that run as printed: the opencode that would run (the cache's pinned one, not
      // whatever `opencode` PATH may lack), and this very CLI.
      const choice = chooseOpencodeBinary(io.env);
      say("Start OpenCode on it, then drive it with the bridge:");
      if (!choice.found) say(`  (no opencode found: run \`${selfCommand()} install\` first)`);
      say(`  (cd ${sh(project.dir)} && env ${env} ${sh(choice.found ? choice.binary : "opencode")} serve --port 4096)`);
      say(`  ${selfCommand()} prompt --url http://127.0.0.1:4096 --directory ${sh(project.dir)} "[scenario:tool] hello"`);
    }
    say("");
    say("Scenarios (choose one with [scenario:NAME] in the prompt):");
    say(scenarioList());
    say("");
    say("Ctrl-C stops the model" + (project ? " and removes the project." : "."));
    await stopped;
    return 0;
  } finally {
    await model.close().catch(() => {});
    await project?.cleanup().catch(() => {});
  }
}

/** A word for a POSIX shell: as is when plain, else single-quoted. */
function sh(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** This CLI as it was started: `opencode-bridge` when on PATH by that name, else node and its script. */
function selfCommand(): string {
  const script = process.argv[1] ?? "";
  return /opencode-bridge$/.test(script) ? "opencode-bridge" : `${sh(process.execPath)} ${sh(script)}`;
}
