import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushTo, REPO } from "../fixtures/github-events.ts";
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

/**
 * An empty folder to run the CLI in, and an empty config folder: neither a .env nor an
 * `envhooks login` of the machine running the tests counts.
 */
const NOWHERE = mkdtempSync(join(tmpdir(), "envhooks-cli-cwd-"));

/** Runs the CLI as a user would, in its own process; never throws. */
function cli(args: string[], env: Record<string, string> = {}, cwd = NOWHERE) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH, XDG_CONFIG_HOME: NOWHERE, ...env }, cwd },
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
    rmSync(NOWHERE, { recursive: true, force: true });
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

  it("simulates pull requests, branch creation and deletion; reads logs; redelivers one and in bulk", async () => {
    const opened = await cli(
      ["simulate", "pull_request", "--repo", PROJECT, "--pr", "7", "--branch", "feature-y"],
      env,
    );
    expect(opened.code, opened.stderr).toBe(0);
    const created = await cli(["simulate", "create", "--repo", PROJECT, "--branch", "feature-z"], env);
    expect(created.code, created.stderr).toBe(0);
    const names = await eventually(async () => {
      const listed = JSON.parse((await cli(["environments", "--json", "-p", PROJECT], env)).stdout) as Array<{
        name: string;
      }>;
      const found = listed.map((e) => e.name);
      return found.includes("pr-7") && found.includes("feature-z") ? found : undefined;
    });
    expect(names).toEqual(expect.arrayContaining(["pr-7", "feature-z"]));
    expect((await cli(["simulate", "delete", "--repo", PROJECT, "--branch", "feature-z"], env)).code).toBe(0);
    await eventually(async () => {
      const listed = JSON.parse((await cli(["environments", "--json", "-p", PROJECT], env)).stdout) as Array<{
        name: string;
      }>;
      return !listed.some((e) => e.name === "feature-z");
    });

    const [activity] = JSON.parse((await cli(["activities", "--json", "-p", PROJECT], env)).stdout);
    const log = await cli(["activity:log", activity.id], env);
    expect(log.stdout.trim()).toBe(activity.log.trim());

    const [integration] = JSON.parse((await cli(["integrations", "--json", "-p", PROJECT], env)).stdout);
    const deliveries = JSON.parse(
      (await cli(["delivery:list", integration.id, "--json", "-p", PROJECT], env)).stdout,
    );
    expect(deliveries.length).toBeGreaterThanOrEqual(2);
    const before = receiver.received.length;
    expect((await cli(["redeliver", deliveries[0].id], env)).code).toBe(0);
    await eventually(async () => receiver.received.length > before);

    const bulk = await cli(["redeliver", "--integration", integration.id, "--failed", "-p", PROJECT], env);
    expect(bulk.code, bulk.stderr).toBe(0);
    expect(bulk.stdout).toContain("Redelivered 0 of 0 failed deliveries");
    expect((await cli(["redeliver", "-p", PROJECT], env)).code).toBe(2);
  });

  it("simulating a repository after a real event of another leaves two projects (issue 22)", async () => {
    // GitHub's example repository (Codertocat/Hello-World, id 186853002) sends an event…
    const real = await envhooks.deliver("push", pushTo(REPO, 1));
    expect(real.status).toBe(202);
    await eventually(async () => (await envhooks.api(`/api/projects/${REPO}/environments`)).status === 200);
    // …then `simulate` sends one for acme/web, built from the same example payload.
    const pushed = await cli(["simulate", "push", "--repo", PROJECT, "--branch", "feature-w"], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    const listed = await eventually(async () => {
      const names = JSON.parse((await cli(["environments", "--json", "-p", PROJECT], env)).stdout) as Array<{
        name: string;
      }>;
      return names.some((e) => e.name === "feature-w") ? names : undefined;
    });
    expect(listed.map((e) => e.name)).not.toContain("master");
    const projects = (await (await envhooks.api("/api/projects")).json()) as Array<{ project: string }>;
    expect(projects.map((p) => p.project).sort()).toEqual([PROJECT, REPO].sort());
    // Each keeps what it had: Hello-World its master, acme/web its hook.
    const master = await envhooks.api(`/api/projects/${REPO}/environments`);
    expect(master.status).toBe(200);
    expect((await master.json()).map((e: { name: string }) => e.name)).toEqual(["master"]);
    expect(JSON.parse((await cli(["hooks", "--json", "-p", PROJECT], env)).stdout)).toHaveLength(1);
  });

  it("simulating a GitHub repository's own name leaves its project, hooks and history where they are (issue 22)", async () => {
    // Hello-World has a project from a real event (the test above) and a hook of its own.
    const own = await new Receiver().start();
    try {
      expect((await cli(["hooks:add", own.url, "-p", REPO], env)).code).toBe(0);
      const pushed = await cli(["simulate", "push", "--repo", REPO, "--branch", "feature-sim"], env);
      expect(pushed.code, pushed.stderr).toBe(0);
      // The simulated push goes to a project of its own…
      const simulated = `${REPO}~simulated`;
      await eventually(async () => {
        const listed = await cli(["environments", "--json", "-p", simulated], env);
        return listed.code === 0 && listed.stdout.includes("feature-sim");
      });
      // …and the next real event is Hello-World's: its hook receives it.
      expect((await envhooks.deliver("push", pushTo(REPO, 7))).status).toBe(202);
      await eventually(async () => own.received.length === 1);
      expect(JSON.parse(own.received[0]?.body ?? "{}").project).toBe(REPO);
      expect(JSON.parse((await cli(["hooks", "--json", "-p", REPO], env)).stdout)).toHaveLength(1);
      const names = JSON.parse((await cli(["environments", "--json", "-p", REPO], env)).stdout) as Array<{
        name: string;
      }>;
      expect(names.map((e) => e.name)).not.toContain("feature-sim");
    } finally {
      await own.stop();
    }
  });

  it("login saves the server and token for later commands, readable by this user only", async () => {
    const home = mkdtempSync(join(tmpdir(), "envhooks-cli-"));
    try {
      const loggedIn = await cli(["login", "--url", env.ENVHOOKS_URL ?? "", "--token", API_TOKEN], {
        XDG_CONFIG_HOME: home,
      });
      expect(loggedIn.code, loggedIn.stderr).toBe(0);
      const path = join(home, "envhooks", "config.json");
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const listed = await cli(["hooks", "--json", "-p", PROJECT], { XDG_CONFIG_HOME: home });
      expect(listed.code, listed.stderr).toBe(0);
      const refused = await cli(["login", "--url", env.ENVHOOKS_URL ?? "", "--token", "wrong"], {
        XDG_CONFIG_HOME: home,
      });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("401");
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
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
  it("reads the server's .env in the working folder (its token, PORT and webhook secret); a variable set wins", async () => {
    const folder = mkdtempSync(join(tmpdir(), "envhooks-cli-dotenv-"));
    try {
      const port = new URL(env.ENVHOOKS_URL ?? "").port;
      // What `npm start` reads and /setup writes: the generated operator token, the App's secret.
      writeFileSync(
        join(folder, ".env"),
        `# envhooks\nPORT=${port}\nENVHOOKS_API_TOKEN=${API_TOKEN}\nWEBHOOK_SECRET="${WEBHOOK_SECRET}"\n`,
      );
      const listed = await cli(["hooks", "--json", "-p", PROJECT], {}, folder);
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toHaveLength(1);
      const pushed = await cli(
        ["simulate", "push", "--repo", PROJECT, "--branch", "feature-env"],
        {},
        folder,
      );
      expect(pushed.code, pushed.stderr).toBe(0);

      // A variable set in the environment wins over the file.
      const wrong = await cli(["hooks", "-p", PROJECT], { ENVHOOKS_TOKEN: "not-the-token" }, folder);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("401");
      const elsewhere = await cli(["hooks", "-p", PROJECT], { ENVHOOKS_URL: "http://127.0.0.1:9" }, folder);
      expect(elsewhere.code).toBe(1);
      expect(elsewhere.stderr).toContain("Cannot reach envhooks at http://127.0.0.1:9");

      // ENVHOOKS_ENV_FILE names another file, as it does for the server.
      const named = await cli(
        ["hooks", "--json", "-p", PROJECT],
        { ENVHOOKS_ENV_FILE: join(folder, ".env") },
        NOWHERE,
      );
      expect(named.code, named.stderr).toBe(0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("accepts the operator token as ENVHOOKS_API_TOKEN, the server's own name for it", async () => {
    const listed = await cli(["hooks", "--json", "-p", PROJECT], {
      ENVHOOKS_URL: env.ENVHOOKS_URL ?? "",
      ENVHOOKS_API_TOKEN: API_TOKEN,
    });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
    const none = await cli(["hooks", "-p", PROJECT], { ENVHOOKS_URL: env.ENVHOOKS_URL ?? "" });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("ENVHOOKS_API_TOKEN");
  });

  it("simulate prints the activity's id and its dashboard link", async () => {
    const pushed = await cli(["simulate", "push", "--repo", PROJECT, "--branch", "feature-link"], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    const [, id, link] =
      /Activity ([a-z2-7]{13}) \(environment\.branch of feature-link, acme\/web\): (\S+)/.exec(
        pushed.stdout,
      ) ?? [];
    expect(id, pushed.stdout).toBeDefined();
    expect(link).toBe(`${env.ENVHOOKS_URL}/activities/${id}`);
    const activity = (await (await envhooks.api(`/api/activities/${id}`)).json()) as {
      type: string;
      parameters: { environment: string };
    };
    expect(activity).toMatchObject({
      type: "environment.branch",
      parameters: { environment: "feature-link" },
    });
    // The dashboard's page for it is there (the sign-in page first, for a browser without a session).
    expect((await fetch(link ?? "", { redirect: "manual" })).status).toBeLessThan(400);

    // An event that changes nothing says so.
    const again = await cli(["simulate", "create", "--repo", PROJECT, "--branch", "feature-link"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/No activity: /);
  });

  it("integrations of an unknown project exit 1 with 'no such project'; one with integrations only lists them", async () => {
    for (const verb of ["integrations", "hooks", "environments", "activities"]) {
      const unknown = await cli([verb, "-p", "unknown/repo"], env);
      expect(unknown.code, `${verb}: ${unknown.stdout}`).toBe(1);
      expect(unknown.stderr).toContain("no such project: unknown/repo");
    }
    // Integrations may be added before a repository's first event: that project is known.
    expect((await cli(["hooks:add", receiver.url, "-p", "acme/not-pushed-yet"], env)).code).toBe(0);
    const listed = await cli(["integrations", "--json", "-p", "acme/not-pushed-yet"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
    const environments = await cli(["environments", "--json", "-p", "acme/not-pushed-yet"], env);
    expect(environments.code, environments.stderr).toBe(0);
  });
});
