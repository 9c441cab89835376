/**
 * Installs the OpenCode version the end-to-end tests run against (once; it is
 * cached in .cache/opencode/<version>), so that `npm test` needs nothing but npm.
 */
import { ensureOpencode } from "../src/server/install.js";
import { E2E_VERSION } from "./support/live.js";

export default async function setup(): Promise<void> {
  const started = Date.now();
  const bin = await ensureOpencode(E2E_VERSION);
  const took = Date.now() - started;
  if (took > 1000) console.log(`installed opencode ${E2E_VERSION} (${bin}) in ${took} ms`);
}
