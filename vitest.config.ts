import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The chaos suite runs on its own, after this one (vitest.chaos.config.ts).
    exclude: ["test/chaos/**", "**/node_modules/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite and pg-boss are heavy per worker; two workers match the two cores CI has.
    maxWorkers: 2,
  },
});
