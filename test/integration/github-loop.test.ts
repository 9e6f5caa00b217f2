import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DEFAULT_BRANCH,
  pullRequest,
  pullRequestFromFork,
  pullRequestSynchronized,
  pushCreatingMaster,
  pushToBranch,
  REPO,
} from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const CONFIG_URL = "https://{machine_name}.preview.example.com";
const sha = (n: number) => n.toString(16).padStart(40, "c");

/** The example pull request #2, moved to head `sha(n)` by a push (synchronize). */
const synchronize = (n: number) =>
  pullRequestSynchronized(pullRequest("synchronize").pull_request.head.sha, sha(n));

describe.each(STORES)("GitHub deployments, statuses and comments on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;
  let receiver: Receiver;
  let clock: Date;

  async function start(config: string) {
    github.configFiles.set(REPO, config);
    envhooks = await startTestEnvhooks(kind, { github, now: () => clock });
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

  async function send(name: string, payload: unknown) {
    const response = await envhooks.deliver(name, payload);
    expect(response.status).toBe(202);
  }
  /** Waits until every GitHub update written so far was sent (or set aside). */
  async function githubSettled() {
    await eventually(async () => {
      const events = await envhooks.store.db.query("SELECT 1 FROM github_events WHERE state = 'pending'");
      const tasks = await envhooks.store.db.query("SELECT 1 FROM github_tasks WHERE state = 'pending'");
      return events.rows.length === 0 && tasks.rows.length === 0;
    });
  }
  async function activities(): Promise<Array<Record<string, any>>> {
    const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
    return ((await response.json()) as { items: Array<Record<string, any>> }).items;
  }

  it("makes the exact calls for a pull request opened, pushed to and closed", async () => {
    await start(`environment_url: "${CONFIG_URL}"\n`);
    const opened = pullRequest("opened");
    await send("pull_request", opened);
    await githubSettled();
    expect(github.repositoryCalls()).toEqual([
      `POST /statuses/${opened.pull_request.head.sha}`,
      "GET /issues/2/comments",
      "POST /issues/2/comments",
      "POST /deployments",
      `POST /deployments/${github.deployments[0]?.id}/statuses`,
    ]);
    const [deployment] = github.deployments;
    expect(deployment).toMatchObject({
      ref: opened.pull_request.head.sha,
      environment: "pr-2",
      transient_environment: true,
      production_environment: false,
      statuses: [{ state: "success", environment_url: "https://pr-2.preview.example.com" }],
    });
    expect(github.commitStatuses.get(opened.pull_request.head.sha)).toEqual([
      expect.objectContaining({
        state: "success",
        context: "envhooks/pr-2",
        target_url: "https://pr-2.preview.example.com",
      }),
    ]);
    const [activity] = await activities();
    expect(activity?.payload.environment.url).toBe("https://pr-2.preview.example.com");

    github.calls.length = 0;
    await send("pull_request", synchronize(5));
    await githubSettled();
    const commentId = github.comments.get(2)?.[0]?.id;
    const [first, second] = github.deployments.map((d) => d.id);
    expect(github.repositoryCalls()).toEqual([
      `POST /statuses/${sha(5)}`,
      `PATCH /issues/comments/${commentId}`,
      "POST /deployments",
      `POST /deployments/${second}/statuses`,
    ]);

    github.calls.length = 0;
    await send("pull_request", pullRequest("closed"));
    await githubSettled();
    // The deployments envhooks made are on record: none need listing.
    expect(github.repositoryCalls()).toEqual([
      `POST /deployments/${first}/statuses`,
      `POST /deployments/${second}/statuses`,
      `PATCH /issues/comments/${commentId}`,
    ]);
    expect(github.deployments.map((d) => d.statuses.at(-1)?.state)).toEqual(["inactive", "inactive"]);
    expect(github.comments.get(2)).toHaveLength(1);
    expect(github.comments.get(2)?.[0]?.body).toMatch(/<!-- envhooks:environment -->[\s\S]*deleted/);
  });

  it("edits its one comment across three rebuilds instead of adding more", async () => {
    await start("");
    await send("pull_request", pullRequest("opened"));
    for (const n of [1, 2, 3]) await send("pull_request", synchronize(n));
    await githubSettled();
    expect(github.comments.get(2)).toHaveLength(1);
    expect(github.callsTo(/\/issues\/2\/comments$/).filter((c) => c.method === "POST")).toHaveLength(1);
    // Edited at most once per rebuild: states a newer one superseded before they were sent are merged.
    const edits = github.callsTo(/\/issues\/comments\/\d+$/).filter((c) => c.method === "PATCH");
    expect(edits.length).toBeLessThanOrEqual(3);
    expect(github.comments.get(2)?.[0]?.body).toContain(`\`${sha(3).slice(0, 7)}\``);
  });

  it("retries a GitHub API 502 and meanwhile relays the activity without waiting", async () => {
    await start("");
    await envhooks.api(`/api/projects/${REPO}/integrations`, {
      body: { type: "webhook", url: receiver.url },
    });
    github.fail("POST", /\/deployments$/, 502, 1);
    await send("pull_request", pullRequest("opened"));
    await eventually(async () => receiver.received.length === 1);
    // The relay did not wait for GitHub: the deployment is not made yet (retry after ~1 s).
    expect(github.deployments).toHaveLength(0);
    await githubSettled();
    expect(github.callsTo(/\/deployments$/).map((c) => c.method)).toEqual(["POST", "POST"]);
    expect(github.deployments).toHaveLength(1);
    expect(github.deployments[0]?.statuses.map((s) => s.state)).toEqual(["success"]);
    const { rows } = await envhooks.store.db.query<{ attempts: number; state: string; last_error: string }>(
      "SELECT attempts, state, last_error FROM github_tasks",
    );
    expect(rows).toEqual([
      { attempts: 1, state: "done", last_error: expect.stringContaining("fake GitHub failure") },
    ]);
  });

  it("follows a deploy runner's progress through every state: relayed, mirrored on GitHub, 409 after complete", async () => {
    await start("runner: external\n");
    await envhooks.api(`/api/projects/${REPO}/integrations`, {
      body: {
        type: "webhook",
        url: receiver.url,
        states: ["pending", "in_progress", "complete", "cancelled"],
      },
    });
    const opened = pullRequest("opened");
    await send("pull_request", opened);
    const [created] = await eventually(async () => {
      const list = await activities();
      return list.length > 0 ? list : undefined;
    });
    expect(created).toMatchObject({ state: "pending", result: null, completion_percent: 0 });
    const token = (
      await (
        await envhooks.api("/api/tokens", { body: { project: REPO, name: "runner", access: "write" } })
      ).json()
    ).token as string;
    const report = (body: unknown) =>
      envhooks.app.request(`/api/activities/${created?.id}/progress`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    let response = await report({ state: "in_progress", completion_percent: 40, log: "Building image" });
    expect(response.status).toBe(200);
    response = await report({ completion_percent: 80, log: "Pushing image" });
    expect((await response.json()).state).toBe("in_progress");
    response = await report({
      state: "complete",
      result: "success",
      log: "Deployed",
      environment_url: "https://pr-2.runner.example.com",
      log_url: "https://ci.example.com/runs/7",
    });
    const completed = await response.json();
    expect(completed).toMatchObject({
      state: "complete",
      result: "success",
      completion_percent: 100,
      log_url: "https://ci.example.com/runs/7",
      payload: { environment: { url: "https://pr-2.runner.example.com" } },
    });
    expect(completed.log).toMatch(/Building image\nPushing image\nDeployed$/);

    response = await report({ state: "in_progress" });
    expect(response.status).toBe(409);
    expect((await response.json()).error.message).toBe(
      `Activity ${created?.id} is complete already: it cannot move to in_progress.`,
    );

    // One delivery per state change (the percent-only report changed no state).
    await eventually(async () => receiver.received.length === 3);
    await githubSettled();
    expect(receiver.received.map((r) => JSON.parse(r.body).state)).toEqual([
      "pending",
      "in_progress",
      "complete",
    ]);
    // Every state GitHub was sent, in order, once; a state superseded before it was sent is skipped.
    const states = github.deployments[0]?.statuses.map((s) => s.state) ?? [];
    expect(states.at(-1)).toBe("success");
    expect(["queued", "in_progress", "success"].filter((state) => states.includes(state))).toEqual(states);
    expect(github.deployments[0]?.statuses.at(-1)).toMatchObject({
      environment_url: "https://pr-2.runner.example.com",
      log_url: "https://ci.example.com/runs/7",
    });
    // `queued` and `in_progress` are both `pending` for a commit: sent once at most.
    const commitStates = github.commitStatuses.get(opened.pull_request.head.sha)?.map((s) => s.state) ?? [];
    expect(commitStates.at(-1)).toBe("success");
    expect(["pending", "success"].filter((state) => commitStates.includes(state))).toEqual(commitStates);
    const environments = await (await envhooks.api(`/api/projects/${REPO}/environments`)).json();
    expect(environments[0].url).toBe("https://pr-2.runner.example.com");
  });

  it("refuses bad progress reports with a clear answer and changes nothing", async () => {
    await start("runner: external\n");
    await send("pull_request", pullRequest("opened"));
    const [created] = await eventually(async () => {
      const list = await activities();
      return list.length > 0 ? list : undefined;
    });
    const path = `/api/activities/${created?.id}/progress`;
    let response = await envhooks.api(path, { body: { state: "done" } });
    expect(response.status).toBe(400);
    expect((await response.json()).error.details.fields[0].field).toBe("state");
    response = await envhooks.api(path, { body: { state: "in_progress", result: "success" } });
    expect(response.status).toBe(400);
    expect((await response.json()).error.details.fields[0].field).toBe("result");
    response = await envhooks.api(path, { body: { completion_percent: 140 } });
    expect((await response.json()).error.details.fields[0].field).toBe("completion_percent");
    response = await envhooks.api("/api/activities/aaaaaaaaaaaaa/progress", { body: { state: "complete" } });
    expect(response.status).toBe(404);
    const [after] = await activities();
    expect(after).toEqual(created);
  });

  it("completes an activity as failed when the runner does not report within runner_timeout", async () => {
    await start("runner: external\nrunner_timeout: 10m\n");
    await send("pull_request", pullRequest("opened"));
    await githubSettled();
    clock = new Date(clock.getTime() + 9 * 60_000);
    await envhooks.sweep();
    expect((await activities())[0]).toMatchObject({ state: "pending" });
    clock = new Date(clock.getTime() + 2 * 60_000);
    await envhooks.sweep();
    // The newest activity is the environment.runner.timeout alert (test/integration/alerts.test.ts).
    const activity = (await activities()).find((a) => a.type === "environment.branch");
    expect(activity).toMatchObject({ state: "complete", result: "failure" });
    expect(activity?.log).toMatch(/No report from the deploy runner within runner_timeout/);
    await githubSettled();
    expect(github.deployments[0]?.statuses.map((s) => s.state)).toEqual(["queued", "failure"]);
  });

  it("deletes environments idle for longer than environment_ttl, never the default branch's", async () => {
    await start("environment_ttl: 7d\n");
    await send("push", pushCreatingMaster());
    await send("push", pushToBranch("feature/old"));
    await githubSettled();
    clock = new Date(clock.getTime() + 6 * 86_400_000);
    await envhooks.sweep();
    expect((await activities()).map((a) => a.type)).not.toContain("environment.delete");

    clock = new Date(clock.getTime() + 2 * 86_400_000);
    await envhooks.sweep();
    const deleted = (await activities()).filter((a) => a.type === "environment.delete");
    expect(deleted).toHaveLength(1);
    expect(deleted[0]).toMatchObject({ environments: ["feature/old"], result: "success" });
    expect(deleted[0]?.text).toMatch(/^envhooks found no activity for 7d \(environment_ttl/);
    const names = (await (await envhooks.api(`/api/projects/${REPO}/environments`)).json()).map(
      (e: { name: string }) => e.name,
    );
    expect(names).toEqual([DEFAULT_BRANCH]);
    await githubSettled();
    const old = github.deployments.find((d) => d.environment === "feature/old");
    expect(old?.statuses.at(-1)?.state).toBe("inactive");
  });

  it("gives a labelled pull request an environment only while it carries the label", async () => {
    await start("pull_requests_require_label: preview\n");
    await send("pull_request", pullRequest("opened"));
    const labeled = pullRequest("labeled");
    labeled.label = { ...labeled.label, name: "preview" };
    labeled.pull_request.labels = [labeled.label];
    await send("pull_request", labeled);
    const unlabeled = pullRequest("unlabeled");
    unlabeled.label = { ...unlabeled.label, name: "preview" };
    unlabeled.pull_request.labels = [];
    await send("pull_request", unlabeled);
    await githubSettled();
    expect((await activities()).map((a) => a.type).reverse()).toEqual([
      "environment.branch",
      "environment.delete",
    ]);
  });

  it("builds a fork's pull request only once approved, and asks again after each push with fork_reapprove", async () => {
    await start("build_forks: approve\nfork_reapprove: true\n");
    await send("pull_request", pullRequestFromFork("opened"));
    await githubSettled();
    expect(await activities()).toEqual([]);
    expect(github.comments.get(2)?.[0]?.body).toContain("A maintainer must add the label `envhooks:approve`");

    const approved = pullRequestFromFork("labeled");
    approved.label = { ...approved.label, name: "envhooks:approve" };
    approved.pull_request.labels = [approved.label];
    await send("pull_request", approved);
    await githubSettled();
    expect((await activities()).map((a) => a.type)).toEqual(["environment.branch"]);
    expect(github.comments.get(2)).toHaveLength(1);
    expect(github.comments.get(2)?.[0]?.body).toMatch(/created/);

    github.labels.set(2, ["envhooks:approve"]);
    const pushed = pullRequestFromFork("synchronize");
    Object.assign(pushed, { before: pushed.pull_request.head.sha, after: sha(9) });
    pushed.pull_request.head.sha = sha(9);
    pushed.pull_request.labels = [approved.label];
    await send("pull_request", pushed);
    await githubSettled();
    expect((await activities()).map((a) => a.type)).toEqual(["environment.branch"]);
    expect(github.callsTo(/\/issues\/2\/labels\/envhooks:approve$/).map((c) => c.method)).toEqual(["DELETE"]);
    expect(github.labels.get(2)).toEqual([]);
    expect(github.comments.get(2)?.[0]?.body).toContain(`before envhooks builds ${sha(9).slice(0, 7)}`);
  });

  /** A `/envhooks redeploy` comment on pull request #2, shaped like GitHub's issue_comment.created. */
  function redeployComment(login: string) {
    const opened = pullRequest("opened");
    return {
      action: "created",
      issue: { number: 2, title: opened.pull_request.title, pull_request: { url: opened.pull_request.url } },
      comment: { id: 77, body: "/envhooks redeploy", user: { login, id: 42, type: "User" } },
      repository: opened.repository,
      sender: { login, id: 42, type: "User" },
      installation: opened.installation,
    };
  }

  it("redeploys on `/envhooks redeploy` from someone with write access, and refuses others with a reply", async () => {
    await start("");
    await send("pull_request", pullRequest("opened"));
    github.permissions.set("maintainer", "write");
    github.permissions.set("visitor", "read");

    await send("issue_comment", redeployComment("visitor"));
    await githubSettled();
    expect((await activities()).map((a) => a.type)).toEqual(["environment.branch"]);
    expect(github.callsTo(/\/collaborators\/visitor\/permission$/)).toHaveLength(1);
    const reply = github.comments.get(2)?.find((c) => c.body.startsWith("@visitor"));
    expect(reply?.body).toBe(
      "@visitor only people with write access to this repository can redeploy its environments.",
    );

    await send("issue_comment", redeployComment("maintainer"));
    await githubSettled();
    const [redeploy] = await activities();
    expect(redeploy).toMatchObject({ type: "environment.redeploy", environments: ["pr-2"] });
    expect(redeploy?.text).toBe("maintainer asked to redeploy pull request #2: environment pr-2 redeployed.");
    expect(github.deployments.map((d) => d.statuses.at(-1)?.state)).toEqual(["success", "success"]);
    // The envhooks comment plus the one reply.
    expect(github.comments.get(2)).toHaveLength(2);
  });

  it("ignores comments that are no command without storing them", async () => {
    await start("");
    const chatter = {
      ...redeployComment("maintainer"),
      comment: { id: 78, body: "nice work", user: { login: "x", id: 1 } },
    };
    const response = await envhooks.deliver("issue_comment", chatter);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: "ignored" });
    const { rows } = await envhooks.store.db.query("SELECT 1 FROM github_events");
    expect(rows).toHaveLength(0);
  });

  it("redeploys through the API, and answers 404 for an unknown environment", async () => {
    await start("");
    await send("push", pushCreatingMaster());
    await send("push", pushToBranch("feature/login"));
    await githubSettled();
    const base = `/api/projects/${REPO}/environments`;
    let response = await envhooks.api(`${base}/feature%2Flogin/redeploy`, { method: "POST" });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({
      type: "environment.redeploy",
      environments: ["feature/login"],
      text: "envhooks was asked by the operator to redeploy: environment feature/login redeployed.",
    });
    response = await envhooks.api(`${base}/nope/redeploy`, { method: "POST" });
    expect(response.status).toBe(404);
    expect((await response.json()).error.message).toBe(`Project ${REPO} has no environment nope.`);
    await githubSettled();
    expect(github.deployments.filter((d) => d.environment === "feature/login")).toHaveLength(2);
  });
});
