import { defineConfig } from "vitest/config";

// npm run test:deploy: the chart (helm), the image and Compose (podman), as docs/deploy.md runs them.
// One file at a time: they share podman's storage and the machine's two cores.
export default defineConfig({
  test: {
    include: ["test/deploy/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
