import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pullRequest, pullRequestSynchronized, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const INSTALLATION = 1;
const sha = (n: number) => n.toString(16).padStart(40, "d");

/** The example pull request #2 moved from head `sha(n - 1)` to `sha(n)` by a push (synchronize). */
const synchronize = (n: number) => pullRequestSynchronized(sha(n - 1), sha(n));

describe.each(STORES)("GitHub updates coalesced per environment on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    // GitHub answering as it does from most places: ~100 ms.
    github = await new FakeGithub({ latencyMs: 100, jitter: 0.3 }).start();
    github.configFiles.set(REPO, 'environment_url: "https://{machine_name}.preview.example.com"\n');
    envhooks = await startTestEnvhooks(kind, { github });
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
  });

  async function send(name: string, payload: unknown) {
    const deliveryId = randomUUID();
    expect((await envhooks.deliver(name, payload, { deliveryId })).status).toBe(202);
    return deliveryId;
  }
  async function applied(deliveryId: string) {
    await eventually(async () => {
      const event = await findEvent(envhooks.store.db, deliveryId);
      return event && event.state !== "pending";
    });
  }
  /** Waits until every GitHub update written so far was sent, superseded or set aside. */
  async function githubSettled(timeoutMs = 30_000) {
    await eventually(async () => {
      const events = await envhooks.store.db.query("SELECT 1 FROM github_events WHERE state = 'pending'");
      const tasks = await envhooks.store.db.query("SELECT 1 FROM github_tasks WHERE state = 'pending'");
      return events.rows.length === 0 && tasks.rows.length === 0;
    }, timeoutMs);
  }
  async function tasks() {
    const { rows } = await envhooks.store.db.query<{ state: string; attempts: number; outcome: string }>(
      "SELECT state, attempts, outcome FROM github_tasks ORDER BY id",
    );
    return rows;
  }

  it("shows exactly the final state of a pull request pushed to ten times while GitHub is slow, in few writes", async () => {
    await applied(await send("pull_request", pullRequest("opened")));
    for (let n = 1; n <= 10; n++) await send("pull_request", synchronize(n));
    await githubSettled();

    const final = sha(10);
    expect(github.commitStatuses.get(final)?.at(-1)).toMatchObject({
      state: "success",
      context: "envhooks/pr-2",
    });
    const newest = github.deployments.at(-1);
    expect(newest).toMatchObject({ ref: final, environment: "pr-2" });
    expect(newest?.statuses.at(-1)).toMatchObject({ state: "success" });
    const [comment, ...others] = github.comments.get(2) ?? [];
    expect(others).toEqual([]);
    expect(comment?.body).toContain(`\`${final.slice(0, 7)}\``);
    // No commit but the head was left pending, and no write came after the final state.
    for (const [commit, statuses] of github.commitStatuses) {
      expect(statuses.at(-1)?.state, commit).not.toBe("pending");
    }
    const writes = github.writes();
    expect(writes.at(-1)?.path).toBe(`/api/v3/repos/${REPO}/deployments/${newest?.id}/statuses`);
    // Eleven activities; sent one by one they would take 44 writes.
    expect(writes.length).toBeLessThanOrEqual(15);
    const outcomes = (await tasks()).map((task) => task.outcome);
    expect(outcomes).toContain("superseded");
    expect(outcomes.at(-1)).toBe("sent");
  });

  it("with Probot's throttle (writes 1 s apart), a pull request pushed to 10 times in 10 s shows its final state soon after, in at most 15 writes", async () => {
    await envhooks.close();
    envhooks = await startTestEnvhooks(kind, { github, githubThrottle: true });
    await applied(await send("pull_request", pullRequest("opened")));
    let lastPush = 0;
    for (let n = 1; n <= 10; n++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await send("pull_request", synchronize(n));
      lastPush = Date.now();
    }
    await githubSettled(60_000);
    const final = sha(10);
    const shown = [
      github.commitStatuses.get(final)?.length ? "status" : "",
      github.deployments.at(-1)?.ref === final ? "deployment" : "",
      github.comments.get(2)?.[0]?.body.includes(final.slice(0, 7)) ? "comment" : "",
    ];
    expect(shown).toEqual(["status", "deployment", "comment"]);
    const writes = github.writes();
    expect(writes.length).toBeLessThanOrEqual(15);
    // The target is 10 s; the bound leaves room for a busy machine.
    expect((writes.at(-1)?.at ?? 0) - lastPush).toBeLessThan(20_000);
  });

  it("waits out an exhausted rate limit, then sends the final state, losing nothing and counting no failure", async () => {
    const receiver = await new Receiver().start();
    try {
      await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: receiver.url },
      });
      await applied(await send("push", pushToBranch("feature")));
      await githubSettled();
      github.exhaustRateLimit(INSTALLATION, 3);
      const limitedAt = Date.now();
      await send("pull_request", pullRequest("opened"));
      // The receiver is not held back by GitHub's limit.
      await eventually(async () => receiver.received.length === 2);
      await githubSettled();
      const opened = pullRequest("opened").pull_request.head.sha;
      expect(github.commitStatuses.get(opened)?.at(-1)).toMatchObject({ state: "success" });
      expect(github.comments.get(2)).toHaveLength(1);
      const sent = github.writes().filter((call) => call.status < 300 && call.at >= limitedAt);
      expect(Math.min(...sent.map((call) => call.at)) - limitedAt).toBeGreaterThanOrEqual(2_500);
      expect(await tasks()).toEqual(
        (await tasks()).map(() => expect.objectContaining({ state: "done", attempts: 0 })),
      );
      const metrics = await (await envhooks.app.request("/metrics")).text();
      expect(metrics).toMatch(/envhooks_github_rate_limit_remaining\{installation="1"\} \d+/);
      expect(metrics).toMatch(/envhooks_github_updates_pending 0/);
    } finally {
      await receiver.stop();
    }
  });

  it("waits for a secondary limit's retry-after, then sends everything", async () => {
    await applied(await send("push", pushToBranch("feature")));
    await githubSettled();
    github.secondaryLimit(1, 2);
    await send("pull_request", pullRequest("opened"));
    await githubSettled();
    const refused = github.writes().find((call) => call.status === 403);
    expect(refused).toBeDefined();
    const after = github.writes().filter((call) => call.status < 300 && call.at > (refused?.at ?? 0));
    expect(Math.min(...after.map((call) => call.at)) - (refused?.at ?? 0)).toBeGreaterThanOrEqual(1_500);
    const opened = pullRequest("opened").pull_request.head.sha;
    expect(github.commitStatuses.get(opened)?.at(-1)).toMatchObject({ state: "success" });
    expect(github.deployments.find((d) => d.environment === "pr-2")?.statuses.at(-1)).toMatchObject({
      state: "success",
    });
    expect((await tasks()).every((task) => task.state === "done" && task.attempts === 0)).toBe(true);
  });

  it("while the installation's budget is low, holds states that are not final and sends the final one", async () => {
    await envhooks.close();
    await github.stop();
    // 60 requests an hour: below the 100 envhooks keeps in reserve from the first answer on.
    github = await new FakeGithub({ rateLimit: 60 }).start();
    github.configFiles.set(REPO, "runner: external\n");
    envhooks = await startTestEnvhooks(kind, { github });
    const token = (
      await (
        await envhooks.api("/api/tokens", { body: { project: REPO, name: "runner", access: "write" } })
      ).json()
    ).token as string;
    await applied(await send("pull_request", pullRequest("opened")));
    await githubSettled();
    const [created] = (
      (await (await envhooks.api(`/api/projects/${REPO}/activities?limit=1`)).json()) as {
        items: Array<{ id: string }>;
      }
    ).items;
    const report = (body: unknown) =>
      envhooks.app.request(`/api/activities/${created?.id}/progress`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await report({ state: "in_progress" })).status).toBe(200);
    // Held, not dropped and not sent: nothing more reaches GitHub while the state is not final.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const heldWrites = github.writes().length;
    expect((await tasks()).some((task) => task.state === "pending")).toBe(true);
    expect((await report({ state: "complete", result: "success" })).status).toBe(200);
    await githubSettled();
    expect(github.writes().length).toBeGreaterThan(heldWrites);
    const states = github.deployments[0]?.statuses.map((status) => status.state);
    expect(states).toEqual(["queued", "success"]);
  });

  it("gives a synchronize the commits of the push to the same head, else asks GitHub to compare once", async () => {
    const opened = pullRequest("opened");
    await applied(await send("pull_request", opened));
    const head = opened.pull_request.head.ref as string;
    const push = pushToBranch(head, { before: sha(0), after: sha(1), commits: 2 });
    await applied(await send("push", push));
    await applied(await send("pull_request", synchronize(1)));
    github.compares.set(`${sha(1)}...${sha(2)}`, [
      { sha: sha(2), commit: { message: "Compared", author: { name: "Octo", email: "octo@example.com" } } },
    ]);
    await applied(await send("pull_request", synchronize(2)));

    const response = await envhooks.api(`/api/projects/${REPO}/activities?environment=pr-2&limit=10`);
    const [second, first] = ((await response.json()) as { items: Array<Record<string, any>> }).items;
    expect(first?.payload.commits.map((c: { sha: string }) => c.sha)).toEqual(
      push.commits.map((c: { id: string }) => c.id),
    );
    expect(second?.payload.commits).toEqual([
      expect.objectContaining({
        sha: sha(2),
        message: "Compared",
        author: expect.objectContaining({ name: "Octo" }),
      }),
    ]);
    expect(github.callsTo(/\/compare\//).map((call) => call.path)).toEqual([
      `/api/v3/repos/${REPO}/compare/${sha(1)}...${sha(2)}`,
    ]);
    const metrics = await (await envhooks.app.request("/metrics")).text();
    expect(metrics).toContain('envhooks_github_reads_total{kind="compare",outcome="read"} 1');
  });
});
