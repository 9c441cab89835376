/**
 * Finding — and on first use installing — a given `opencode` version, of either line.
 *
 * OpenCode 1.x is the npm package `opencode-ai` (after 1.18.33 only its platform
 * packages, `opencode-<os>-<arch>`, are published); 2.x is `@opencode/cli`, whose
 * install pulls every platform's binary (~815 MB), so for 2.x only this
 * platform's package, `@opencode/cli-<platform>-<arch>` (the binary alone), is
 * installed. `opencode-ai` ships its server binary inside per-platform optional packages.
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
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { errorMessage } from "../util/errors.js";
import { InstallError, runNpm } from "./npm.js";

export { InstallError } from "./npm.js";

/** The OpenCode version the bridge is developed and tested against. */
export const PINNED_OPENCODE_VERSION = "1.18.33";

/** The OpenCode 2.x version the bridge is developed and tested against. */
export const PINNED_OPENCODE2_VERSION = "2.1.2";

/** An OpenCode release line: 1 (`opencode-ai`, the `/global/health`, `/event` server) or 2 (`@opencode/cli`, `/api/*`). */
export type OpencodeLine = 1 | 2;

/** The pinned version of each line: what `1` and `2` name where a version is chosen (`--opencode-version`). */
export const PINNED_BY_LINE: Readonly<Record<OpencodeLine, string>> = { 1: PINNED_OPENCODE_VERSION, 2: PINNED_OPENCODE2_VERSION };

/**
 * A chosen OpenCode version: `1` or `2` (that line's pinned version) or a version
 * such as `1.15.13` or `2.1.2`; undefined when it is none of these.
 */
export function resolveOpencodeVersion(choice: string): string | undefined {
  const c = choice.trim();
  if (c === "1" || c === "2") return PINNED_BY_LINE[Number(c) as OpencodeLine];
  return /^\d+\.\d+\.\d+(-[\w.]+)?$/.test(c) ? c : undefined;
}

/** The line of a version string (`2.1.2` → 2); anything not starting with 2 or more is 1.x. */
export function opencodeLine(version: string): OpencodeLine {
  const major = Number.parseInt(version, 10);
  return Number.isFinite(major) && major >= 2 ? 2 : 1;
}

/**
 * The last `opencode-ai` release: later 1.x releases (1.19.5 …) are published only as
 * their platform packages, `opencode-<os>-<arch>` (what `opencode-ai` depended on).
 */
export const LAST_OPENCODE_AI_VERSION = "1.18.33";

/** Whether version a is after version b (x.y.z, numerically; a pre-release tag is ignored). */
function after(a: string, b: string): boolean {
  const pa = a.split(/[.-]/).slice(0, 3).map(Number);
  const pb = b.split(/[.-]/).slice(0, 3).map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) > (pb[i] ?? 0);
  return false;
}

/** The npm package that holds `version`'s binary for this platform. */
export function opencodePackage(version: string, platform: string = process.platform, arch: string = process.arch): string {
  if (opencodeLine(version) === 2) return `@opencode/cli-${platform}-${arch}`;
  return after(version, LAST_OPENCODE_AI_VERSION) ? `opencode-${platform === "win32" ? "windows" : platform}-${arch}` : "opencode-ai";
}

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

/** The directory `version` (its package, see `opencodePackage`) is installed into. */
export function cacheDir(version: string, root = cacheRoot()): string {
  return join(root, "opencode", version);
}

/**
 * The `opencode` executable an installed package directory declares in its `bin`
 * (`opencode-ai`), or holds at `bin/opencode` (2.x's platform package declares no `bin`).
 */
export function opencodeBinaryIn(packageDir: string): string | undefined {
  const plain = join(packageDir, "bin", process.platform === "win32" ? "opencode.exe" : "opencode");
  try {
    const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
      bin?: string | Record<string, string>;
    };
    const rel = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.opencode;
    const bin = rel === undefined ? plain : join(packageDir, rel);
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** The binary of `version` in the cache, if it is installed there. */
export function cachedOpencodeBinary(version: string, root?: string): string | undefined {
  return opencodeBinaryIn(join(cacheDir(version, root), "node_modules", opencodePackage(version)));
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

/**
 * Install `version` into the cache unless it is there; returns its binary. A 2.x
 * version installs only this platform's `@opencode/cli-<platform>-<arch>`.
 */
export async function ensureOpencode(version = PINNED_OPENCODE_VERSION, opts: InstallOptions = {}): Promise<string> {
  const root = opts.root ?? cacheRoot();
  const have = cachedOpencodeBinary(version, root);
  if (have) return have;
  const dir = cacheDir(version, root);
  const pkg = opencodePackage(version);
  const started = Date.now();
  const report = (phase: InstallProgress["phase"]) =>
    opts.onProgress?.({ phase, version, dir, elapsedMs: Date.now() - started });
  report("start");
  const timer = setInterval(() => report("waiting"), opts.progressEveryMs ?? 10_000);
  const bin = await installIntoCache({
    ...opts,
    spec: `${pkg}@${version}`,
    dir,
    found: (d) => opencodeBinaryIn(join(d, "node_modules", pkg)),
    missing: `no opencode binary for ${process.platform}-${process.arch}`,
    what: "binary",
  }).finally(() => clearInterval(timer));
  report("done");
  return bin;
}

/** One package (`spec`, package@version) installed into `dir` of the cache: an OpenCode version, an ACP agent. */
interface CacheInstall<T> extends Pick<InstallOptions, "npm" | "timeoutMs"> {
  readonly spec: string;
  readonly dir: string;
  /** What a complete install in a directory holds (its binary, its command); undefined: incomplete. */
  readonly found: (dir: string) => T | undefined;
  /** What npm's install lacks when `found` finds nothing in it ("no opencode binary for linux-x64"), and what `found` looks for ("binary"). */
  readonly missing: string;
  readonly what: string;
}

/**
 * npm installs into a fresh sibling directory that is renamed into place only once
 * the install is complete in it, so a failed or interrupted install leaves no half-made
 * cache behind, and two installs racing both end with a complete one.
 */
export async function installIntoCache<T>(i: CacheInstall<T>): Promise<T> {
  let staging: string | undefined;
  try {
    // Unique per install, even for two in one process within one millisecond.
    await mkdir(dirname(i.dir), { recursive: true });
    staging = await mkdtemp(`${i.dir}.partial-`);
    await writeFile(join(staging, "package.json"), JSON.stringify({ name: "opencode-bridge-cache", private: true }));
    await runNpm(i.npm ?? "npm", [
        "install",
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--loglevel=error",
        // Offline, npm's defaults retry for over a minute before saying so; a few seconds is enough.
        "--fetch-retries=2",
        "--fetch-retry-mintimeout=1000",
        "--fetch-retry-maxtimeout=5000",
        i.spec,
      ], staging, i.spec, i.timeoutMs ?? 10 * 60_000);
    if (i.found(staging) === undefined) throw new InstallError(`npm installed ${i.spec}, but it holds ${i.missing}`);
    try {
      await rename(staging, i.dir);
    } catch (err) {
      // Another install finished first: use its copy.
      if (i.found(i.dir) === undefined) throw err;
    }
  } catch (err) {
    if (err instanceof InstallError) throw err;
    throw new InstallError(`could not install ${i.spec} into ${i.dir}: ${errorMessage(err)}`);
  } finally {
    if (staging !== undefined) await rm(staging, { recursive: true, force: true }).catch(() => {});
  }
  const done = i.found(i.dir);
  if (done === undefined) throw new InstallError(`installed ${i.spec} into ${i.dir}, but found no ${i.what} in it`);
  return done;
}

/** Where the binary used without a configured one comes from (see `chooseOpencodeBinary`). */
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
  // An `opencode-ai` package the host installed next to this one.
  let bundled: string | undefined;
  try {
    bundled = opencodeBinaryIn(dirname(createRequire(import.meta.url).resolve("opencode-ai/package.json")));
  } catch {
    // none installed
  }
  if (bundled) return { binary: bundled, from: "opencode-ai package", found: true };
  const cached = cachedOpencodeBinary(PINNED_OPENCODE_VERSION, cacheRoot(env));
  if (cached) return { binary: cached, from: "cache", found: true };
  const path = onPath("opencode", env);
  if (path) return { binary: path, from: "PATH", found: true };
  return { binary: "opencode", from: "none", found: false };
}
