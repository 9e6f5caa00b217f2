import { generateKeyPair } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  pullRequest,
  pullRequestFromFork,
  pullRequestSynchronized,
  REPO,
  workflowJob,
  workflowRun,
} from "../fixtures/github-events.ts";
import { FakeGithub, type FakeWorkflowRun } from "../helpers/fake-github.ts";
import { OidcIssuer } from "../helpers/oidc-issuer.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

type Activity = Record<string, any>;

const CONFIG = "runner: github-actions\ngithub_actions:\n  workflow: preview.yml\n";
const HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

describe.each(STORES)("runner: github-actions on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;
  let receiver: Receiver;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    receiver = await new Receiver().start();
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
    await receiver?.stop();
  });

  async function start(config = CONFIG) {
    github.configFiles.set(REPO, config);
    envhooks = await startTestEnvhooks(kind, { github });
    const added = await envhooks.api(`/api/projects/${REPO}/integrations`, {
      body: {
        type: "webhook",
        url: receiver.url,
        states: ["pending", "in_progress", "complete", "cancelled"],
      },
    });
    expect(added.status).toBe(201);
  }
  async function send(name: string, payload: unknown) {
    expect((await envhooks.deliver(name, payload)).status).toBe(202);
  }
  /** The project's activities, oldest first, once there are `count`. */
  async function activities(count: number): Promise<Activity[]> {
    return eventually(async () => {
      const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
      const items = ((await response.json()) as { items: Activity[] }).items.reverse();
      return items.length === count ? items : undefined;
    });
  }
  async function activity(id: string): Promise<Activity> {
    return (await envhooks.api(`/api/activities/${id}`)).json() as Promise<Activity>;
  }
  async function settled() {
    await eventually(async () => {
      const events = await envhooks.store.db.query("SELECT 1 FROM github_events WHERE state = 'pending'");
      const tasks = await envhooks.store.db.query("SELECT 1 FROM github_tasks WHERE state = 'pending'");
      return events.rows.length === 0 && tasks.rows.length === 0;
    });
  }
  /**
   * The activity's run, once envhooks knows it as the activity's: recorded from the dispatch's
   * answer, or awaited by its run-name (a 204 dispatch records that before it is sent). The fake
   * has the run before envhooks has stored its answer; GitHub's first event of a run comes later
   * than that, and the tests send it after this.
   */
  async function runOf(activityId: string): Promise<FakeWorkflowRun> {
    return eventually(async () => {
      const run = github.workflowRuns.find((r) => r.inputs.envhooks_activity === activityId);
      if (!run) return undefined;
      const { rows } = await envhooks.store.db.query(
        `SELECT 1 FROM workflow_runs WHERE run_id = $1
         UNION ALL SELECT 1 FROM unidentified_dispatches WHERE activity_id = $2`,
        [run.id, activityId],
      );
      return rows.length > 0 && run;
    });
  }
  const dispatches = () => github.callsTo(/\/actions\/workflows\/.*\/dispatches$/);
  const relayed = (id: string) =>
    receiver
      .bodies()
      .filter((body) => body.id === id)
      .map((body) => body.state);

  it("dispatches the workflow with the activity's inputs and follows its run to success on the activity, its integrations and GitHub", async () => {
    await start();
    await send("pull_request", pullRequest("opened"));
    const [created] = await activities(1);
    expect(created).toMatchObject({ type: "environment.branch", state: "pending" });
    const run = await runOf(created?.id);
    // A pull request runs its base branch's workflow file; the commit to build is `sha`.
    expect(run).toMatchObject({
      workflow: "preview.yml",
      ref: "master",
      inputs: {
        envhooks_activity: created?.id,
        environment: "pr-2",
        machine_name: "pr-2",
        action: "create",
        sha: HEAD,
        pr: "2",
      },
    });
    expect(dispatches()[0]?.body).toMatchObject({ return_run_details: true });
    await settled();

    await send("workflow_run", workflowRun("requested", run));
    await send("workflow_run", workflowRun("in_progress", run));
    await send("workflow_job", workflowJob("queued", { id: 1, runId: run.id, name: "build" }));
    await send("workflow_job", workflowJob("queued", { id: 2, runId: run.id, name: "deploy" }));
    await send("workflow_job", workflowJob("completed", { id: 1, runId: run.id, name: "build" }));
    await settled();
    expect(await activity(created?.id)).toMatchObject({
      state: "in_progress",
      completion_percent: 50,
      log_url: run.html_url,
    });

    await send("workflow_job", workflowJob("completed", { id: 2, runId: run.id, name: "deploy" }));
    await send("workflow_run", workflowRun("completed", { ...run, conclusion: "success" }));
    await settled();
    const done = await activity(created?.id);
    expect(done).toMatchObject({ state: "complete", result: "success", completion_percent: 100 });
    expect(done.log).toContain("Job build: success");
    expect(done.log).toContain("Job deploy: success");
    expect(done.log).toContain(`Workflow run ${run.id} completed: success`);

    await eventually(async () => relayed(created?.id).length === 3);
    expect(relayed(created?.id)).toEqual(["pending", "in_progress", "complete"]);
    const deployment = github.deployments.find((d) => d.environment === "pr-2");
    const states = deployment?.statuses.map((s) => s.state) ?? [];
    expect(states.at(-1)).toBe("success");
    expect(states.filter((s) => !["queued", "in_progress", "success"].includes(s))).toEqual([]);
    expect(deployment?.statuses.at(-1)?.log_url).toBe(run.html_url);
    expect(github.comments.get(2)?.[0]?.body).toContain(run.html_url);
    expect(github.commitStatuses.get(HEAD)?.at(-1)).toMatchObject({
      state: "success",
      context: "envhooks/pr-2",
    });
    // One dispatch, and nothing else about Actions.
    expect(dispatches()).toHaveLength(1);
    expect(github.callsTo(/\/actions\/runs\//)).toEqual([]);
  });

  it("fails the activity at once when GitHub refuses to start its workflow (422: an input it does not declare)", async () => {
    await start();
    github.fail("POST", /\/dispatches$/, 422, 1);
    await send("pull_request", pullRequest("opened"));
    const [created] = await activities(1);
    await settled();
    const failed = await activity(created?.id);
    expect(failed).toMatchObject({ state: "complete", result: "failure" });
    expect(failed.log).toContain("GitHub refused to start the workflow preview.yml on master (422");
    expect(github.workflowRuns).toEqual([]);
    await eventually(async () => relayed(created?.id).length === 2);
    expect(relayed(created?.id)).toEqual(["pending", "complete"]);
  });

  it("fails an activity whose run has not finished github_actions.timeout after it began, however often it reported", async () => {
    let clock = Date.now();
    github.configFiles.set(REPO, `${CONFIG}  timeout: 30m\n`);
    envhooks = await startTestEnvhooks(kind, { github, now: () => new Date(clock) });
    await send("pull_request", pullRequest("opened"));
    const [created] = await activities(1);
    const run = await runOf(created?.id);
    clock += 20 * 60_000;
    await send("workflow_run", workflowRun("in_progress", run));
    await send("workflow_job", workflowJob("queued", { id: 1, runId: run.id, name: "build" }));
    await settled();
    // 29 minutes after it began (9 after its last news): still running.
    clock += 9 * 60_000;
    await envhooks.sweep();
    expect(await activity(created?.id)).toMatchObject({ state: "in_progress" });
    clock += 2 * 60_000;
    await envhooks.sweep();
    const failed = await activity(created?.id);
    expect(failed).toMatchObject({ state: "complete", result: "failure" });
    expect(failed.log).toContain("github_actions.timeout");
  });

  it("maps a timed-out run to failure and a cancelled one to cancelled", async () => {
    await start();
    await send("pull_request", pullRequest("opened"));
    const [first] = await activities(1);
    const run = await runOf(first?.id);
    await send("workflow_run", workflowRun("in_progress", run));
    await send("workflow_run", workflowRun("completed", { ...run, conclusion: "timed_out" }));
    await settled();
    expect(await activity(first?.id)).toMatchObject({ state: "complete", result: "failure" });

    await send("pull_request", pullRequestSynchronized(HEAD, "f".repeat(40)));
    const [, second] = await activities(2);
    const again = await runOf(second?.id);
    expect(again.inputs).toMatchObject({ action: "rebuild", sha: "f".repeat(40) });
    await send("workflow_run", workflowRun("completed", { ...again, conclusion: "cancelled" }));
    await settled();
    expect(await activity(second?.id)).toMatchObject({ state: "cancelled", result: "failure" });
  });

  it("falls back to the 204 dispatch when GitHub refuses return_run_details, and finds the run by its run-name", async () => {
    github.returnRunDetails = false;
    await start();
    await send("pull_request", pullRequest("opened"));
    const [created] = await activities(1);
    const run = await runOf(created?.id);
    await settled();
    expect(dispatches().map((call) => [call.status, call.body.return_run_details])).toEqual([
      [400, true],
      [204, undefined],
    ]);
    // A run of another activity id, or none in its run-name, is not followed.
    await send("workflow_run", workflowRun("requested", { id: 999, html_url: "https://example.com/other" }));
    const runName = `create pr-2 (envhooks ${created?.id})`;
    await send("workflow_run", workflowRun("requested", { ...run, display_title: runName }));
    await send("workflow_run", workflowRun("completed", { ...run, conclusion: "failure" }));
    await settled();
    expect(await activity(created?.id)).toMatchObject({
      state: "complete",
      result: "failure",
      log_url: run.html_url,
    });
    const outcomes = await envhooks.store.db.query<{ outcome: string }>(
      "SELECT outcome FROM github_events WHERE name = 'workflow_run' ORDER BY id",
    );
    expect(outcomes.rows.map((row) => row.outcome)).toEqual([
      "workflow run 999 was not started by envhooks",
      `activity ${created?.id} is pending`,
      `activity ${created?.id} is complete (failure)`,
    ]);
  });

  it("without the run's id from the dispatch, cancels a superseded activity's run at its first event", async () => {
    github.returnRunDetails = false;
    await start();
    await send("pull_request", pullRequest("opened"));
    const [first] = await activities(1);
    const run = await runOf(first?.id);
    await settled();
    await send("pull_request", pullRequestSynchronized(HEAD, "4".repeat(40)));
    const [cancelled, second] = await activities(2);
    expect(cancelled).toMatchObject({ state: "cancelled", superseded_by: second?.id });
    await runOf(second?.id);
    await settled();
    // Its run was not known yet: nothing to cancel until GitHub names it.
    expect(github.callsTo(/\/cancel$/)).toEqual([]);
    const runName = `create pr-2 (envhooks ${first?.id})`;
    await send("workflow_run", workflowRun("requested", { ...run, display_title: runName }));
    await send("workflow_run", workflowRun("in_progress", { ...run, display_title: runName }));
    await settled();
    expect(run.cancelRequested).toBe(true);
    expect(github.callsTo(/\/cancel$/).map((call) => call.path)).toEqual([
      `/api/v3/repos/${REPO}/actions/runs/${run.id}/cancel`,
    ]);
    expect(await activity(first?.id)).toMatchObject({ state: "cancelled" });
  });

  it("cancels the run of a superseded activity, and never dispatches one superseded before its turn", async () => {
    await start();
    await send("pull_request", pullRequest("opened"));
    const [first] = await activities(1);
    const run = await runOf(first?.id);
    await settled();

    await send("pull_request", pullRequestSynchronized(HEAD, "1".repeat(40)));
    const [cancelled, second] = await activities(2);
    expect(cancelled).toMatchObject({ state: "cancelled", superseded_by: second?.id });
    await runOf(second?.id);
    await settled();
    expect(run.cancelRequested).toBe(true);
    expect(github.callsTo(new RegExp(`/actions/runs/${run.id}/cancel$`))).toHaveLength(1);
    // GitHub's answer to the cancel changes nothing more on the activity.
    await send("workflow_run", workflowRun("completed", { ...run, conclusion: "cancelled" }));
    await settled();
    expect(await activity(first?.id)).toMatchObject({ state: "cancelled", superseded_by: second?.id });

    // The next dispatch fails once; meanwhile a newer push supersedes its activity: it is never sent.
    github.fail("POST", /\/dispatches$/, 500, 1);
    await send("pull_request", pullRequestSynchronized("1".repeat(40), "2".repeat(40)));
    const [, , third] = await activities(3);
    await eventually(async () => dispatches().some((call) => call.status === 500));
    await send("pull_request", pullRequestSynchronized("2".repeat(40), "3".repeat(40)));
    const [, , skipped, fourth] = await activities(4);
    expect(skipped).toMatchObject({ id: third?.id, state: "cancelled" });
    await runOf(fourth?.id);
    await settled();
    expect(github.workflowRuns.map((r) => r.inputs.envhooks_activity)).toEqual([
      first?.id,
      second?.id,
      fourth?.id,
    ]);
  });

  it("reads a run whose events went missing: every open one at start, then those quiet for 10 minutes, conditionally", async () => {
    let clock = Date.now();
    const now = () => new Date(clock);
    github.configFiles.set(REPO, CONFIG);
    envhooks = await startTestEnvhooks(kind, { github, now });
    await send("pull_request", pullRequest("opened"));
    const [created] = await activities(1);
    const run = await runOf(created?.id);
    await send("workflow_run", workflowRun("in_progress", run));
    await settled();
    const reads = () => github.callsTo(new RegExp(`/actions/runs/${run.id}$`));

    // Not quiet yet: not read.
    await envhooks.readQuietRuns();
    expect(reads()).toEqual([]);
    clock += 11 * 60_000;
    expect(await envhooks.readQuietRuns()).toBe(1);
    expect(await activity(created?.id)).toMatchObject({ state: "in_progress" });
    // Quiet again: read with the ETag; GitHub answers 304, which costs no rate limit.
    const installation = reads()[0]?.installationId ?? 0;
    const remaining = github.rateLimitRemaining(installation);
    clock += 11 * 60_000;
    expect(await envhooks.readQuietRuns()).toBe(1);
    expect(reads().map((call) => call.status)).toEqual([200, 304]);
    expect(github.rateLimitRemaining(installation)).toBe(remaining);

    // The run completes while envhooks is down: its event is lost. The next start reads the run.
    const store = envhooks.store;
    await envhooks.stop();
    Object.assign(run, { status: "completed", conclusion: "success" });
    envhooks = await startTestEnvhooks(kind, { github, now, store });
    try {
      await eventually(async () => (await activity(created?.id)).state === "complete");
      expect(await activity(created?.id)).toMatchObject({ result: "success", log_url: run.html_url });
      expect(reads().map((call) => call.status)).toEqual([200, 304, 200]);
    } finally {
      await envhooks.close();
      await store.close();
      envhooks = undefined as unknown as TestEnvhooks;
    }
  });

  it("reads a run whose read failed again only once it has been quiet for 10 minutes more, so that such runs do not starve the others", async () => {
    let clock = Date.now();
    const now = () => new Date(clock);
    github.configFiles.set(REPO, CONFIG);
    envhooks = await startTestEnvhooks(kind, { github, now });
    await send("pull_request", pullRequest("opened"));
    const [created] = await activities(1);
    const run = await runOf(created?.id);
    await send("workflow_run", workflowRun("in_progress", run));
    await settled();
    const reads = () => github.callsTo(new RegExp(`/actions/runs/${run.id}$`)).map((call) => call.status);
    // GitHub no longer has the run (404): each read fails.
    github.workflowRuns.splice(github.workflowRuns.indexOf(run), 1);
    clock += 11 * 60_000;
    await envhooks.readQuietRuns();
    expect(reads()).toEqual([404]);
    clock += 60_000;
    await envhooks.readQuietRuns();
    expect(reads()).toEqual([404]);
    clock += 10 * 60_000;
    await envhooks.readQuietRuns();
    expect(reads()).toEqual([404, 404]);
  });

  it("does not start a second run when the dispatch's answer was lost: the retry finds the run by its run-name", async () => {
    github.loseDispatchAnswers = 1;
    await start();
    await send("pull_request", pullRequest("opened"));
    const [created] = await activities(1);
    const run = await runOf(created?.id);
    await settled();
    expect(dispatches().map((call) => call.status)).toEqual([502]);
    expect(github.workflowRuns.map((each) => each.id)).toEqual([run.id]);
    // The run found is followed as if the dispatch had named it.
    await send("workflow_run", workflowRun("completed", { ...run, conclusion: "success" }));
    await settled();
    expect(await activity(created?.id)).toMatchObject({ state: "complete", result: "success" });
  });

  it("accepts a workflow's report with its run's OIDC token, and refuses another repository's, run's or branch's, an expired one and a stranger's", async () => {
    const issuer = await new OidcIssuer().start();
    try {
      const publicUrl = "https://envhooks.example.com";
      github.configFiles.set(REPO, CONFIG);
      envhooks = await startTestEnvhooks(kind, { github, publicUrl, actionsOidcIssuer: issuer.url });
      await send("pull_request", pullRequest("opened"));
      const [created] = await activities(1);
      const run = await runOf(created?.id);
      await settled();
      const claims = { repository: REPO, run_id: String(run.id), ref: "refs/heads/master" };
      const report = async (token: string, body: unknown = { log: "Deployed" }) =>
        envhooks.app.request(`/api/activities/${created?.id}/progress`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const token = (overrides: Partial<typeof claims> = {}, options = {}) =>
        issuer.token({ ...claims, ...overrides }, { audience: publicUrl, ...options });

      const url = "https://pr-2.preview.example.com";
      const accepted = await report(await token(), { log: "URL known", environment_url: url });
      expect(accepted.status).toBe(200);
      expect(await accepted.json()).toMatchObject({ payload: { environment: { url } } });
      expect((await activity(created?.id)).log).toContain("URL known");

      const refusals: Array<[string, Response, number]> = [
        ["another repository", await report(await token({ repository: "octo-org/octo-repo" })), 403],
        ["another run", await report(await token({ run_id: String(run.id + 1) })), 403],
        ["another branch", await report(await token({ ref: "refs/heads/evil" })), 403],
        ["expired", await report(await token({}, { expiresInSeconds: -120 })), 401],
        [
          "another audience",
          await report(await token({}, { audience: "https://elsewhere.example.com" })),
          401,
        ],
        [
          "signed by a stranger",
          await report(await token({}, { signWith: (await generateKeyPair("RS256")).privateKey })),
          401,
        ],
      ];
      expect(refusals.map(([what, response]) => [what, response.status])).toEqual(
        refusals.map(([what, , status]) => [what, status]),
      );
      const expired = (await refusals[3]?.[1].json()) as { error: { message: string } } | undefined;
      expect(expired?.error.message).toMatch(/exp/);
      // The keys were fetched once and kept.
      expect(issuer.jwksRequests).toBe(1);
      expect((await activity(created?.id)).log.match(/Deployed/g)).toBeNull();
    } finally {
      await issuer.stop();
    }
  });

  it("lets only a run of the dispatched workflow and branch claim an activity by its run-name, once, and only after a 204 dispatch", async () => {
    const issuer = await new OidcIssuer().start();
    try {
      const publicUrl = "https://envhooks.example.com";
      github.configFiles.set(REPO, CONFIG);
      envhooks = await startTestEnvhooks(kind, { github, publicUrl, actionsOidcIssuer: issuer.url });
      const report = async (activityId: string, runId: number, ref: string) => {
        const token = await issuer.token(
          { repository: REPO, run_id: String(runId), ref },
          { audience: publicUrl },
        );
        return envhooks.app.request(`/api/activities/${activityId}/progress`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({
            state: "complete",
            result: "success",
            environment_url: "https://phish.example.net",
          }),
        });
      };
      const foreign = (id: number, activityId: string, runOptions: { workflow?: string; ref?: string }) =>
        workflowRun("completed", {
          id,
          html_url: `https://github.com/x/y/actions/runs/${id}`,
          display_title: `whatever envhooks ${activityId}`,
          ...runOptions,
        });

      // The dispatch gave the run's id: no run claims the activity by its name.
      await send("pull_request", pullRequest("opened"));
      const [first] = await activities(1);
      await runOf(first?.id);
      await settled();
      await send("workflow_run", foreign(987654321, first?.id, {}));
      await settled();
      expect((await report(first?.id, 987654321, "refs/heads/master")).status).toBe(403);
      expect(await activity(first?.id)).toMatchObject({ state: "pending" });

      // A 204 dispatch: another workflow's run, or one on another branch, claims nothing.
      github.returnRunDetails = false;
      await send("pull_request", pullRequestSynchronized(HEAD, "4".repeat(40)));
      const [, second] = await activities(2);
      const run = await runOf(second?.id);
      await settled();
      await send("workflow_run", foreign(987654322, second?.id, { workflow: "other.yml" }));
      await send("workflow_run", foreign(987654323, second?.id, { ref: "evil" }));
      await settled();
      expect((await report(second?.id, 987654322, "refs/heads/master")).status).toBe(403);
      expect((await report(second?.id, 987654323, "refs/heads/evil")).status).toBe(403);
      expect(await activity(second?.id)).toMatchObject({ state: "pending" });
      // Its own run claims it; a later one of the same name and workflow does not.
      const runName = `create pr-2 (envhooks ${second?.id})`;
      await send("workflow_run", workflowRun("requested", { ...run, display_title: runName }));
      await send("workflow_run", foreign(987654324, second?.id, {}));
      await settled();
      expect((await report(second?.id, 987654324, "refs/heads/master")).status).toBe(403);
      const rows = await envhooks.store.db.query<{ run_id: string; ref: string }>(
        "SELECT run_id, ref FROM workflow_runs WHERE activity_id = $1",
        [second?.id],
      );
      expect(rows.rows.map((row) => [Number(row.run_id), row.ref])).toEqual([[run.id, "master"]]);
      expect(await activity(second?.id)).toMatchObject({ state: "pending" });
      expect((await report(second?.id, run.id, "refs/heads/master")).status).toBe(200);
    } finally {
      await issuer.stop();
    }
  });

  it("stores only the workflow_run and workflow_job events of runs envhooks started or may have started, and acknowledges the rest", async () => {
    await start();
    const stored = async () =>
      (
        await envhooks.store.db.query<{ name: string; run: string }>(
          "SELECT name, payload::text AS run FROM github_events WHERE name LIKE 'workflow%' ORDER BY id",
        )
      ).rows.length;
    const ignored = async (name: string, payload: unknown) => {
      const response = await envhooks.deliver(name, payload);
      expect([response.status, ((await response.json()) as { status: string }).status]).toEqual([
        202,
        "ignored",
      ]);
    };
    // Another workflow's runs and jobs (the repository's CI): nothing stored, a push behind them goes on.
    await ignored("workflow_job", workflowJob("queued", { id: 5, runId: 1111, name: "lint" }));
    await ignored(
      "workflow_run",
      workflowRun("requested", { id: 1111, html_url: "https://example.com/1111" }),
    );
    await send("pull_request", pullRequest("opened"));
    const [created] = await activities(1);
    const run = await runOf(created?.id);
    await settled();
    expect(await stored()).toBe(0);
    // Its own run's events are stored and applied.
    await send("workflow_job", workflowJob("in_progress", { id: 6, runId: run.id, name: "deploy" }));
    await ignored("workflow_job", workflowJob("in_progress", { id: 7, runId: 1111, name: "test" }));
    await settled();
    expect(await activity(created?.id)).toMatchObject({ state: "in_progress" });
    expect(await stored()).toBe(1);
    // While a dispatch answered without its run's id waits, the repository's runs may be its run.
    github.returnRunDetails = false;
    await send("pull_request", pullRequestSynchronized(HEAD, "4".repeat(40)));
    const [, second] = await activities(2);
    await runOf(second?.id);
    await settled();
    await send("workflow_job", workflowJob("queued", { id: 8, runId: 2222, name: "lint" }));
    await settled();
    expect(await stored()).toBe(2);
  });

  it("dispatches a fork's pull request only once a maintainer approved it, with the base branch's workflow", async () => {
    await start(`${CONFIG}build_forks: approve\n`);
    await send("pull_request", pullRequestFromFork("opened"));
    await settled();
    expect(dispatches()).toEqual([]);

    const approved = pullRequestFromFork("labeled");
    approved.label = { ...approved.label, name: "envhooks:approve" };
    approved.pull_request.labels = [approved.label];
    await send("pull_request", approved);
    const created = await eventually(async () => {
      const response = await envhooks.api(`/api/projects/${REPO}/activities?type=environment.branch`);
      return ((await response.json()) as { items: Activity[] }).items[0];
    });
    const run = await runOf(created?.id);
    expect(run).toMatchObject({ ref: "master", inputs: { sha: HEAD, pr: "2" } });
  });
  it("with runner: github-actions, dispatches only the fork commit a maintainer approved, whatever event carries the label afterwards (fork_reapprove by default)", async () => {
    await start(`${CONFIG}build_forks: approve\n`);
    const approved = pullRequestFromFork("labeled");
    approved.label = { ...approved.label, name: "envhooks:approve" };
    approved.pull_request.labels = [approved.label];
    await send("pull_request", approved);
    const [created] = await activities(1);
    await runOf(created?.id);
    await settled();
    github.labels.set(2, ["envhooks:approve"]);
    // Pushed to, then reopened (or marked ready) before the label is taken off: still not approved.
    const unapproved = "b".repeat(40);
    const sync = pullRequestSynchronized(HEAD, unapproved);
    sync.pull_request.head.repo = { ...sync.pull_request.head.repo, full_name: "forker/Hello-World" };
    sync.pull_request.labels = [approved.label];
    const reopened = pullRequestFromFork("reopened");
    reopened.pull_request.head.sha = unapproved;
    reopened.pull_request.labels = [approved.label];
    const ready = pullRequestFromFork("ready_for_review");
    ready.pull_request.head.sha = unapproved;
    ready.pull_request.labels = [approved.label];
    await send("pull_request", sync);
    await send("pull_request", reopened);
    await send("pull_request", ready);
    await settled();
    expect(github.workflowRuns.map((run) => run.inputs.sha)).toEqual([HEAD]);
    expect(github.labels.get(2)).toEqual([]);
  });
});
