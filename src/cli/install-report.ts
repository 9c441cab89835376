/**
 * What the CLI says while an OpenCode version is installed into the cache,
 * and the one place that says how to get an opencode binary otherwise.
 */
import { cacheDir, cacheRoot, ensureOpencode, type InstallProgress, opencodeLine, opencodePackage, PINNED_OPENCODE_VERSION } from "../server/install.js";
import { errorMessage } from "../util/errors.js";

/**
 * Download and disk sizes on linux-x64 (measured): opencode-ai 1.18.33 brings two
 * platform binaries; for 2.x only this platform's package (the binary alone) is installed.
 */
const SIZES = { 1: "about 120 MB to download, 354 MB on disk", 2: "one binary, 204 MB on disk" } as const;

export function installReporter(say: (s: string) => void): (p: InstallProgress) => void {
  return (p) => {
    const secs = Math.round(p.elapsedMs / 1000);
    const spec = `${opencodePackage(p.version)}@${p.version}`;
    if (p.phase === "start") say(`installing ${spec} into ${p.dir} with npm (once per user; ${SIZES[opencodeLine(p.version)]}; needs the npm registry)`);
    else if (p.phase === "waiting") say(`still installing ${spec} (${secs} s)`);
    else say(`installed ${spec} in ${secs} s`);
  };
}

/** `version` from the per-user cache, installed there on first use (saying so); undefined when that failed (said). */
export async function installOpencode(version: string, say: (s: string) => void): Promise<string | undefined> {
  try {
    return await ensureOpencode(version, { onProgress: installReporter(say) });
  } catch (err) {
    say(`could not install opencode ${version}: ${errorMessage(err)}`);
    return undefined;
  }
}

/** The ways to get an opencode binary, for error messages. */
export function howToGetOpencode(env: Readonly<Record<string, string | undefined>>, urlOption: string): string {
  return `run \`opencode-bridge install\` (opencode-ai@${PINNED_OPENCODE_VERSION} into ${cacheDir(PINNED_OPENCODE_VERSION, cacheRoot(env))}), set OPENCODE_BIN to an opencode binary, or pass ${urlOption}`;
}
