import examples from "@octokit/webhooks-examples/api.github.com/index.json" with { type: "json" };
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dueCheckWaits } from "../../src/store/check-waits.ts";
import { checkRun, checkSuite, commitStatus } from "../fixtures/check-events.ts";
import { pushDeletingBranch, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

type Activity = Record<string, any>;

const SHA = "1".repeat(40);
const NEXT = "2".repeat(40);
const BEFORE = "0".repeat(39) + "9";

describe.each(STORES)("wait_for_checks on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks | undefined;
  let receiver: Receiver;
  let store: TestStore | undefined;
  let clock: number;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    clock = Date.now();
    github = await new FakeGithub().start();
    receiver = await new Receiver().start();
  });
  afterEach(async () => {
    await envhooks?.close();
    envhooks = undefined;
    await store?.close();
    store = undefined;
    await github?.stop();
    await receiver?.stop();
  });

  /** Starts envhooks on `config`, on its own store (kept across a restart), with a relay to `receiver`. */
  async function start(config: string) {
    github.configFiles.set(REPO, config);
    store ??= await kind.open();
    envhooks = await startTestEnvhooks(kind, { github, store, now: () => new Date(clock) });
    const added = await envhooks.api(`/api/projects/${REPO}/integrations`, {
      body: {
        type: "webhook",
        url: receiver.url,
        states: ["pending", "in_progress", "complete", "cancelled"],
      },
    });
    expect(added.status).toBe(201);
  }
  /** Starts envhooks again on the same store, after `instance().stop()`. */
  async function restart() {
    envhooks = await startTestEnvhooks(kind, { github, store, now: () => new Date(clock) });
  }
  function instance(): TestEnvhooks {
    if (!envhooks) throw new Error("envhooks is not started");
    return envhooks;
  }
  async function send(name: string, payload: unknown) {
    expect((await instance().deliver(name, payload)).status).toBe(202);
  }
  async function push(branch: string, after: string, before = BEFORE) {
    await send("push", pushToBranch(branch, { before, after }));
  }
  async function activities(count: number): Promise<Activity[]> {
    return eventually(async () => {
      const response = await instance().api(`/api/projects/${REPO}/activities?limit=100`);
      const items = ((await response.json()) as { items: Activity[] }).items.reverse();
      return items.length === count ? items : undefined;
    });
  }
  async function activity(id: string): Promise<Activity> {
    return (await instance().api(`/api/activities/${id}`)).json() as Promise<Activity>;
  }
  async function settled() {
    await eventually(async () => {
      const { db } = instance().store;
      const events = await db.query("SELECT 1 FROM github_events WHERE state = 'pending'");
      const tasks = await db.query("SELECT 1 FROM github_tasks WHERE state = 'pending'");
      return events.rows.length === 0 && tasks.rows.length === 0;
    });
  }
  const reads = (sha: string) => github.callsTo(new RegExp(`/commits/${sha}/check-runs$`));
  const relayed = (id: string) =>
    receiver
      .bodies()
      .filter((body) => body.id === id)
      .map((body) => body.state);
  /** Waits until the activity is no longer pending. */
  async function decided(id: string): Promise<Activity> {
    return eventually(async () => {
      const current = await activity(id);
      return current.state === "pending" ? undefined : current;
    });
  }

  it("waits, pending, for every check suite and status of the pushed commit, then builds", async () => {
    await start("wait_for_checks: all\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    expect(waiting).toMatchObject({ state: "pending", waiting_for_checks: { sha: SHA, mode: "all" } });
    expect(waiting?.log).toContain(`Waiting for checks on ${SHA}`);
    expect(waiting?.text).toContain(`waiting for checks on ${SHA.slice(0, 7)}`);
    await settled();
    // The state is read once, at the first wait.
    expect(reads(SHA)).toHaveLength(1);
    expect(github.callsTo(new RegExp(`/commits/${SHA}/check-suites$`))).toHaveLength(1);
    expect(github.callsTo(new RegExp(`/commits/${SHA}/status$`))).toHaveLength(1);
    expect(github.commitStatuses.get(SHA)?.at(-1)).toMatchObject({
      state: "pending",
      context: "envhooks/feature",
    });

    // The project page shows the environment waiting.
    const operator = new DashboardClient(instance().app);
    await operator.signIn(API_TOKEN);
    const environmentRow = async () => {
      const page = await (await operator.get(`/projects/${REPO}`)).text();
      return /<tr id="environment-feature">[\s\S]*?<\/tr>/.exec(page)?.[0] ?? "";
    };
    expect(await environmentRow()).toContain("waiting for checks");

    await send("check_run", checkRun("created", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await send("status", commitStatus(SHA, "ci/circleci", "pending"));
    await send("check_run", checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await send("check_suite", checkSuite("completed", { id: 1, sha: SHA }));
    await settled();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });

    await send("status", commitStatus(SHA, "ci/circleci", "success"));
    const done = await decided(waiting?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
    expect(done.waiting_for_checks).toBeUndefined();
    expect(done.text).toContain("environment feature created.");
    expect(done.log).toContain("Checks passed: lint (success), ci/circleci (success).");
    await eventually(async () => relayed(waiting?.id).length === 2);
    expect(relayed(waiting?.id)).toEqual(["pending", "complete"]);
    await settled();
    expect(await environmentRow()).not.toContain("waiting for checks");
    expect(github.commitStatuses.get(SHA)?.at(-1)).toMatchObject({
      state: "success",
      context: "envhooks/feature",
    });
    // Nothing polled: the events did the rest.
    expect(reads(SHA)).toHaveLength(1);
  });

  it("fails the activity naming the failing check, with its page in the log", async () => {
    await start("wait_for_checks: all\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    await send("check_run", checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await send(
      "check_run",
      checkRun("completed", { id: 12, sha: SHA, name: "test", suiteId: 1, conclusion: "failure" }),
    );
    await send("check_suite", checkSuite("completed", { id: 1, sha: SHA, conclusion: "failure" }));
    const failed = await decided(waiting?.id);
    expect(failed).toMatchObject({ state: "complete", result: "failure" });
    expect(failed.log).toContain("Checks failed");
    expect(failed.log).toContain("- test: failure https://github.com/Codertocat/Hello-World/runs/12");
    expect(failed.log).not.toContain("- lint");
    expect(failed.text).toContain("not created: checks did not pass");
    await eventually(async () => relayed(waiting?.id).length === 2);
    expect(relayed(waiting?.id)).toEqual(["pending", "complete"]);
  });

  it("waits again for a re-run suite, and builds when the re-run passes", async () => {
    await start("wait_for_checks: all\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    await send("status", commitStatus(SHA, "ci/circleci", "pending"));
    await send(
      "check_run",
      checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1, conclusion: "failure" }),
    );
    await send("check_suite", checkSuite("completed", { id: 1, sha: SHA, conclusion: "failure" }));
    await settled();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    // The failed job is re-run: a new run of it, in its suite queued again.
    await send("check_run", checkRun("created", { id: 13, sha: SHA, name: "lint", suiteId: 1 }));
    await send("status", commitStatus(SHA, "ci/circleci", "success"));
    await settled();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    await send("check_run", checkRun("completed", { id: 13, sha: SHA, name: "lint", suiteId: 1 }));
    await settled();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    await send("check_suite", checkSuite("completed", { id: 1, sha: SHA }));
    const done = await decided(waiting?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
    expect(done.log).toContain("lint (success)");
  });

  it("fails after wait_for_checks_timeout, naming the checks still pending", async () => {
    await start("wait_for_checks: all\nwait_for_checks_timeout: 30m\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    await send("check_run", checkRun("created", { id: 11, sha: SHA, name: "e2e", suiteId: 1 }));
    await settled();
    clock += 29 * 60_000;
    await instance().sweep();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    clock += 2 * 60_000;
    await instance().sweep();
    const failed = await activity(waiting?.id);
    expect(failed).toMatchObject({ state: "complete", result: "failure" });
    expect(failed.log).toContain("Checks still pending after 30m (wait_for_checks_timeout): e2e.");
  });

  it("goes ahead without checks when none appears within wait_for_checks_grace, and says so", async () => {
    await start("wait_for_checks: all\nwait_for_checks_grace: 3m\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    // envhooks' own status is no check of the commit's.
    await send("status", commitStatus(SHA, "envhooks/feature", "pending"));
    await settled();
    clock += 2 * 60_000;
    await instance().sweep();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    clock += 2 * 60_000;
    await instance().sweep();
    const done = await activity(waiting?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
    expect(done.log).toContain(
      "No check suite or commit status appeared within 3m of the push (wait_for_checks_grace): the build goes ahead without checks.",
    );
  });

  it("drops a check suite that never started at the grace, even when other checks passed before it", async () => {
    await start("wait_for_checks: all\nwait_for_checks_grace: 3m\nwait_for_checks_timeout: 30m\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    // An app that makes a suite on every push and runs nothing; real CI passes within 40 s.
    await send("check_suite", checkSuite("requested", { id: 2, sha: SHA, app: "idle-app" }));
    await send("check_run", checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await send("check_suite", checkSuite("completed", { id: 1, sha: SHA }));
    await settled();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    clock += 2 * 60_000;
    await instance().sweep();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    // At the grace, not at the timeout.
    clock += 2 * 60_000;
    await instance().sweep();
    const done = await activity(waiting?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
    expect(done.log).toContain("Checks passed: lint (success).");
    // A wait still pending past its grace is decided once there, not on every sweep.
    await push("other", NEXT);
    const [, other] = await activities(2);
    await settled();
    await send("check_run", checkRun("created", { id: 21, sha: NEXT, name: "e2e", suiteId: 3 }));
    await settled();
    clock += 4 * 60_000;
    await instance().sweep();
    const { rows } = await instance().store.db.query("SELECT graced FROM check_waits");
    expect(rows).toEqual([{ graced: true }]);
    expect(await dueCheckWaits(instance().store.db, new Date(clock))).toEqual([]);
    expect(await activity(other?.id)).toMatchObject({ state: "pending" });
  });

  it("follows a rename during a wait: the checks under the new name settle it", async () => {
    const renamed = "Codertocat/Renamed-World";
    github.configFiles.set(renamed, "wait_for_checks: all\n");
    await start("wait_for_checks: all\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    await send("check_run", checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await settled();
    const asRenamed = (payload: Record<string, any>) => {
      payload.repository = { ...payload.repository, name: "Renamed-World", full_name: renamed };
      return payload;
    };
    const group = (examples as Array<{ name: string; examples: Array<Record<string, any>> }>).find(
      (e) => e.name === "repository",
    );
    const rename = structuredClone(group?.examples.find((e) => e.action === "renamed")) as Record<
      string,
      any
    >;
    rename.repository = { ...checkSuite("completed", { id: 1, sha: SHA }).repository };
    await send("repository", asRenamed(rename));
    await settled();
    await send("check_suite", asRenamed(checkSuite("completed", { id: 1, sha: SHA })));
    const done = await decided(waiting?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
    expect(done.log).toContain("Checks passed: lint (success).");
    const { rows } = await instance().store.db.query(
      "SELECT 1 FROM check_waits UNION ALL SELECT 1 FROM commit_checks",
    );
    expect(rows).toEqual([]);
  });

  it("waits too when a push brings a deactivated environment back", async () => {
    await start("wait_for_checks: all\nwait_for_checks_grace: 1m\nstale_after: 1d\n");
    await push("feature", SHA);
    const [first] = await activities(1);
    await settled();
    clock += 2 * 60_000;
    await instance().sweep();
    expect(await activity(first?.id)).toMatchObject({ state: "complete", result: "success" });
    clock += 2 * 24 * 3_600_000;
    await instance().sweep();
    const [, deactivated] = await activities(2);
    expect(deactivated).toMatchObject({ type: "environment.deactivate" });
    await settled();

    await push("feature", NEXT, SHA);
    const [, , activated] = await activities(3);
    expect(activated).toMatchObject({
      type: "environment.activate",
      state: "pending",
      waiting_for_checks: { sha: NEXT, mode: "all" },
    });
    expect(activated?.text).toContain(`waiting for checks on ${NEXT.slice(0, 7)}`);
    await settled();
    await send("check_run", checkRun("completed", { id: 21, sha: NEXT, name: "lint", suiteId: 2 }));
    await send("check_suite", checkSuite("completed", { id: 2, sha: NEXT }));
    const done = await decided(activated?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
    expect(done.text).toContain("environment feature activated.");
    expect(done.log).toContain("Checks passed: lint (success).");
  });

  it("cancels a waiting activity when its environment is deleted, with no deploy runner", async () => {
    await start("wait_for_checks: all\nrunner: none\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    await send("push", pushDeletingBranch("feature", SHA));
    const [, deleted] = await activities(2);
    expect(deleted).toMatchObject({ type: "environment.delete", state: "complete" });
    expect(await activity(waiting?.id)).toMatchObject({ state: "cancelled", superseded_by: deleted?.id });
    await settled();
    // Its commit's checks passing later build nothing for the deleted environment.
    await send("check_run", checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await send("check_suite", checkSuite("completed", { id: 1, sha: SHA }));
    await settled();
    expect(await activity(waiting?.id)).toMatchObject({ state: "cancelled" });
    const { rows } = await instance().store.db.query("SELECT 1 FROM check_waits");
    expect(rows).toEqual([]);
    await eventually(async () => relayed(waiting?.id).length === 2);
    expect(relayed(waiting?.id)).toEqual(["pending", "cancelled"]);
  });

  it("never waits on its own envhooks/* statuses", async () => {
    await start("wait_for_checks: all\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    await send("status", commitStatus(SHA, "envhooks/feature", "pending"));
    await send("status", commitStatus(SHA, "envhooks/config", "failure"));
    await send("check_run", checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await send("check_suite", checkSuite("completed", { id: 1, sha: SHA }));
    const done = await decided(waiting?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
  });

  it("with `required`, waits only for the branch's required checks (protection and rulesets); a branch with none builds at once", async () => {
    github.protectedBranches.set("feature", ["ci/test"]);
    github.rulesetChecks.set("feature", ["lint"]);
    await start("wait_for_checks: required\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    expect(github.callsTo(/\/Hello-World\/branches\/feature$/)).toHaveLength(1);
    expect(github.callsTo(/\/rules\/branches\/feature$/)).toHaveLength(1);
    // Not required: neither a failure nor a pending check of it matters.
    await send("status", commitStatus(SHA, "ci/optional", "failure"));
    await send("check_run", checkRun("created", { id: 12, sha: SHA, name: "slow-optional", suiteId: 1 }));
    await send("check_run", checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await settled();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    await send("status", commitStatus(SHA, "ci/test", "success", "https://ci.example.com/1"));
    const done = await decided(waiting?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
    expect(done.log).toContain("Checks passed: ci/test (success), lint (success).");

    await push("other", NEXT);
    const [, unprotected] = await activities(2);
    const built = await decided(unprotected?.id);
    expect(built).toMatchObject({ state: "complete", result: "success" });
    expect(built.log).toContain("The branch requires no checks");
  });

  it("with `required`, fails at the timeout when the branch's required checks could not be read", async () => {
    // GitHub refuses the read for good (a 4xx is not retried): the required checks stay unknown.
    github.fail("GET", /\/Hello-World\/branches\/feature$/, 422, 5);
    await start("wait_for_checks: required\nwait_for_checks_timeout: 30m\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    expect(github.callsTo(/\/Hello-World\/branches\/feature$/).length).toBeGreaterThan(0);
    clock += 29 * 60_000;
    await instance().sweep();
    expect(await activity(waiting?.id)).toMatchObject({ state: "pending" });
    clock += 2 * 60_000;
    await instance().sweep();
    const failed = await activity(waiting?.id);
    expect(failed).toMatchObject({ state: "complete", result: "failure" });
    expect(failed.log).toContain("The branch's required checks could not be read within 30m");
    const { rows } = await instance().store.db.query("SELECT 1 FROM check_waits");
    expect(rows).toEqual([]);
  });

  it("survives a restart during a wait: the commit's checks are read again and settle it", async () => {
    await start("wait_for_checks: all\n");
    await push("feature", SHA);
    const [waiting] = await activities(1);
    await settled();
    expect(reads(SHA)).toHaveLength(1);
    await instance().stop();
    // While no process listened, CI finished (its events went nowhere).
    github.checkSuites.set(SHA, [
      {
        id: 1,
        status: "completed",
        conclusion: "success",
        app: { slug: "github-actions", name: "GitHub Actions" },
      },
    ]);
    github.checkRuns.set(SHA, [
      {
        id: 11,
        name: "lint",
        status: "completed",
        conclusion: "success",
        html_url: "https://github.com/Codertocat/Hello-World/runs/11",
        check_suite: { id: 1 },
      },
    ]);
    await restart();
    const done = await decided(waiting?.id);
    expect(done).toMatchObject({ state: "complete", result: "success" });
    expect(reads(SHA)).toHaveLength(2);
  });

  it("stores check events only for a repository that waits, and refuses a malformed one naming the field", async () => {
    await start("runner: none\n");
    await push("feature", SHA);
    await activities(1);
    await settled();
    const ignored = await instance().deliver(
      "check_run",
      checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }),
    );
    expect(await ignored.json()).toMatchObject({ status: "ignored" });
    const bad = commitStatus(SHA, "ci/test", "success");
    bad.sha = "not-a-commit";
    const refused = await instance().deliver("status", bad);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { details: { field: "sha" } } });
    const { rows } = await instance().store.db.query(
      "SELECT 1 FROM github_events WHERE name IN ('check_run', 'status')",
    );
    expect(rows).toEqual([]);
  });

  it("lets a newer push supersede a waiting activity; the older commit's checks change nothing", async () => {
    await start("wait_for_checks: all\n");
    await push("feature", SHA);
    const [first] = await activities(1);
    await push("feature", NEXT, SHA);
    const [, second] = await activities(2);
    await settled();
    expect(await activity(first?.id)).toMatchObject({ state: "cancelled", superseded_by: second?.id });
    expect(second).toMatchObject({ state: "pending", waiting_for_checks: { sha: NEXT } });

    await send("check_run", checkRun("completed", { id: 11, sha: SHA, name: "lint", suiteId: 1 }));
    await send("check_suite", checkSuite("completed", { id: 1, sha: SHA }));
    await settled();
    expect(await activity(first?.id)).toMatchObject({ state: "cancelled" });
    expect(await activity(second?.id)).toMatchObject({ state: "pending" });
    const { rows } = await instance().store.db.query("SELECT sha FROM check_waits");
    expect(rows).toEqual([{ sha: NEXT }]);

    await send("check_run", checkRun("completed", { id: 21, sha: NEXT, name: "lint", suiteId: 2 }));
    await send("check_suite", checkSuite("completed", { id: 2, sha: NEXT }));
    expect(await decided(second?.id)).toMatchObject({ state: "complete", result: "success" });
    await eventually(async () => relayed(first?.id).length === 2);
    expect(relayed(first?.id)).toEqual(["pending", "cancelled"]);
  });
});
