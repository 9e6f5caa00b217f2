import { execFile } from "node:child_process";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeGithub } from "../helpers/fake-github.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, startTestEnvhooks, type TestEnvhooks, WEBHOOK_SECRET } from "../helpers/test-envhooks.ts";

const CLI = new URL("../../src/cli/envhooks.ts", import.meta.url).pathname;
const PROJECT = "acme/mono";

/** Runs the CLI as a user would, in its own process; never throws. */
function cli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe.each(STORES)("envhooks simulate --changed against paths on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;
  let server: ServerType;
  let env: Record<string, string>;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    // The simulated repository's options, read from GitHub with the App's installation.
    github.configFiles.set(PROJECT, 'paths: ["apps/web/**"]\n');
    envhooks = await startTestEnvhooks(kind, { github });
    server = await new Promise<ServerType>((resolve) => {
      const started = serve({ fetch: envhooks.app.fetch, port: 0, hostname: "127.0.0.1" }, () =>
        resolve(started),
      );
    });
    env = {
      ENVHOOKS_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      ENVHOOKS_TOKEN: API_TOKEN,
      WEBHOOK_SECRET,
    };
  });
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await envhooks?.close();
    await github?.stop();
  });

  it("sets a push's changed files, and simulate says whether it was built or skipped", async () => {
    const push = (file: string) =>
      cli(["simulate", "push", "--repo", PROJECT, "--branch", "feature-x", "--changed", file], env);
    const created = await push("docs/a.md");
    expect(created.stdout).toMatch(/Activity \S+ \(environment\.branch of feature-x, acme\/mono\)/);
    const skipped = await push("docs/b.md");
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain(
      "No activity: environment feature-x: skipped: no changed file under paths.",
    );
    const built = await push("apps/web/a.ts");
    expect(built.stdout).toMatch(/Activity \S+ \(environment\.push of feature-x, acme\/mono\)/);
    expect(github.callsTo(/\/contents\//).length).toBeGreaterThan(0);
  });

  it("refuses --changed on anything but a push, naming the flag", async () => {
    const result = await cli(["simulate", "pull_request", "--repo", PROJECT, "--changed", "a.ts"], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--changed sets a push's changed files");
  });
});
