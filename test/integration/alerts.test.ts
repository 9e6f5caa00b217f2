import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pullRequest, pushCreatingMaster, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const FAST = [0, 0, 0, 0, 0];
const base = `/api/projects/${REPO}/integrations`;

describe.each(STORES)("failure alerts on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;
  /** A failing webhook receiver, and a Slack channel (a real server speaking Slack's answer). */
  let failing: Receiver;
  let slack: Receiver;
  let clock: Date;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    failing = await new Receiver().start();
    slack = await new Receiver().start();
    slack.answer = () => ({ status: 200, headers: { "content-type": "text/plain" }, body: "ok" });
    clock = new Date();
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
    await failing?.stop();
    await slack?.stop();
  });

  async function start(config = "") {
    github.configFiles.set(REPO, config);
    envhooks = await startTestEnvhooks(kind, { github, now: () => clock });
  }
  async function add(body: Record<string, unknown>) {
    const response = await envhooks.api(base, { body });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; results?: string[] };
  }
  /** The Slack channel, subscribed with its defaults (every type, complete activities). */
  const addSlack = (extra: Record<string, unknown> = {}) => add({ type: "slack", url: slack.url, ...extra });
  // Each message whole (its blocks hold the activity's sentence).
  const slackTexts = () => slack.received.map((request) => request.body);
  async function send(name: string, payload: unknown) {
    expect((await envhooks.deliver(name, payload)).status).toBe(202);
  }
  async function activityTypes(): Promise<string[]> {
    const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
    return ((await response.json()) as { items: Array<{ type: string }> }).items.map((a) => a.type);
  }

  it("an integration disabled by 410 Gone alerts the Slack channel, never itself", async () => {
    await start();
    failing.answer = () => ({ status: 410 });
    const webhook = await add({ type: "webhook", url: failing.url, retry_schedule: FAST });
    await addSlack();
    await send("push", pushToBranch("feature/a"));
    await eventually(async () => slackTexts().some((text) => text.includes("Integration disabled")));
    const alert = slackTexts().find((text) => text.includes("Integration disabled"));
    expect(alert).toContain(webhook.id);
    expect(alert).toContain("410 Gone");
    expect(await activityTypes()).toContain("integration.disabled");
    // The disabled webhook got its one delivery and none of the alerts about it.
    expect(failing.received).toHaveLength(1);
    const metrics = await (await envhooks.app.request("/metrics")).text();
    expect(metrics).toContain('envhooks_activities_total{type="integration.disabled",state="complete"} 1');
  });

  it("a delivery whose retry schedule ran out alerts a failures-only channel", async () => {
    await start();
    failing.answer = () => ({ status: 500 });
    const webhook = await add({ type: "webhook", url: failing.url, retry_schedule: FAST });
    const channel = await addSlack({ results: ["failure"] });
    expect(channel.results).toEqual(["failure"]);
    await send("push", pushToBranch("feature/a"));
    await eventually(async () => slackTexts().some((text) => text.includes("Delivery failed")), 60_000);
    // Six attempts: the first and five retries; the alert names the delivery's integration.
    expect(failing.received).toHaveLength(6);
    expect(slackTexts().find((text) => text.includes("Delivery failed"))).toContain(webhook.id);
    // The successful environment.branch activity is not a failure: the channel never saw it.
    expect(slackTexts().some((text) => text.includes("Environment created"))).toBe(false);
    expect(slack.received).toHaveLength(1);
  });

  it("a storm of failed deliveries is one alert per integration and 10 minutes, counted and relayed once", async () => {
    await start();
    failing.answer = () => ({ status: 500 });
    const webhook = await add({ type: "webhook", url: failing.url, retry_schedule: FAST });
    await addSlack({ results: ["failure"] });
    type Listed = { id: string; type: string; text: string; alert?: Record<string, unknown> };
    const list = async (query: string) => {
      const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100${query}`);
      expect(response.status).toBe(200);
      return ((await response.json()) as { items: Listed[] }).items;
    };
    const alertCount = async (count: number) =>
      eventually(async () => {
        const alerts = await list("&alerts=only");
        return alerts[0]?.alert?.count === count && alerts;
      }, 30_000);
    const firstAt = clock.toISOString();
    // Three deliveries fail for good, two minutes apart: one alert counts them.
    for (const [n, branch] of ["feature/a", "feature/b", "feature/c"].entries()) {
      if (n > 0) clock = new Date(clock.getTime() + 2 * 60_000);
      await send("push", pushToBranch(branch));
      await eventually(async () => failing.received.length === 6 * (n + 1), 60_000);
      await alertCount(n + 1);
    }
    const [alert, ...more] = await alertCount(3);
    expect(more).toHaveLength(0);
    expect(alert).toMatchObject({
      type: "integration.delivery.failed",
      alert: { integration: webhook.id, count: 3, first_at: firstAt, last_at: clock.toISOString() },
    });
    expect(alert?.text).toMatch(/^3 deliveries/);
    // Relayed once: the channel got the first, and no message per later failure.
    await eventually(async () => slack.received.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(slack.received).toHaveLength(1);
    // The list without alerts; the project's card follows its environments.
    expect((await list("&alerts=exclude")).map((a) => a.type)).toEqual(Array(3).fill("environment.branch"));
    const projects = (await (await envhooks.api("/api/projects")).json()) as Array<Record<string, any>>;
    expect(projects[0]?.last_activity?.type).toBe("environment.branch");
    // So does Dockership's status of the environment whose delivery failed first.
    const status = (await (await envhooks.api(`/rest/status/${REPO}`)).json()) as Record<string, any>;
    expect(status.environments["feature/a"]?.last_activity?.type).toBe("environment.branch");
    const operator = new DashboardClient(envhooks.app);
    await operator.signIn(API_TOKEN);
    const page = await (await operator.get(`/projects/${REPO}?alerts=only`)).text();
    const rows = /<tbody id="activity-rows"[^>]*>([\s\S]*?)<\/tbody>/.exec(page)?.[1] ?? "";
    expect(rows).toContain(`activity-${alert?.id}`);
    expect(rows).not.toContain(">environment.branch</a>");
    expect(page).toContain('<option value="only" selected>alerts only</option>');
    const home = await (await operator.get("/")).text();
    expect(home).not.toContain(">integration.delivery.failed</a>");
    // A bad filter is refused, naming it.
    const refused = await envhooks.api(`/api/projects/${REPO}/activities?alerts=some`);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("alerts");

    // Ten minutes after the first: a new alert, relayed.
    clock = new Date(new Date(firstAt).getTime() + 10 * 60_000 + 1000);
    await send("push", pushToBranch("feature/d"));
    await eventually(async () => (await list("&alerts=only")).length === 2, 60_000);
    await eventually(async () => slack.received.length === 2);
    const [newest] = await list("&alerts=only");
    expect(newest?.alert).toMatchObject({ count: 1, first_at: clock.toISOString() });
  });

  it("a deploy runner's timeout alerts the Slack channel", async () => {
    await start("runner: external\nrunner_timeout: 10m\n");
    await addSlack({ results: ["failure"] });
    await send("pull_request", pullRequest("opened"));
    await eventually(async () => (await activityTypes()).length === 1);
    clock = new Date(clock.getTime() + 11 * 60_000);
    await envhooks.sweep();
    await eventually(async () => slackTexts().some((text) => text.includes("Deploy runner timed out")));
    const types = await activityTypes();
    expect(types).toContain("environment.runner.timeout");
    // The timed-out activity (failed) and the alert.
    await eventually(async () => slack.received.length === 2);
  });

  it("an invalid .github/envhooks.yml alerts the Slack channel and fails envhooks/config on the head", async () => {
    await start("runner: sometimes\n");
    await addSlack();
    const push = pushCreatingMaster();
    await send("push", push);
    await eventually(async () => slackTexts().some((text) => text.includes("Invalid .github/envhooks.yml")));
    const head = (push as { after: string }).after;
    const statuses = await eventually(async () => github.commitStatuses.get(head));
    expect(statuses).toEqual([
      expect.objectContaining({
        context: "envhooks/config",
        state: "failure",
        description: expect.stringMatching(/^\.github\/envhooks\.yml: .*runner/),
      }),
    ]);
  });
});
