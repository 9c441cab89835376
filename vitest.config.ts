import { defineConfig } from "vitest/config";

/**
 * Four projects; `npm test` runs them all (after typecheck, lint and build):
 * - unit:    `npm run test:unit` — no build, no global setup, no real opencode;
 * - dist:    tests of the built package and CLI, run as their users run them (need `dist/`);
 * - e2e:     `npm run test:e2e` — real `opencode serve` with the scripted model;
 * - soak:    `npm run test:soak` — the long run under faults.
 */
const DIST = ["test/package.test.ts", "test/cli-process.test.ts"];
const SOAK = ["test/e2e/soak.e2e.test.ts", "test/e2e/store-soak.e2e.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end files start real servers: keep the two cores from being oversubscribed.
    maxWorkers: 2,
    // The soak test forces a collection before reading the heap, so start and end compare.
    execArgv: ["--expose-gc"],
    projects: [
      { extends: true, test: { name: "unit", include: ["test/*.test.ts"], exclude: DIST } },
      { extends: true, test: { name: "dist", include: DIST } },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/*.e2e.test.ts"],
          exclude: SOAK,
          globalSetup: ["test/global-setup.ts"],
        },
      },
      { extends: true, test: { name: "soak", include: SOAK, globalSetup: ["test/global-setup.ts"] } },
    ],
  },
});
