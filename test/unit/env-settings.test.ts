import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readSettings } from "../../src/config/env.schema.ts";
import { ServerProcess } from "../helpers/server-process.ts";

describe("ENVHOOKS_API_TOKEN", () => {
  it("is refused when shorter than 32 characters, saying how to make one", () => {
    expect(() => readSettings({ ENVHOOKS_API_TOKEN: "test-api-token" })).toThrow(
      /ENVHOOKS_API_TOKEN: .*at least 32 characters.*openssl rand -hex 32/,
    );
    expect(() => readSettings({ ENVHOOKS_API_TOKEN: "x".repeat(31) })).toThrow(/ENVHOOKS_API_TOKEN/);
    expect(readSettings({ ENVHOOKS_API_TOKEN: "x".repeat(32) }).apiToken).toBe("x".repeat(32));
    expect(readSettings({}).apiToken).toBeUndefined();
  });

  it("stops the server at start with exit code 2 and the message", async () => {
    const folder = mkdtempSync(join(tmpdir(), "envhooks-env-"));
    const server = new ServerProcess({ ENVHOOKS_API_TOKEN: "short-token", ENVHOOKS_DATA_DIR: folder });
    try {
      expect(await server.exited()).toBe(2);
      expect(server.output).toMatch(/ENVHOOKS_API_TOKEN: .*openssl rand -hex 32/);
    } finally {
      if (server.child.exitCode === null) await server.kill("SIGKILL");
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("ENVHOOKS_METRICS_TOKEN", () => {
  it("is read when set, and unset otherwise", () => {
    expect(readSettings({ ENVHOOKS_METRICS_TOKEN: " scrape-me " }).metricsToken).toBe("scrape-me");
    expect(readSettings({}).metricsToken).toBeUndefined();
  });
});

describe("ENVHOOKS_TRUSTED_PROXIES", () => {
  it("reads addresses and CIDR ranges, none by default, and refuses anything else naming it", () => {
    expect(readSettings({}).trustedProxies).toEqual([]);
    expect(
      readSettings({ ENVHOOKS_TRUSTED_PROXIES: "10.0.0.0/8, 127.0.0.1 fd00::/8" }).trustedProxies,
    ).toEqual(["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
    expect(() => readSettings({ ENVHOOKS_TRUSTED_PROXIES: "10.0.0.0/33" })).toThrow(
      /ENVHOOKS_TRUSTED_PROXIES: 10\.0\.0\.0\/33 is neither an IP address nor a CIDR range/,
    );
  });
});

describe("ENVHOOKS_DRAIN_TIMEOUT_MS", () => {
  it("is 20 s by default, read when set, and refused below a second naming it", () => {
    expect(readSettings({}).drainTimeoutMs).toBe(20_000);
    expect(readSettings({ ENVHOOKS_DRAIN_TIMEOUT_MS: "5000" }).drainTimeoutMs).toBe(5_000);
    expect(() => readSettings({ ENVHOOKS_DRAIN_TIMEOUT_MS: "10" })).toThrow(/ENVHOOKS_DRAIN_TIMEOUT_MS/);
  });
});
