/**
 * Finding — and for tests and captures, installing — a given `opencode` version.
 *
 * `opencode-ai` ships its server binary inside per-platform optional packages.
 * It is deliberately not a dependency of this package: a lockfile that holds it
 * is only as complete as the registry it was made against (a registry without
 * the other platforms' packages yields a lockfile `npm ci` rejects). Instead a
 * pinned version is installed on demand into `.cache/opencode/<version>` with
 * the machine's own npm, from the npm registry.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The OpenCode version the bridge is developed and tested against. */
export const PINNED_OPENCODE_VERSION = "1.18.33";

export function cacheDir(version: string, root = process.cwd()): string {
  return resolve(root, ".cache", "opencode", version);
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

/** Install `opencode-ai@version` into the cache unless it is there; returns its binary. */
export async function ensureOpencode(version = PINNED_OPENCODE_VERSION, root?: string): Promise<string> {
  const have = cachedOpencodeBinary(version, root);
  if (have) return have;
  const dir = cacheDir(version, root);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `opencode-${version}`, private: true }));
  await run("npm", ["install", "--no-audit", "--no-fund", "--no-save", `opencode-ai@${version}`], {
    cwd: dir,
    timeout: 10 * 60_000,
  });
  const bin = cachedOpencodeBinary(version, root);
  if (!bin) throw new Error(`installed opencode-ai@${version} into ${dir}, but found no binary in it`);
  return bin;
}

/**
 * The binary to run when none is configured: $OPENCODE_BIN, an `opencode-ai`
 * package the host installed, the cached pinned version, then `opencode` on PATH.
 */
export function defaultOpencodeBinary(): string {
  return (
    process.env.OPENCODE_BIN ?? bundledOpencodeBinary() ?? cachedOpencodeBinary(PINNED_OPENCODE_VERSION) ?? "opencode"
  );
}
