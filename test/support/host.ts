/**
 * A host as users write one: a separate Node process whose script imports the
 * package by name (`opencode-bridge`, resolved through a node_modules symlink to
 * this repository and its built dist), embeds `OpencodeAdapter`, awaits one
 * `prompt()` at top level and ends. It does not call `close()`: an idle adapter
 * must not keep a process alive.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "dist", "cli", "main.js");

export const HOST_SCRIPT = `import { OpencodeAdapter } from "opencode-bridge";

const [baseUrl, directory, traceId, text] = process.argv.slice(2);
const adapter = new OpencodeAdapter({ baseUrl, directory }, (reply) => {
  process.stdout.write(JSON.stringify(reply) + "\\n");
});
const result = await adapter.prompt(text, { traceId });
process.exitCode = result.status === "final" ? 0 : 1;
`;

export interface HostPackage {
  /** The host script: node SCRIPT baseUrl directory traceId text */
  readonly script: string;
  cleanup(): Promise<void>;
}

/** `script`: the host script's text (the default one above unless a test needs other options). */
export async function createHostPackage(script = HOST_SCRIPT): Promise<HostPackage> {
  const dir = await mkdtemp(join(tmpdir(), "opencode-bridge-host-"));
  await mkdir(join(dir, "node_modules"));
  await symlink(ROOT, join(dir, "node_modules", "opencode-bridge"), "dir");
  await writeFile(join(dir, "package.json"), JSON.stringify({ name: "a-host", private: true, type: "module" }));
  const path = join(dir, "host.mjs");
  await writeFile(path, script);
  return { script: path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
