/**
 * Finding — and on first use installing — a given `opencode` version.
 *
 * `opencode-ai` ships its server binary inside per-platform optional packages.
 * It is deliberately not a dependency of this package: a lockfile that holds it
 * is only as complete as the registry it was made against (a registry without
 * the other platforms' packages yields a lockfile `npm ci` rejects). Instead a
 * pinned version is installed on demand with the machine's own npm into one
 * cache per user, `<cache root>/opencode/<version>`, so that it is installed once
 * and found from any directory (the CLI, the tests, an embedding host). Nothing
 * is ever written into the current directory.
 *
 * The cache root is $OPENCODE_BRIDGE_CACHE, else $XDG_CACHE_HOME/opencode-bridge,
 * else ~/.cache/opencode-bridge.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { errorMessage } from "../util/errors.js";

/** The OpenCode version the bridge is developed and tested against. */
export const PINNED_OPENCODE_VERSION = "1.18.33";

/** The environment variable that overrides the cache root. */
export const CACHE_ENV = "OPENCODE_BRIDGE_CACHE";

type Env = Readonly<Record<string, string | undefined>>;

/** Where the cache root is, and which rule chose it (for `opencode-bridge doctor`). */
export function cacheRootSource(env: Env = process.env): { root: string; from: string } {
  const own = env[CACHE_ENV];
  if (own !== undefined && own !== "") return { root: own, from: `$${CACHE_ENV}` };
  // The XDG spec says a relative $XDG_CACHE_HOME is invalid and must be ignored.
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return { root: join(xdg, "opencode-bridge"), from: "$XDG_CACHE_HOME" };
  return { root: join(homedir(), ".cache", "opencode-bridge"), from: "~/.cache" };
}

/** The per-user cache root: $OPENCODE_BRIDGE_CACHE, $XDG_CACHE_HOME/opencode-bridge or ~/.cache/opencode-bridge. */
export function cacheRoot(env: Env = process.env): string {
  return cacheRootSource(env).root;
}

/** The directory `opencode-ai@version` is installed into. */
export function cacheDir(version: string, root = cacheRoot()): string {
  return join(root, "opencode", version);
}

/** The `opencode` executable an installed `opencode-ai` package directory declares in its `bin`. */
export function opencodeBinaryIn(packageDir: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
      bin?: string | Record<string, string>;
    };
    const rel = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.opencode;
    if (rel === undefined) return undefined;
    const bin = join(packageDir, rel);
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** The `opencode` binary of an `opencode-ai` package the host installed next to this one, if any. */
export function bundledOpencodeBinary(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return opencodeBinaryIn(dirname(require.resolve("opencode-ai/package.json")));
  } catch {
    return undefined;
  }
}

/** The binary of `version` in the cache, if it is installed there. */
export function cachedOpencodeBinary(version: string, root?: string): string | undefined {
  const pkgDir = join(cacheDir(version, root), "node_modules", "opencode-ai");
  return existsSync(pkgDir) ? opencodeBinaryIn(pkgDir) : undefined;
}

/** What an install reports while it runs. */
export interface InstallProgress {
  readonly phase: "start" | "waiting" | "done";
  readonly version: string;
  readonly dir: string;
  readonly elapsedMs: number;
}

export interface InstallOptions {
  /** The cache root (default: `cacheRoot()`). */
  readonly root?: string;
  /** Called when the install starts, every `progressEveryMs` while npm runs, and when it is done. */
  readonly onProgress?: (p: InstallProgress) => void;
  readonly progressEveryMs?: number;
  /** The npm executable (default: `npm` on PATH). */
  readonly npm?: string;
  /** Give up after this long (default 10 minutes). */
  readonly timeoutMs?: number;
}

/** An install that failed; `message` is one sentence ending in npm's own reason. */
export class InstallError extends Error {
  constructor(
    message: string,
    readonly npmOutput: string,
  ) {
    super(message);
    this.name = "InstallError";
  }
}

/**
 * Install `opencode-ai@version` into the cache unless it is there; returns its binary.
 *
 * npm installs into a fresh sibling directory that is renamed into place only once
 * the binary is in it, so a failed or interrupted install leaves no half-made cache
 * behind, and two installs racing both end with a complete one.
 */
export async function ensureOpencode(
  version = PINNED_OPENCODE_VERSION,
  rootOrOptions?: string | InstallOptions,
): Promise<string> {
  const opts: InstallOptions = typeof rootOrOptions === "string" ? { root: rootOrOptions } : (rootOrOptions ?? {});
  const root = opts.root ?? cacheRoot();
  const have = cachedOpencodeBinary(version, root);
  if (have) return have;
  const dir = cacheDir(version, root);
  const started = Date.now();
  const report = (phase: InstallProgress["phase"]) =>
    opts.onProgress?.({ phase, version, dir, elapsedMs: Date.now() - started });
  report("start");
  const timer = setInterval(() => report("waiting"), opts.progressEveryMs ?? 10_000);
  let staging: string | undefined;
  try {
    // Unique per install, even for two in one process within one millisecond.
    await mkdir(dirname(dir), { recursive: true });
    staging = await mkdtemp(`${dir}.partial-`);
    await writeFile(join(staging, "package.json"), JSON.stringify({ name: `opencode-${version}`, private: true }));
    await runNpm(opts.npm ?? "npm", [
        "install",
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--loglevel=error",
        // Offline, npm's defaults retry for over a minute before saying so; a few seconds is enough.
        "--fetch-retries=2",
        "--fetch-retry-mintimeout=1000",
        "--fetch-retry-maxtimeout=5000",
        `opencode-ai@${version}`,
      ], staging, version, opts.timeoutMs ?? 10 * 60_000);
    const stagedBin = opencodeBinaryIn(join(staging, "node_modules", "opencode-ai"));
    if (!stagedBin) {
      throw new InstallError(`npm installed opencode-ai@${version}, but it holds no opencode binary for ${process.platform}-${process.arch}`, "");
    }
    try {
      await rename(staging, dir);
    } catch (err) {
      // Another install finished first: use its copy.
      if (cachedOpencodeBinary(version, root) === undefined) throw err;
    }
  } catch (err) {
    if (err instanceof InstallError) throw err;
    throw new InstallError(`could not install opencode-ai@${version} into ${dir}: ${errorMessage(err)}`, "");
  } finally {
    clearInterval(timer);
    if (staging !== undefined) await rm(staging, { recursive: true, force: true }).catch(() => {});
  }
  const bin = cachedOpencodeBinary(version, root);
  if (!bin) throw new InstallError(`installed opencode-ai@${version} into ${dir}, but found no binary in it`, "");
  report("done");
  return bin;
}

/** npm's own reason for a failure: its `code` and the first message line, without the log-file noise. */
export function npmReason(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.replace(/^npm (?:error|ERR!)\s*/, "").trim())
    .filter((l) => l !== "" && !/complete log of this run|^A complete log|^Log files were not written|^You can rerun/i.test(l));
  const code = lines.find((l) => /^code \S+$/.test(l))?.slice(5);
  const message = lines.find((l) => !/^(code|errno|syscall) \S+$/.test(l));
  return [code, message].filter((x) => x !== undefined).join(": ") || "npm gave no reason";
}

function runNpm(npm: string, args: string[], cwd: string, version: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    let settled = false;
    const child = spawn(npm, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      finish(new InstallError(`installing opencode-ai@${version} with npm did not finish within ${Math.round(timeoutMs / 1000)} s`, output));
    }, timeoutMs);
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const keep = (c: string) => {
      output += c;
      if (output.length > 64 * 1024) output = output.slice(-64 * 1024);
    };
    child.stdout.setEncoding("utf8").on("data", keep);
    child.stderr.setEncoding("utf8").on("data", keep);
    child.once("error", (err) =>
      finish(new InstallError(`could not run npm to install opencode-ai@${version} (${errorMessage(err)})`, output)),
    );
    child.once("close", (code, signal) => {
      if (code === 0) finish();
      else {
        const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network/i.test(output);
        const what = offline ? "npm could not reach the registry" : `npm failed (${signal ?? `exit ${code}`})`;
        finish(new InstallError(`could not install opencode-ai@${version}: ${what}: ${npmReason(output)}`, output));
      }
    });
  });
}

/** Where the binary used without a configured one comes from (see `defaultOpencodeBinary`). */
export interface BinaryChoice {
  /** The path, or `opencode` to be looked up on PATH. */
  readonly binary: string;
  readonly from: "OPENCODE_BIN" | "opencode-ai package" | "cache" | "PATH" | "none";
  /** Whether the binary exists (for `PATH`, whether PATH has it). */
  readonly found: boolean;
}

function onPath(name: string, env: Env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * The binary to run when none is configured: $OPENCODE_BIN, an `opencode-ai`
 * package the host installed, the cached pinned version, then `opencode` on PATH.
 */
export function chooseOpencodeBinary(env: Env = process.env): BinaryChoice {
  const fromEnv = env.OPENCODE_BIN;
  if (fromEnv !== undefined && fromEnv !== "") return { binary: fromEnv, from: "OPENCODE_BIN", found: existsSync(fromEnv) };
  const bundled = bundledOpencodeBinary();
  if (bundled) return { binary: bundled, from: "opencode-ai package", found: true };
  const cached = cachedOpencodeBinary(PINNED_OPENCODE_VERSION, cacheRoot(env));
  if (cached) return { binary: cached, from: "cache", found: true };
  const path = onPath("opencode", env);
  if (path) return { binary: path, from: "PATH", found: true };
  return { binary: "opencode", from: "none", found: false };
}

export function defaultOpencodeBinary(): string {
  return chooseOpencodeBinary().binary;
}
