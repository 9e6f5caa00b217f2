import { execFile } from "node:child_process";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import {
  API_TOKEN,
  eventually,
  startTestEnvhooks,
  type TestEnvhooks,
  WEBHOOK_SECRET,
} from "../helpers/test-envhooks.ts";

const CLI = new URL("../../src/cli/envhooks.ts", import.meta.url).pathname;
const PROJECT = "acme/web";

/** Runs the CLI as a user would, in its own process; never throws. */
function cli(args: string[], env: Record<string, string> = {}) {
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

describe("the envhooks CLI against a running server", () => {
  let envhooks: TestEnvhooks;
  let server: ServerType;
  let receiver: Receiver;
  let env: Record<string, string>;

  beforeAll(async () => {
    const pglite = STORES[0];
    if (!pglite) throw new Error("no embedded store");
    envhooks = await startTestEnvhooks(pglite);
    server = await new Promise<ServerType>((resolve) => {
      const started = serve({ fetch: envhooks.app.fetch, port: 0, hostname: "127.0.0.1" }, () =>
        resolve(started),
      );
    });
    receiver = await new Receiver().start();
    env = {
      ENVHOOKS_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      ENVHOOKS_TOKEN: API_TOKEN,
      WEBHOOK_SECRET,
    };
  });
  afterAll(async () => {
    await receiver?.stop();
    await new Promise((resolve) => server?.close(resolve));
    await envhooks?.close();
  });

  it("adds a hook, simulates a push, and the receiver gets the activity; hooks shows its last status", async () => {
    const added = await cli(["hooks:add", receiver.url, "--project", PROJECT], env);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/Added hook [a-z2-7]{13}/);

    const pushed = await cli(["simulate", "push", "--repo", PROJECT, "--branch", "feature-x"], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    await eventually(async () => receiver.received.length >= 1);
    const activity = JSON.parse(receiver.received[0]?.body ?? "{}");
    expect(activity).toMatchObject({ type: "environment.branch", project: PROJECT });
    expect(activity.parameters.environment).toBe("feature-x");

    const hooks = await eventually(async () => {
      const listed = await cli(["hooks", "--json", "-p", PROJECT], env);
      const parsed = JSON.parse(listed.stdout) as Array<{ last_status: string | null }>;
      return parsed[0]?.last_status ? parsed : undefined;
    });
    expect(hooks[0]?.last_status).toBe("OK");

    const table = await cli(["hooks", "-p", PROJECT], env);
    expect(table.stdout).toContain("OK");
    expect(table.stdout).toContain(receiver.url);
  });

  it("lists environments, activities and integrations as tables or JSON, and reads one property", async () => {
    const environments = await cli(["environment:list", "--json", "-p", PROJECT], env);
    expect(JSON.parse(environments.stdout).map((e: { name: string }) => e.name)).toContain("feature-x");
    const activities = await cli(
      ["activity:list", "--type", "environment.branch", "--json", "-p", PROJECT],
      env,
    );
    expect(JSON.parse(activities.stdout).length).toBeGreaterThanOrEqual(1);
    const [integration] = JSON.parse((await cli(["integrations", "--json", "-p", PROJECT], env)).stdout);
    const url = await cli(["integration:get", integration.id, "--property", "url", "-p", PROJECT], env);
    expect(url.stdout.trim()).toBe(receiver.url);
    const validated = await cli(["integration:validate", integration.id, "-p", PROJECT], env);
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout).toMatch(/Test delivery delivered: 200/);
  });

  it("says what to do, with exit code 2 for usage and 1 for failures", async () => {
    const badFlag = await cli(["hooks", "--no-such-flag", "-p", PROJECT], env);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("unknown option '--no-such-flag'");

    const noToken = await cli(["hooks", "-p", PROJECT], { ENVHOOKS_URL: env.ENVHOOKS_URL ?? "" });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain("ENVHOOKS_TOKEN");

    const badProject = await cli(["hooks", "-p", "not-a-project"], env);
    expect(badProject.code).toBe(2);
    expect(badProject.stderr).toContain("owner/repo");

    const missing = await cli(["integration:get", "aaaaaaaaaaaaa", "-p", PROJECT], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("404");

    const down = await cli(["hooks", "-p", PROJECT], { ...env, ENVHOOKS_URL: "http://127.0.0.1:9" });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("Is it running?");
  });
});
