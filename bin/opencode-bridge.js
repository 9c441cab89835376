#!/usr/bin/env node
// The `opencode-bridge` executable. The published package runs its built dist/.
// In a clone of the repository (src/ is there) it runs the sources through tsx,
// so `npm ci && npx opencode-bridge …` works without a build step and never runs
// a stale build.
import { existsSync } from "node:fs";
import { URL } from "node:url";

const src = new URL("../src/cli/main.ts", import.meta.url);
let tsx;
if (existsSync(src)) {
  try {
    tsx = await import("tsx/esm/api");
  } catch {
    // tsx is a development dependency: without it, use the build.
  }
}
if (tsx) {
  tsx.register();
  await import(src.href);
} else {
  await import(new URL("../dist/cli/main.js", import.meta.url).href);
}
