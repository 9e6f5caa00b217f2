import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushToBranch, REPO } from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const sha = (n: number) => n.toString(16).padStart(40, "d");
const push = (n: number) => pushToBranch("feature/a", { before: sha(n - 1), after: sha(n) });

type Activity = Record<string, any>;

describe.each(STORES)("superseded work with runner: external on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;
  let receiver: Receiver;
  let token: string;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    receiver = await new Receiver().start();
    github.configFiles.set(REPO, "runner: external\n");
    envhooks = await startTestEnvhooks(kind, { github });
    const added = await envhooks.api(`/api/projects/${REPO}/integrations`, {
      body: {
        type: "webhook",
        url: receiver.url,
        states: ["pending", "in_progress", "complete", "cancelled"],
      },
    });
    expect(added.status).toBe(201);
    const tokens = await envhooks.api("/api/tokens", {
      body: { project: REPO, name: "runner", access: "write" },
    });
    token = ((await tokens.json()) as { token: string }).token;
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
    await receiver?.stop();
  });

  async function send(n: number) {
    expect((await envhooks.deliver("push", push(n))).status).toBe(202);
  }
  /** The project's activities, oldest first, once there are `count`. */
  async function activities(count: number): Promise<Activity[]> {
    return eventually(async () => {
      const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
      const items = ((await response.json()) as { items: Activity[] }).items.reverse();
      return items.length === count ? items : undefined;
    });
  }
  const report = (id: string, body: unknown) =>
    envhooks.app.request(`/api/activities/${id}/progress`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  async function githubSettled() {
    await eventually(async () => {
      const events = await envhooks.store.db.query("SELECT 1 FROM github_events WHERE state = 'pending'");
      const tasks = await envhooks.store.db.query("SELECT 1 FROM github_tasks WHERE state = 'pending'");
      return events.rows.length === 0 && tasks.rows.length === 0;
    });
  }
  /** What the receiver got, as `type state` of each activity id, in order. */
  const relayed = () => receiver.bodies().map((body) => `${body.id} ${body.state}`);

  it("a new activity cancels the older pending one: relayed before it, inactive on GitHub, refused to the runner", async () => {
    await send(2);
    const [first] = await activities(1);
    await githubSettled();
    expect(github.deployments[0]?.statuses.map((s) => s.state)).toEqual(["queued"]);

    await send(3);
    const [cancelled, second] = await activities(2);
    expect(cancelled).toMatchObject({
      id: first?.id,
      state: "cancelled",
      result: "failure",
      superseded_by: second?.id,
    });
    expect(cancelled?.text).toContain(`superseded by ${second?.id}`);
    expect(second).toMatchObject({ type: "environment.push", state: "pending" });

    // The environment's order: the cancellation goes before the activity that caused it.
    await eventually(async () => receiver.received.length === 3);
    expect(relayed()).toEqual([`${first?.id} pending`, `${first?.id} cancelled`, `${second?.id} pending`]);

    await githubSettled();
    const superseded = github.deployments.find((d) => d.ref === sha(2));
    expect(superseded?.statuses.map((s) => s.state)).toEqual(["queued", "inactive"]);
    expect(superseded?.statuses.at(-1)?.description).toContain(`superseded by ${second?.id}`);

    // The runner that was about to start it is told it is over.
    const refused = await report(first?.id, { state: "in_progress" });
    expect(refused.status).toBe(409);
  });

  it("an activity the runner has started runs to its end; pending ones pushed together leave only the newest", async () => {
    await send(2);
    const [started] = await activities(1);
    expect((await report(started?.id, { state: "in_progress" })).status).toBe(200);
    // Two pushes at once: applied in one batch or one by one, the result is the same.
    await send(3);
    await send(4);
    const [running, middle, newest] = await activities(3);
    expect(running).toMatchObject({ id: started?.id, state: "in_progress" });
    expect(middle).toMatchObject({ state: "cancelled", superseded_by: newest?.id });
    expect(newest).toMatchObject({ state: "pending" });
    expect((await report(started?.id, { state: "complete" })).status).toBe(200);
  });
});
