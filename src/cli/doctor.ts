/**
 * `opencode-bridge doctor`: which opencode the CLI would start and from where,
 * the cache and what it holds; `opencode-bridge install`: fill the cache.
 */
import { BRIDGE_VERSION } from "../daemon/status.js";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  cacheRootSource,
  CACHE_ENV,
  cachedOpencodeBinary,
  chooseOpencodeBinary,
  ensureOpencode,
  InstallError,
  opencodeLine,
  opencodePackage,
  PINNED_BY_LINE,
  PINNED_OPENCODE2_VERSION,
  PINNED_OPENCODE_VERSION,
  resolveOpencodeVersion,
} from "../server/install.js";
import { binaryVersion } from "../server/managed.js";
import { ACP_AGENTS, cachedAgentCommand } from "../acp/install.js";
import { installReporter } from "./install-report.js";
import type { CliIo } from "./io.js";
import { parseOptions, UsageError } from "./usage.js";
import { errorMessage } from "../util/errors.js";

export async function runDoctor(args: string[], io: CliIo): Promise<number> {
  parseOptions("doctor", args, {}, false);
  const out = (s: string) => io.stdout.write(`${s}\n`);
  const { root, from } = cacheRootSource(io.env);
  const choice = chooseOpencodeBinary(io.env);
  out(`opencode-bridge:  ${BRIDGE_VERSION}`);
  out(`pinned opencode:  1.x ${spec(PINNED_OPENCODE_VERSION)} (the default), 2.x ${spec(PINNED_OPENCODE2_VERSION)} (--opencode-version 2)`);
  if (choice.found) {
    const version = await binaryVersion(choice.binary, io.env);
    out(`would run:        ${choice.binary} (from ${choice.from}${version ? `, version ${version}` : ", its --version did not answer"})`);
  } else if (choice.from === "OPENCODE_BIN") {
    out(`would run:        nothing: OPENCODE_BIN is ${choice.binary}, which does not exist`);
  } else {
    out("would run:        nothing found (no OPENCODE_BIN, no opencode-ai package, nothing cached, no opencode on PATH)");
  }
  out(`cache:            ${root} (from ${from}${from === `$${CACHE_ENV}` ? "" : `; override with $${CACHE_ENV}`})`);
  // What demo and --scripted start, for each line (`--opencode-version 1|2`).
  for (const line of [1, 2] as const) {
    const v = PINNED_BY_LINE[line];
    const have = cachedOpencodeBinary(v, root);
    const label = line === 1 ? "demo, --scripted:" : "  --opencode-version 2:";
    out(`${label.padEnd(17)} ${have ?? `would first install ${spec(v)} into ${join(root, "opencode", v)} (needs npm and the registry)`}`);
  }
  const dir = join(root, "opencode");
  const versions = existsSync(dir)
    ? readdirSync(dir).filter((v) => !v.includes(".partial-") && cachedOpencodeBinary(v, root) !== undefined)
    : [];
  out(`cached versions:  ${versions.length > 0 ? versions.map((v) => `${v} (${opencodeLine(v)}.x)`).join(", ") : "none"}`);
  // The ACP agents `prompt --acp "claude-agent-acp"` / `"codex-acp"` run from the cache.
  for (const name of ["claude", "codex"] as const) {
    const a = ACP_AGENTS[name];
    out(`${`acp ${name}:`.padEnd(18)}${cachedAgentCommand(name, root) ? `${a.pkg}@${a.version} cached` : `${a.pkg}@${a.version} not installed`}`);
  }
  out(`npm:              ${(await binaryVersion("npm")) ?? "not found (needed only to install into the cache)"}`);
  out(`node:             ${process.versions.node}`);
  if (!choice.found) out(`\nTo get one: opencode-bridge install (or set OPENCODE_BIN, or pass --url / --opencode-url).`);
  return choice.found ? 0 : 1;
}

const spec = (v: string) => `${opencodePackage(v)}@${v}`;

export async function runInstall(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions("install", args, { version: { type: "string" } }, false);
  const version = values.version === undefined ? PINNED_OPENCODE_VERSION : resolveOpencodeVersion(values.version);
  if (version === undefined) {
    throw new UsageError(`--version takes a version such as ${PINNED_OPENCODE_VERSION} or ${PINNED_OPENCODE2_VERSION} (or 1, 2: each line's pinned version), got ${JSON.stringify(values.version)}`);
  }
  const say = (s: string) => io.stderr.write(`opencode-bridge: ${s}\n`);
  const root = cacheRootSource(io.env).root;
  const had = cachedOpencodeBinary(version, root);
  try {
    const bin = await ensureOpencode(version, { root, onProgress: installReporter(say) });
    io.stdout.write(`${bin}\n`);
    if (had) say(`${spec(version)} is already in the cache`);
    return 0;
  } catch (err) {
    say(err instanceof InstallError ? err.message : `could not install ${spec(version)}: ${errorMessage(err)}`);
    return 1;
  }
}
