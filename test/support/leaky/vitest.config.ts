// A run whose only test leaves processes behind and times out: test/e2e/teardown.e2e.test.ts runs it.
import { join } from "node:path";
import { defineConfig } from "vitest/config";

const root = join(import.meta.dirname, "..", "..", "..");

export default defineConfig({
  root,
  test: {
    include: ["test/support/leaky/*.fixture.ts"],
    globalSetup: [join(root, "test", "global-setup.ts")],
    testTimeout: 60_000,
  },
});
