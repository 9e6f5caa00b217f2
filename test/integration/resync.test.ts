import { execFile } from "node:child_process";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { limitResync } from "../../src/intake/limit-resync.ts";
import type { ResyncResult } from "../../src/intake/resync.ts";
import type { Queryable } from "../../src/store/database.ts";
import { markOptionsStale } from "../../src/store/projects.ts";
import {
  createBranch,
  DEFAULT_BRANCH,
  pullRequest,
  pushCreatingMaster,
  pushTo,
  REPO,
} from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const CLI = new URL("../../src/cli/envhooks.ts", import.meta.url).pathname;

/** Runs the CLI in its own process against `url`; never throws. */
function cli(url: string, args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH, ENVHOOKS_URL: url, ENVHOOKS_TOKEN: API_TOKEN } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const REPOSITORY_ID = 186853002;
const sha = (n: number) => n.toString(16).padStart(40, "b");
/** More branches than one page of 100 holds. */
const FEATURES = Array.from({ length: 120 }, (_, n) => `feature-${n}`);

describe.each(STORES)("resync with GitHub on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let store: TestStore;
  let envhooks: TestEnvhooks | undefined;
  let receiver: Receiver;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    github.configFiles.set(REPO, "");
    receiver = await new Receiver().start();
    store = await kind.open();
    envhooks = await startTestEnvhooks(kind, { github, store });
  });
  afterEach(async () => {
    await envhooks?.close();
    envhooks = undefined;
    await receiver?.stop();
    await github?.stop();
    await store?.close();
  });

  async function environments(repo = REPO): Promise<Array<{ name: string; head_commit: string | null }>> {
    const response = await (envhooks as TestEnvhooks).api(`/api/projects/${repo}/environments`);
    expect(response.status).toBe(200);
    return response.json();
  }

  /** What GitHub has: master moved on, 120 branches (two pages), pull request #7 open; #2 and `stale` gone. */
  function githubHas() {
    github.repositories.set(REPO, {
      id: REPOSITORY_ID,
      default_branch: DEFAULT_BRANCH,
      branches: [
        { name: DEFAULT_BRANCH, sha: sha(1) },
        ...FEATURES.map((name, n) => ({ name, sha: sha(100 + n) })),
      ],
      pulls: [
        {
          number: 7,
          title: "Add feature-0",
          draft: false,
          labels: [],
          head: { ref: "feature-0", sha: sha(100), repo: { full_name: REPO } },
          base: { ref: DEFAULT_BRANCH, sha: sha(1), repo: { full_name: REPO } },
        },
      ],
    });
  }

  it("creates and deletes environments as planned, the plan shown first by a dry run", async () => {
    const app = envhooks as TestEnvhooks;
    const hook = await app.api(`/api/projects/${REPO}/integrations`, {
      body: { type: "webhook", url: receiver.url },
    });
    expect(hook.status).toBe(201);
    // What envhooks knows: master, a branch `stale` and pull request #2 (both gone from GitHub since).
    for (const [event, payload] of [
      ["push", pushCreatingMaster()],
      ["create", createBranch("stale")],
      ["pull_request", pullRequest("opened")],
    ] as const) {
      expect((await app.deliver(event, payload)).status).toBe(202);
    }
    await eventually(async () => (await environments()).length === 3);
    const before = (await environments()).map((e) => e.name).sort();
    expect(before).toEqual(["master", "pr-2", "stale"]);
    githubHas();

    const dry = await app.api(`/api/projects/${REPO}/resync?dry_run=true`, { method: "POST" });
    expect(dry.status).toBe(200);
    const planned = await dry.json();
    expect(planned.dry_run).toBe(true);
    expect(planned.activities).toEqual([]);
    const byAction = (plan: Array<{ action: string; environment: string }>, action: string) =>
      plan
        .filter((step) => step.action === action)
        .map((step) => step.environment)
        .sort();
    expect(byAction(planned.plan, "create")).toEqual([...FEATURES, "pr-7"].sort());
    expect(byAction(planned.plan, "delete")).toEqual(["pr-2", "stale"]);
    expect(byAction(planned.plan, "rebuild")).toEqual(["master"]);
    // The dry run changed nothing.
    expect((await environments()).map((e) => e.name).sort()).toEqual(before);
    // The repository, two pages of branches, one of pull requests: 100 a page.
    expect(planned.github_requests).toBe(4);
    const listings = github.callsTo(/\/repos\/Codertocat\/Hello-World\/(branches|pulls)$/);
    expect(listings.map((call) => new URLSearchParams(call.query).get("per_page"))).toEqual(
      listings.map(() => "100"),
    );
    expect(github.callsTo(/\/branches$/)).toHaveLength(2);
    expect(github.callsTo(/\/pulls$/)).toHaveLength(1);
    expect(github.callsTo(/\/pulls$/)[0]?.query).toContain("state=open");

    const applied = await app.api(`/api/projects/${REPO}/resync`, { method: "POST" });
    expect(applied.status).toBe(200);
    const done = await applied.json();
    expect(done.plan).toEqual(planned.plan);
    expect(done.activities).toHaveLength(planned.plan.length);

    const after = await environments();
    expect(after.map((e) => e.name).sort()).toEqual([DEFAULT_BRANCH, ...FEATURES, "pr-7"].sort());
    expect(after.find((e) => e.name === DEFAULT_BRANCH)?.head_commit).toBe(sha(1));
    expect(after.find((e) => e.name === "pr-7")?.head_commit).toBe(sha(100));
    // Each change is an activity, relayed like any other.
    const recorded = async (type: string) =>
      (await (await app.api(`/api/projects/${REPO}/activities?limit=100&type=${type}`)).json()).items
        .filter((activity: { text: string }) => activity.text.includes("(resync)"))
        .map((activity: { environments: string[] }) => activity.environments[0])
        .sort();
    expect(await recorded("environment.delete")).toEqual(["pr-2", "stale"]);
    expect(await recorded("environment.push")).toEqual(["master"]);
    expect(await recorded("environment.branch")).toHaveLength(100); // one page of the 121
    expect(done.activities.filter((a: { type: string }) => a.type === "environment.branch")).toHaveLength(
      FEATURES.length + 1,
    );
    await eventually(
      async () =>
        receiver.bodies().filter((body) => body.text?.includes("(resync)")).length === done.plan.length,
      30_000,
    );

    // Nothing left to do.
    const again = await (
      await app.api(`/api/projects/${REPO}/resync?dry_run=true`, { method: "POST" })
    ).json();
    expect(again.plan).toEqual([]);
    expect(again.notes).toContain("every environment matches GitHub");
  });

  it("creates no more environments than max_environments, once what is gone made room", async () => {
    const app = envhooks as TestEnvhooks;
    github.configFiles.set(REPO, "max_environments: 3\n");
    for (const [event, payload] of [
      ["push", pushCreatingMaster()],
      ["create", createBranch("stale")],
      ["pull_request", pullRequest("opened")],
    ] as const) {
      expect((await app.deliver(event, payload)).status).toBe(202);
    }
    await eventually(async () => (await environments()).length === 3);
    githubHas();

    const dry = await (await app.api(`/api/projects/${REPO}/resync?dry_run=true`, { method: "POST" })).json();
    const created = dry.plan.filter((step: { action: string }) => step.action === "create");
    expect(created.map((step: { environment: string }) => step.environment)).toEqual(FEATURES.slice(0, 3));
    expect(dry.plan.filter((step: { action: string }) => step.action === "delete")).toHaveLength(2);
    expect(dry.notes).toContain("environment pr-7 not created: environment limit (3) reached");

    const applied = await app.api(`/api/projects/${REPO}/resync`, { method: "POST" });
    expect(applied.status).toBe(200);
    expect((await environments()).map((e) => e.name).sort()).toEqual(
      [DEFAULT_BRANCH, ...FEATURES.slice(0, 3)].sort(),
    );
    const failed = await (await app.api(`/api/projects/${REPO}/activities?limit=100`)).json();
    expect(failed.items.filter((a: { result: string }) => a.result === "failure")).toEqual([]);
  });

  it("envhooks resync shows the plan with --dry-run, then applies it", async () => {
    const app = envhooks as TestEnvhooks;
    await app.deliver("push", pushCreatingMaster());
    await eventually(async () => (await environments()).length === 1);
    githubHas();
    const server = await new Promise<ServerType>((resolve) => {
      const started = serve({ fetch: app.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const dry = await cli(url, ["resync", REPO, "--dry-run"]);
      expect(dry.stderr).toBe("");
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain(
        `Plan for ${REPO}: 121 branches, 1 open pull requests (4 GitHub requests).`,
      );
      expect(dry.stdout).toContain("found pull request #7 open on GitHub (resync)");
      expect(dry.stdout).toContain("Nothing was changed");
      expect(await environments()).toHaveLength(1);
      const done = await cli(url, ["resync", REPO, "--json"]);
      expect(done.code).toBe(0);
      expect(JSON.parse(done.stdout).activities).toHaveLength(FEATURES.length + 2);
      expect(await environments()).toHaveLength(FEATURES.length + 2);
      const usage = await cli(url, ["resync", "not-a-repo"]);
      expect(usage.code).toBe(2);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("the dashboard's project page resyncs: the plan first, then applied", async () => {
    const app = envhooks as TestEnvhooks;
    await app.deliver("push", pushCreatingMaster());
    await eventually(async () => (await environments()).length === 1);
    githubHas();
    const person = new DashboardClient(app.app);
    await person.signIn(API_TOKEN);
    const page = await (await person.get(`/projects/${REPO}`)).text();
    expect(page).toContain(`href="/projects/${REPO}/resync"`);

    const preview = await person.get(`/projects/${REPO}/resync`);
    expect(preview.status).toBe(200);
    const plan = await preview.text();
    expect(plan).toContain("found pull request #7 open on GitHub (resync)");
    expect(plan).toContain(`Apply ${FEATURES.length + 2} changes`);
    expect(await environments()).toHaveLength(1);

    // POST/redirect/GET: the result shows once; a reload runs no second resync.
    const done = await person.post(`/projects/${REPO}/resync`);
    expect(done.status).toBe(303);
    const result = done.headers.get("location") ?? "";
    expect(result).toMatch(new RegExp(`^/projects/${REPO}/resync/result\\?flash=`));
    expect(await (await person.get(result)).text()).toContain(
      `Resynced: ${FEATURES.length + 2} changes applied`,
    );
    const reloaded = await person.get(result);
    expect(reloaded.status).toBe(303);
    expect(reloaded.headers.get("location")).toBe(`/projects/${REPO}`);
    expect(await environments()).toHaveLength(FEATURES.length + 2);
    // A form without the session's CSRF token changes nothing.
    expect((await person.post(`/projects/${REPO}/resync`, {}, { csrf: false })).status).toBe(403);
  });

  /** Envhooks again, on the same store and GitHub, with a clock the test moves (issue 22). */
  async function withClock(start = new Date()) {
    await envhooks?.close();
    const clock = { at: start };
    envhooks = await startTestEnvhooks(kind, { github, store, now: () => clock.at });
    return {
      app: envhooks,
      advance: (ms: number) => {
        clock.at = new Date(clock.at.getTime() + ms);
      },
    };
  }

  const repositoryReads = () => github.callsTo(/\/repos\/Codertocat\/Hello-World$/).length;

  it("limits resyncs per project: one at a time, a cooldown with Retry-After, dry runs reuse a plan for a minute", async () => {
    const { app, advance } = await withClock();
    await app.deliver("push", pushCreatingMaster());
    await eventually(async () => (await environments()).length === 1);
    githubHas();
    const dryRun = () => app.api(`/api/projects/${REPO}/resync?dry_run=true`, { method: "POST" });

    // Ten dry runs at once: one asks GitHub; the others wait for it (429) or reuse its plan.
    const together = await Promise.all(Array.from({ length: 10 }, dryRun));
    expect(repositoryReads()).toBe(1);
    for (const answer of together) {
      expect([200, 429]).toContain(answer.status);
      if (answer.status === 429) {
        expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
        expect((await answer.json()).error.code).toBe("resync_running");
      }
    }
    expect(together.filter((answer) => answer.status === 200).length).toBeGreaterThanOrEqual(1);
    // Many more in the same minute: the same plan, GitHub not asked again.
    for (let n = 0; n < 20; n++) {
      const again = await dryRun();
      expect(again.status).toBe(200);
      const body = await again.json();
      expect(body.reused).toBe(true);
      expect(body.plan.length).toBe(FEATURES.length + 2);
    }
    expect(repositoryReads()).toBe(1);
    // A minute later the plan is made again.
    advance(61_000);
    expect((await (await dryRun()).json()).reused).toBe(false);
    expect(repositoryReads()).toBe(2);

    // Applied, then applied again at once: 429 with Retry-After, nothing asked of GitHub.
    const applied = await app.api(`/api/projects/${REPO}/resync`, { method: "POST" });
    expect(applied.status).toBe(200);
    expect(await environments()).toHaveLength(FEATURES.length + 2);
    const reads = repositoryReads();
    const refused = await app.api(`/api/projects/${REPO}/resync`, { method: "POST" });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const error = (await refused.json()).error;
    expect(error.code).toBe("resync_cooldown");
    expect(error.message).toContain(`try again in ${retryAfter} seconds`);
    expect(repositoryReads()).toBe(reads);
    // The dashboard's form says so too.
    const person = new DashboardClient(app.app);
    await person.signIn(API_TOKEN);
    const page = await person.post(`/projects/${REPO}/resync`);
    expect(page.status).toBe(429);
    expect(page.headers.get("retry-after")).toBeTruthy();
    expect(await page.text()).toContain("try again in");
    // The plan kept from before the resync was applied is not shown again: it is stale.
    const fresh = await (await dryRun()).json();
    expect(fresh.reused).toBe(false);
    expect(fresh.plan).toEqual([]);

    // After the cooldown it runs.
    advance(61_000);
    expect((await app.api(`/api/projects/${REPO}/resync`, { method: "POST" })).status).toBe(200);
  });

  it("refuses a resync that would take the installation's GitHub budget below the reserve", async () => {
    await github.stop();
    // 503 requests an hour: the first resync leaves fewer than the reserve (500) and another.
    github = await new FakeGithub({ rateLimit: 503 }).start();
    github.configFiles.set(REPO, "");
    const { app, advance } = await withClock();
    await app.deliver("push", pushCreatingMaster());
    await eventually(async () => (await environments()).length === 1);
    githubHas();
    const dryRun = () => app.api(`/api/projects/${REPO}/resync?dry_run=true`, { method: "POST" });
    // The first may run (nothing known of the budget yet) or be refused already (the push's own
    // GitHub updates told envhooks what is left); a minute later, GitHub's answers are known.
    const first = await dryRun();
    expect([200, 429]).toContain(first.status);
    advance(61_000);
    const reads = repositoryReads();
    const refused = await dryRun();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(60);
    const error = (await refused.json()).error;
    expect(error.code).toBe("github_budget_low");
    expect(error.message).toContain("requests left");
    expect(repositoryReads()).toBe(reads);
  });

  it("remembers a dry run that failed after asking GitHub: the same answer within the minute, GitHub not asked again", async () => {
    const { app, advance } = await withClock();
    await app.deliver("push", pushCreatingMaster());
    await eventually(async () => (await environments()).length === 1);
    githubHas();
    github.configFiles.set(REPO, "fetch_branches: sometimes\n");
    await markOptionsStale(store.db, { keys: [REPO.toLowerCase()] });
    const dryRun = () => app.api(`/api/projects/${REPO}/resync?dry_run=true`, { method: "POST" });
    // An invalid .github/envhooks.yml: found after GET /repos, so a 409 that cost GitHub requests.
    for (let n = 0; n < 20; n++) {
      const answer = await dryRun();
      expect(answer.status).toBe(409);
      expect((await answer.json()).error.code).toBe("invalid_config");
    }
    expect(repositoryReads()).toBe(1);
    // A minute later GitHub is asked again; it no longer knows the repository (404): remembered too.
    advance(61_000);
    github.repositories.delete(REPO);
    for (let n = 0; n < 20; n++) {
      const answer = await dryRun();
      expect(answer.status).toBe(502);
      expect((await answer.json()).error.code).toBe("github_failed");
    }
    expect(repositoryReads()).toBe(2);
    // A minute later the answer is GitHub's again.
    advance(61_000);
    github.configFiles.set(REPO, "");
    await markOptionsStale(store.db, { keys: [REPO.toLowerCase()] });
    githubHas();
    expect((await dryRun()).status).toBe(200);
    expect(repositoryReads()).toBe(3);
  });

  it("an applied resync that took the project after another finished waits for the cooldown (checked when it takes the project)", async () => {
    const clock = { at: new Date() };
    const now = () => clock.at;
    let runs = 0;
    const resync = async (fullName: string) => {
      runs++;
      return { project: fullName, githubRequests: 2 } as unknown as ResyncResult;
    };
    // B has read the project's runs (none applied) and is about to take it, held there…
    let reachedTake!: () => void;
    const atTake = new Promise<void>((resolve) => {
      reachedTake = resolve;
    });
    let releaseTake!: () => void;
    const released = new Promise<void>((resolve) => {
      releaseTake = resolve;
    });
    const heldDb: Queryable = {
      query: (async (text: string, values?: unknown[]) => {
        if (text.includes("INSERT INTO resync_runs")) {
          reachedTake();
          await released;
        }
        return store.db.query(text, values);
      }) as Queryable["query"],
      exec: (text) => store.db.exec(text),
    };
    const a = limitResync({ db: store.db, now }, resync);
    const b = limitResync({ db: heldDb, now }, resync);
    const second = b(REPO, { dryRun: false });
    await atTake;
    // …while A runs an applied resync from start to end.
    await a(REPO, { dryRun: false });
    expect(runs).toBe(1);
    releaseTake();
    await expect(second).rejects.toMatchObject({ status: 429, code: "resync_cooldown" });
    expect(runs).toBe(1);
    // After the cooldown it runs.
    clock.at = new Date(clock.at.getTime() + 61_000);
    await b(REPO, { dryRun: false });
    expect(runs).toBe(2);
  });

  it("the plan shows an identity change (GitHub reports another id for this name), and applying does exactly that", async () => {
    const { app, advance } = await withClock();
    // acme/web's project was made by an event carrying Hello-World's id (the simulator did that).
    const borrowed = pushTo("acme/web", 1);
    borrowed.repository.id = REPOSITORY_ID;
    await app.deliver("push", borrowed);
    await eventually(async () => (await environments("acme/web")).length === 1);
    github.configFiles.set("acme/web", "");
    github.repositories.set("acme/web", {
      id: 4242,
      default_branch: DEFAULT_BRANCH,
      branches: [{ name: DEFAULT_BRANCH, sha: sha(1) }],
      pulls: [],
    });
    const idOf = async (key: string) =>
      (
        await store.db.query<{ id: string | null }>(
          "SELECT repository_id::text AS id FROM projects WHERE key = $1",
          [key],
        )
      ).rows[0]?.id;

    const preview = await app.api("/api/projects/acme/web/resync?dry_run=true", { method: "POST" });
    expect(preview.status).toBe(200);
    const planned = await preview.json();
    expect(planned.repository_id).toBe(4242);
    expect(planned.identity).toMatchObject({
      kind: "identity",
      project: "acme/web",
      from_repository_id: REPOSITORY_ID,
      to_repository_id: 4242,
      released: null,
    });
    expect(planned.identity.description).toContain(
      `GitHub reports repository id 4242 for acme/web, not ${REPOSITORY_ID}`,
    );
    expect(await idOf("acme/web")).toBe(String(REPOSITORY_ID));
    // The dashboard's preview shows it, and its form applies it only for that id.
    const person = new DashboardClient(app.app);
    await person.signIn(API_TOKEN);
    const page = await (await person.get("/projects/acme/web/resync")).text();
    expect(page).toContain("Identity change:");
    expect(page).toContain('name="expected_repository_id" value="4242"');

    // GitHub answering another id than the plan showed: nothing applied.
    const stale = await app.api("/api/projects/acme/web/resync?expected_repository_id=999", {
      method: "POST",
    });
    expect(stale.status).toBe(409);
    expect((await stale.json()).error.code).toBe("identity_changed");
    expect(await idOf("acme/web")).toBe(String(REPOSITORY_ID));
    advance(61_000);

    const applied = await person.post("/projects/acme/web/resync", { expected_repository_id: "4242" });
    expect(applied.status).toBe(303);
    expect(await (await person.get(applied.headers.get("location") ?? "")).text()).toContain(
      "Identity change:",
    );
    expect(await idOf("acme/web")).toBe("4242");
    expect(app.logs.some((line) => line.includes("GitHub reports repository id 4242 for acme/web"))).toBe(
      true,
    );
    // Hello-World's own events now make a project of their own; acme/web stays as it is.
    await app.deliver("push", pushCreatingMaster());
    await eventually(async () => (await environments()).length === 1);
    expect(await idOf(REPO.toLowerCase())).toBe(String(REPOSITORY_ID));
    expect(await idOf("acme/web")).toBe("4242");
    expect((await environments("acme/web")).map((e) => e.name)).toEqual([DEFAULT_BRANCH]);
  });

  it("a resync of a name kept apart from its repository's project (a rename seen before repository.renamed) merges the two, as its plan says", async () => {
    const app = envhooks as TestEnvhooks;
    const RENAMED = "Codertocat/Renamed-World";
    expect(
      (await app.api(`/api/projects/${REPO}/integrations`, { body: { type: "webhook", url: receiver.url } }))
        .status,
    ).toBe(201);
    await app.deliver("push", pushCreatingMaster());
    await eventually(async () => receiver.received.length === 1);
    // Renamed while envhooks was down: an event under the new name within the hour is kept apart.
    const renamedPush = pushTo(RENAMED, 1);
    renamedPush.repository.id = REPOSITORY_ID;
    await app.deliver("push", renamedPush);
    await eventually(async () => (await environments(RENAMED)).length === 1);
    github.configFiles.set(RENAMED, "");
    github.repositories.set(RENAMED, {
      id: REPOSITORY_ID,
      default_branch: DEFAULT_BRANCH,
      branches: [{ name: DEFAULT_BRANCH, sha: sha(1) }],
      pulls: [],
    });

    const preview = await app.api(`/api/projects/${RENAMED}/resync?dry_run=true`, { method: "POST" });
    expect(preview.status).toBe(200);
    const planned = await preview.json();
    expect(planned.identity).toMatchObject({
      kind: "renamed",
      project: REPO,
      to_name: RENAMED,
      displaced: null,
    });
    expect(planned.identity.description).toContain(
      `project ${RENAMED}, kept apart under that name, is merged into it`,
    );
    const applied = await app.api(`/api/projects/${RENAMED}/resync?expected_repository_id=${REPOSITORY_ID}`, {
      method: "POST",
    });
    expect(applied.status).toBe(200);
    const projects = await store.db.query<{ key: string; id: string | null }>(
      "SELECT key, repository_id::text AS id FROM projects",
    );
    expect(projects.rows).toEqual([{ key: RENAMED.toLowerCase(), id: String(REPOSITORY_ID) }]);
    expect(await (await app.api(`/api/projects/${RENAMED}/integrations`)).json()).toHaveLength(1);
    expect((await app.api(`/api/projects/${REPO}/environments`)).status).toBe(307);
  });

  it("resyncs a repository added to the installation, and refuses what it cannot do", async () => {
    const app = envhooks as TestEnvhooks;
    github.configFiles.set("acme/fresh", "fetch_branches: false\n");
    github.repositories.set("acme/fresh", {
      id: 4242,
      default_branch: "main",
      branches: [
        { name: "main", sha: sha(1) },
        { name: "topic", sha: sha(2) },
      ],
      pulls: [
        {
          number: 3,
          title: "Topic",
          draft: false,
          labels: [],
          head: { ref: "topic", sha: sha(2), repo: { full_name: "acme/fresh" } },
          base: { ref: "main", sha: sha(1), repo: { full_name: "acme/fresh" } },
        },
      ],
    });
    const added = await app.deliver("installation_repositories", {
      action: "added",
      installation: { id: 7 },
      repositories_added: [{ id: 4242, full_name: "acme/fresh" }],
      repositories_removed: [],
    });
    expect(added.status).toBe(202);
    // fetch_branches: false — the default branch and the pull request, not `topic`.
    const names = await eventually(async () => {
      const response = await app.api("/api/projects/acme/fresh/environments");
      if (response.status !== 200) return undefined;
      const list = (await response.json()).map((e: { name: string }) => e.name).sort();
      return list.length === 2 ? list : undefined;
    });
    expect(names).toEqual(["main", "pr-3"]);
    // prune_branches (on by default) needs every branch listed: one page.
    expect(github.callsTo(/\/repos\/acme\/fresh\/branches$/)).toHaveLength(1);

    const invalid = await app.api("/api/projects/acme/fresh/resync?dry_run=maybe", { method: "POST" });
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).error.message).toContain("dry_run");
    const unknown = await app.api("/api/projects/acme/unknown/resync", { method: "POST" });
    expect(unknown.status).toBe(404);
  });
});
