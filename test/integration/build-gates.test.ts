import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import {
  DEFAULT_BRANCH,
  pullRequest,
  pullRequestSynchronized,
  pushCreatingBranch,
  pushToBranch,
  REPO,
} from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const sha = (n: number) => n.toString(16).padStart(40, "e");
const SKIPPED = "skipped: no changed file under paths";
const DAY = 86_400_000;

/** A push of one commit to `branch` changing `files` (GitHub's `added` / `modified` / `removed`). */
function pushFiles(branch: string, before: string, after: string, files: string[], extra: object = {}) {
  const payload = pushToBranch(branch, { before, after });
  const [added = [], ...rest] = [files.filter((_, n) => n % 2 === 0), files.filter((_, n) => n % 2 === 1)];
  Object.assign(payload.commits[0], { added, modified: rest[0] ?? [], removed: [] });
  return { ...payload, ...extra };
}

describe.each(STORES)(
  "build gates (paths, max_environments, stale_after) on $name",
  { timeout: 120_000 },
  (kind) => {
    let github: FakeGithub;
    let envhooks: TestEnvhooks;
    let receiver: Receiver;
    let clock: Date;

    async function start(config: string) {
      github.configFiles.set(REPO, config);
      envhooks = await startTestEnvhooks(kind, { github, now: () => clock });
      await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: receiver.url },
      });
    }

    beforeEach(async ({ skip }) => {
      if (kind.skip) skip(kind.skip);
      github = await new FakeGithub().start();
      receiver = await new Receiver().start();
      clock = new Date();
    });
    afterEach(async () => {
      await envhooks?.close();
      await github?.stop();
      await receiver?.stop();
    });

    /** Delivers an event and waits until it is applied; returns its outcome. */
    async function send(name: string, payload: unknown): Promise<string> {
      const deliveryId = randomUUID();
      expect((await envhooks.deliver(name, payload, { deliveryId })).status).toBe(202);
      const event = await eventually(async () => {
        const found = await findEvent(envhooks.store.db, deliveryId);
        return found && found.state !== "pending" ? found : undefined;
      });
      expect(event.state).toBe("processed");
      return event.outcome ?? "";
    }
    async function githubSettled() {
      await eventually(async () => {
        const tasks = await envhooks.store.db.query("SELECT 1 FROM github_tasks WHERE state = 'pending'");
        return tasks.rows.length === 0;
      });
    }
    async function activities(): Promise<Array<Record<string, any>>> {
      const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
      return ((await response.json()) as { items: Array<Record<string, any>> }).items.reverse();
    }
    async function environments(): Promise<Record<string, { status: string; head_commit: string | null }>> {
      const listed = await (await envhooks.api(`/api/projects/${REPO}/environments`)).json();
      return Object.fromEntries(
        (listed as Array<{ name: string; status: string; head_commit: string | null }>).map((e) => [
          e.name,
          e,
        ]),
      );
    }
    async function deliveries(): Promise<number> {
      const { rows } = await envhooks.store.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM deliveries",
      );
      return rows[0]?.n ?? 0;
    }
    /** The project page's row of an environment, as the dashboard shows it. */
    async function environmentRow(name: string): Promise<string> {
      const operator = new DashboardClient(envhooks.app);
      await operator.signIn(API_TOKEN);
      const page = await (await operator.get(`/projects/${REPO}`)).text();
      return (
        /<tr id="environment-([^"]+)">[\s\S]*?<\/tr>/g.exec(
          page.slice(page.indexOf(`<tr id="environment-${name}">`)),
        )?.[0] ?? ""
      );
    }
    const statusesOf = (commit: string) =>
      (github.commitStatuses.get(commit) ?? []) as Array<Record<string, string>>;
    const compares = () =>
      github.callsTo(/\/compare\//).map((call) => call.path.replace(/^.*\/compare\//, ""));

    it("skips a push's rebuild when no changed file is under paths: no activity, no delivery, a success status", async () => {
      await start('paths: ["apps/web/**", "packages/ui/**"]\npaths_ignore: ["**/*.md"]\n');
      await send("push", pushFiles("feature", sha(1), sha(2), ["apps/web/a.ts"]));
      expect(await deliveries()).toBe(1);

      const outcome = await send(
        "push",
        pushFiles("feature", sha(2), sha(3), ["apps/api/b.ts", "apps/web/README.md"]),
      );
      expect(outcome).toContain(`environment feature: ${SKIPPED}`);
      expect((await activities()).map((a) => a.type)).toEqual(["environment.branch"]);
      expect(await deliveries()).toBe(1);
      expect((await environments()).feature?.head_commit).toBe(sha(3));
      await githubSettled();
      expect(statusesOf(sha(3))).toEqual([
        expect.objectContaining({ context: "envhooks/feature", state: "success", description: SKIPPED }),
      ]);

      expect(await environmentRow("feature")).toContain("skipped (paths)");

      await send("push", pushFiles("feature", sha(3), sha(4), ["packages/ui/button.tsx"]));
      expect(await environmentRow("feature")).not.toContain("skipped (paths)");
      expect((await activities()).map((a) => a.type)).toEqual(["environment.branch", "environment.push"]);
      await eventually(async () => receiver.received.length === 2);
      expect(compares()).toEqual([]);
    });

    it("builds instead of skipping when the environment's last build is pending or failed, or its head is elsewhere", async () => {
      await start('paths: ["apps/web/**"]\nrunner: external\n');
      await send("push", pushFiles("feature", sha(1), sha(2), ["apps/web/a.ts"]));
      // The apps/web change is still pending (a runner's, or waiting for checks): a docs-only push builds.
      let outcome = await send("push", pushFiles("feature", sha(2), sha(3), [".github/workflows/ci.yml"]));
      expect(outcome).not.toContain(SKIPPED);
      expect(outcome).toContain("its last build did not succeed");
      const pushed = (await activities()).filter((a) => a.type === "environment.push");
      expect(pushed.map((a) => a.parameters.new_commit)).toEqual([sha(3)]);

      // Its build fails: the next docs-only push builds again.
      const failed = await envhooks.api(`/api/activities/${pushed[0]?.id}/progress`, {
        body: { state: "complete", result: "failure", log: "Build failed" },
      });
      expect(failed.status).toBe(200);
      outcome = await send("push", pushFiles("feature", sha(3), sha(4), ["docs/a.md"]));
      expect(outcome).not.toContain(SKIPPED);
      let last = (await activities()).at(-1);
      expect(last?.parameters.new_commit).toBe(sha(4));

      // It succeeds: a docs-only push is skipped...
      const ok = await envhooks.api(`/api/activities/${last?.id}/progress`, {
        body: { state: "complete", result: "success", log: "Deployed" },
      });
      expect(ok.status).toBe(200);
      expect(await send("push", pushFiles("feature", sha(4), sha(5), ["docs/b.md"]))).toContain(SKIPPED);
      // ...but not one that starts where the environment's head is not (a push envhooks never saw).
      outcome = await send("push", pushFiles("feature", sha(6), sha(7), ["docs/c.md"]));
      expect(outcome).not.toContain(SKIPPED);
      expect(outcome).toContain("is not where the change started");
      last = (await activities()).at(-1);
      expect([last?.type, last?.parameters.new_commit]).toEqual(["environment.push", sha(7)]);
    });

    it("takes a synchronize's files from the push to the same head, without a compare", async () => {
      await start('paths: ["apps/web/**"]\n');
      const opened = pullRequest("opened");
      await send("pull_request", opened);
      const head = opened.pull_request.head;
      await send("push", pushFiles(head.ref, head.sha, sha(5), ["docs/a.md"]));
      const outcome = await send("pull_request", pullRequestSynchronized(head.sha, sha(5)));
      expect(outcome).toContain(`environment pr-2: ${SKIPPED}`);
      expect((await activities()).filter((a) => a.environments[0] === "pr-2").map((a) => a.type)).toEqual([
        "environment.branch",
      ]);
      await githubSettled();
      expect(statusesOf(sha(5))).toContainEqual(
        expect.objectContaining({ context: "envhooks/pr-2", state: "success", description: SKIPPED }),
      );
      expect(compares()).toEqual([]);
    });

    it("takes no files from another branch's push to the same head: a synchronize from elsewhere is compared", async () => {
      await start('paths: ["apps/web/**"]\n');
      const opened = pullRequest("opened");
      await send("pull_request", opened);
      const head = opened.pull_request.head;
      // A feature branch moves to C with docs only; then the pull request's branch fast-forwards
      // from its head to the same C, bringing the feature's apps/web change with it.
      await send("push", pushFiles("feature", sha(11), sha(12), ["apps/web/a.ts"]));
      await send("push", pushFiles("feature", sha(12), sha(13), ["docs/a.md"]));
      await send("push", pushFiles(head.ref, head.sha, sha(13), ["apps/web/a.ts", "docs/a.md"]));
      github.compareFiles.set(`${head.sha}...${sha(13)}`, ["apps/web/a.ts", "docs/a.md"]);
      const outcome = await send("pull_request", pullRequestSynchronized(head.sha, sha(13)));
      expect(outcome).not.toContain(SKIPPED);
      expect(
        (await activities())
          .filter((a) => a.environments[0] === "pr-2")
          .map((a) => [a.type, a.parameters.new_commit]),
      ).toEqual([
        ["environment.branch", head.sha],
        ["environment.push", sha(13)],
      ]);
      expect(compares()).toEqual([`${head.sha}...${sha(13)}`]);
    });

    it("compares a synchronize with no push once, and builds or skips by the files GitHub lists", async () => {
      await start('paths: ["apps/web/**"]\n');
      const opened = pullRequest("opened");
      await send("pull_request", opened);
      const head = opened.pull_request.head.sha;
      github.compareFiles.set(`${head}...${sha(6)}`, ["apps/web/x.ts"]);
      github.compareFiles.set(`${sha(6)}...${sha(7)}`, ["docs/y.md"]);
      await send("pull_request", pullRequestSynchronized(head, sha(6)));
      expect(await send("pull_request", pullRequestSynchronized(sha(6), sha(7)))).toContain(SKIPPED);
      expect((await activities()).map((a) => a.type)).toEqual(["environment.branch", "environment.push"]);
      expect(compares()).toEqual([`${head}...${sha(6)}`, `${sha(6)}...${sha(7)}`]);
    });

    it("creates a new branch's environment whatever it changed, with no compare", async () => {
      await start('paths: ["apps/web/**"]\n');
      const created = pushCreatingBranch("feature", sha(8));
      Object.assign(created, { commits: pushFiles("feature", sha(1), sha(8), ["docs/a.md"]).commits });
      await send("push", created);
      expect((await activities()).map((a) => [a.type, a.environments[0]])).toEqual([
        ["environment.branch", "feature"],
      ]);
      expect(compares()).toEqual([]);
    });

    it("builds a force push without a compare: what it dropped is listed nowhere", async () => {
      await start('paths: ["apps/web/**"]\n');
      await send("push", pushFiles("feature", sha(1), sha(2), ["apps/web/a.ts"]));
      // sha(9) drops the apps/web commit sha(2) and adds docs only: three-dot compares list only the docs.
      github.compareFiles.set(`${DEFAULT_BRANCH}...${sha(9)}`, ["docs/only.md"]);
      github.compareFiles.set(`${sha(2)}...${sha(9)}`, ["docs/only.md"]);
      const forced = pushFiles("feature", sha(2), sha(9), ["docs/only.md"], { forced: true });
      const outcome = await send("push", forced);
      expect(outcome).not.toContain(SKIPPED);
      expect((await activities()).map((a) => [a.type, a.parameters.new_commit])).toEqual([
        ["environment.branch", sha(2)],
        ["environment.push", sha(9)],
      ]);
      expect(compares()).toEqual([]);
    });

    it("builds a synchronize whose new head dropped commits of the old one (a force push)", async () => {
      await start('paths: ["apps/web/**"]\n');
      const opened = pullRequest("opened");
      await send("pull_request", opened);
      const head = opened.pull_request.head.sha;
      // GitHub's three-dot compare lists only what the new head added (docs); it dropped 2 commits.
      github.compareFiles.set(`${head}...${sha(14)}`, ["docs/only.md"]);
      github.compareBehindBy.set(`${head}...${sha(14)}`, 2);
      expect(await send("pull_request", pullRequestSynchronized(head, sha(14)))).not.toContain(SKIPPED);
      expect((await activities()).map((a) => [a.type, a.parameters.new_commit])).toEqual([
        ["environment.branch", head],
        ["environment.push", sha(14)],
      ]);
      expect(compares()).toEqual([`${head}...${sha(14)}`]);

      // GitHub lists 300 files at most: a compare listing 300 is not known to be complete.
      const many = Array.from({ length: 300 }, (_, n) => `docs/${n}.md`);
      github.compareFiles.set(`${sha(14)}...${sha(15)}`, many);
      expect(await send("pull_request", pullRequestSynchronized(sha(14), sha(15)))).not.toContain(SKIPPED);
      expect((await activities()).length).toBe(3);
    });

    it("builds when a push changed more than 300 files, none under paths", async () => {
      await start('paths: ["apps/web/**"]\n');
      await send("push", pushFiles("feature", sha(1), sha(2), ["apps/web/a.ts"]));
      const files = Array.from({ length: 301 }, (_, n) => `apps/api/${n}.ts`);
      expect(await send("push", pushFiles("feature", sha(2), sha(3), files))).not.toContain(SKIPPED);
      expect((await activities()).map((a) => a.type)).toEqual(["environment.branch", "environment.push"]);
      expect(compares()).toEqual([]);
    });

    it("builds when GitHub fails to compare", async () => {
      await start('paths: ["apps/web/**"]\n');
      const opened = pullRequest("opened");
      await send("pull_request", opened);
      const head = opened.pull_request.head.sha;
      github.fail("GET", /\/compare\//, 500, 10);
      github.compareFiles.set(`${head}...${sha(3)}`, ["docs/a.md"]);
      expect(await send("pull_request", pullRequestSynchronized(head, sha(3)))).not.toContain(SKIPPED);
      expect((await activities()).map((a) => a.type)).toEqual(["environment.branch", "environment.push"]);
      expect(compares().length).toBeGreaterThanOrEqual(1);
      expect(envhooks.logs.join("")).toContain("GitHub did not compare two commits");
    });

    it("names the bad build gate option and changes no environment", async () => {
      await start('paths: "apps/web/**"\nmax_environments: 0\non_environment_limit: delete_oldest\n');
      expect(await send("push", pushFiles("feature", sha(1), sha(2), ["apps/web/a.ts"]))).toMatch(
        /^invalid \.github\/envhooks\.yml: /,
      );
      const [failed] = await activities();
      expect(failed).toMatchObject({ type: "integration.github.config", result: "failure" });
      expect(failed?.log).toMatch(/- paths: .*expected array/);
      expect(failed?.log).toContain("- max_environments: must be at least 1 (leave it out for no limit)");
      expect(failed?.log).toMatch(/- on_environment_limit: .*"refuse"\|"deactivate_oldest"/);
      expect(await environments()).toEqual({});
    });

    it("refuses an environment over max_environments and says so on the pull request", async () => {
      await start("max_environments: 1\n");
      await send("push", pushFiles("feature-a", sha(1), sha(2), ["a.ts"]));
      const opened = pullRequest("opened");
      const outcome = await send("pull_request", opened);
      expect(outcome).toContain("environment limit (1) reached");
      const refused = (await activities()).at(-1);
      expect(refused).toMatchObject({
        type: "environment.branch",
        state: "complete",
        result: "failure",
        environments: ["pr-2"],
      });
      expect(refused?.text).toMatch(
        /^Environment pr-2 not created: environment limit \(1\) reached\. Free one \(close a pull request, delete a branch\)/,
      );
      expect(Object.keys(await environments()).sort()).toEqual(["feature-a"]);
      expect(await environmentRow("pr-2")).toContain("not created: limit");
      await eventually(async () => receiver.received.length === 2);
      await githubSettled();
      expect(github.comments.get(2)?.[0]?.body).toContain("environment limit (1) reached");
      expect(statusesOf(opened.pull_request.head.sha)).toContainEqual(
        expect.objectContaining({
          context: "envhooks/pr-2",
          state: "failure",
          description: expect.stringContaining("environment limit (1) reached"),
        }),
      );
    });

    it("deactivates the oldest environment to make room, and reactivates a pushed or reopened one the same way", async () => {
      await start("max_environments: 1\non_environment_limit: deactivate_oldest\n");
      await send("push", pushFiles("feature-a", sha(1), sha(2), ["a.ts"]));
      await send("pull_request", pullRequest("opened"));
      expect((await activities()).map((a) => [a.type, a.environments[0], a.result])).toEqual([
        ["environment.branch", "feature-a", "success"],
        ["environment.deactivate", "feature-a", "success"],
        ["environment.branch", "pr-2", "success"],
      ]);
      expect((await activities())[1]?.text).toMatch(/made room for pr-2/);
      await send("push", pushFiles("feature-a", sha(2), sha(3), ["a.ts"]));
      expect((await activities()).slice(3).map((a) => [a.type, a.environments[0]])).toEqual([
        ["environment.deactivate", "pr-2"],
        ["environment.activate", "feature-a"],
      ]);
      const now = await environments();
      expect([now["feature-a"]?.status, now["pr-2"]?.status]).toEqual(["active", "inactive"]);

      // Reopening the pull request brings its environment back the same way.
      await send("pull_request", pullRequest("reopened"));
      expect((await activities()).slice(5).map((a) => [a.type, a.environments[0]])).toEqual([
        ["environment.deactivate", "feature-a"],
        ["environment.activate", "pr-2"],
      ]);
    });

    it("counts a paths skip as no activity for stale_after: the environment still goes stale", async () => {
      await start('paths: ["apps/web/**"]\nstale_after: 14d\n');
      await send("push", pushFiles("feature", sha(1), sha(2), ["apps/web/a.ts"]));
      clock = new Date(clock.getTime() + 10 * DAY);
      expect(await send("push", pushFiles("feature", sha(2), sha(3), ["docs/a.md"]))).toContain(SKIPPED);
      expect((await environments()).feature?.head_commit).toBe(sha(3));
      clock = new Date(clock.getTime() + 5 * DAY);
      await envhooks.sweep();
      const stale = (await activities()).filter((a) => a.type === "environment.deactivate");
      expect(stale.map((a) => a.environments[0])).toEqual(["feature"]);
    });

    it("deactivates environments idle for stale_after, and brings one back on a push when there is room", async () => {
      await start("max_environments: 1\nstale_after: 14d\n");
      await send("push", pushFiles(DEFAULT_BRANCH, sha(1), sha(2), ["a.ts"]));
      await send("push", pushFiles("feature-a", sha(1), sha(2), ["a.ts"]));
      clock = new Date(clock.getTime() + 13 * DAY);
      await envhooks.sweep();
      expect((await activities()).map((a) => a.type)).not.toContain("environment.deactivate");
      clock = new Date(clock.getTime() + 2 * DAY);
      await envhooks.sweep();
      const stale = (await activities()).filter((a) => a.type === "environment.deactivate");
      expect(stale.map((a) => a.environments[0])).toEqual(["feature-a"]);
      expect(stale[0]?.text).toMatch(/found no activity for 14d \(stale_after/);
      expect((await environments())[DEFAULT_BRANCH]?.status).toBe("active");

      // The deactivated environment frees its place: a pull request gets it, and a push to the
      // deactivated one is refused until the pull request is closed.
      await send("pull_request", pullRequest("opened"));
      expect(await send("push", pushFiles("feature-a", sha(2), sha(3), ["a.ts"]))).toContain(
        "Environment feature-a not activated: environment limit (1) reached",
      );
      await send("pull_request", pullRequest("closed"));
      await send("push", pushFiles("feature-a", sha(3), sha(4), ["a.ts"]));
      expect((await activities()).at(-1)).toMatchObject({
        type: "environment.activate",
        environments: ["feature-a"],
      });
      expect((await environments())["feature-a"]).toMatchObject({ status: "active", head_commit: sha(4) });
    });
  },
);
