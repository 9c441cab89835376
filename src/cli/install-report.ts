/**
 * What the CLI says while the pinned opencode-ai is installed into the cache,
 * and the one place that says how to get an opencode binary otherwise.
 */
import { cacheDir, cacheRoot, type InstallProgress, PINNED_OPENCODE_VERSION } from "../server/install.js";

/** Download and disk sizes of opencode-ai 1.18.33 on linux-x64 (measured; two platform binaries). */
const SIZES = "about 120 MB to download, 354 MB on disk";

export function installReporter(say: (s: string) => void): (p: InstallProgress) => void {
  return (p) => {
    const secs = Math.round(p.elapsedMs / 1000);
    if (p.phase === "start") say(`installing opencode-ai@${p.version} into ${p.dir} with npm (once per user; ${SIZES}; needs the npm registry)`);
    else if (p.phase === "waiting") say(`still installing opencode-ai@${p.version} (${secs} s)`);
    else say(`installed opencode-ai@${p.version} in ${secs} s`);
  };
}

/** The ways to get an opencode binary, for error messages. */
export function howToGetOpencode(env: Readonly<Record<string, string | undefined>>, urlOption: string): string {
  return `run \`opencode-bridge install\` (opencode-ai@${PINNED_OPENCODE_VERSION} into ${cacheDir(PINNED_OPENCODE_VERSION, cacheRoot(env))}), set OPENCODE_BIN to an opencode binary, or pass ${urlOption}`;
}
