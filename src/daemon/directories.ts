/**
 * Which directories a turn may run in. OpenCode's own "outside the project"
 * check is relative to the turn's directory, so a turn run in `/` may read
 * anything (`/etc/passwd`, `/proc/self/environ` with the server's password)
 * without anyone being asked: the daemon decides before OpenCode sees it.
 *
 * Rule: the turn's directory (symbolic links resolved) must be the daemon's
 * `--directory` or an `--allow-directory`, or inside one of them; `/` and the
 * system directories are refused unless listed themselves (a tree that merely
 * contains them does not count: `--directory /` does not open `/etc`).
 */
import { realpathSync } from "node:fs";
import { sep } from "node:path";

/** Directories never served unless allowed by name (and everything inside them). */
const SYSTEM = ["/etc", "/proc", "/sys", "/dev", "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/run"];

const real = (p: string): string => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};
const within = (dir: string, root: string) => dir === root || dir.startsWith(root.endsWith(sep) ? root : root + sep);

/** Why a turn may not run in `directory`, or undefined when it may. */
export function directoryRefusal(directory: string, served: string, allowed: readonly string[]): string | undefined {
  const dir = real(directory);
  const listed = allowed.map(real);
  const fix = `start serve with --allow-directory ${directory} to allow it`;
  if (dir === "/" && !listed.includes("/")) return `directory / is refused: OpenCode would treat the whole machine as the project (${fix})`;
  const system = SYSTEM.find((s) => within(dir, s));
  if (system !== undefined && !listed.some((a) => within(dir, a) && within(a, system))) {
    return `directory ${directory} is a system directory (${system}): refused (${fix})`;
  }
  const roots = [real(served), ...listed].filter((r) => r !== "/" || listed.includes("/"));
  if (!roots.some((r) => within(dir, r))) {
    return `directory ${directory} is not one this daemon serves (its --directory ${served}${allowed.length ? ` or ${allowed.join(", ")}` : ""}); ${fix}`;
  }
  return undefined;
}
