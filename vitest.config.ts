import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end files start real servers: keep the two cores from being oversubscribed.
    maxWorkers: 2,
    // The soak test forces a collection before reading the heap, so start and end compare.
    execArgv: ["--expose-gc"],
  },
});
