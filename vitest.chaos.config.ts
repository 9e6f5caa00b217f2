import { defineConfig } from "vitest/config";

/**
 * `npm run test:chaos`: crashes, outages, slow receivers, a restarted database and fuzzed input,
 * each ending with an exact account of what every receiver got. One file at a time: they measure
 * latency and kill processes, and must not share the two cores with each other.
 */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
