import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushCreatingBranch, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

type Activity = Record<string, any>;

const sha = (n: number) => n.toString(16).padStart(40, "e");

describe.each(STORES)("notify: repository_dispatch on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
  });

  async function start(config: string) {
    github.configFiles.set(REPO, config);
    envhooks = await startTestEnvhooks(kind, { github });
  }
  async function send(payload: unknown) {
    expect((await envhooks.deliver("push", payload)).status).toBe(202);
  }
  async function activities(count: number): Promise<Activity[]> {
    return eventually(async () => {
      const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
      const items = ((await response.json()) as { items: Activity[] }).items.reverse();
      return items.length === count ? items : undefined;
    });
  }
  async function settled() {
    await eventually(async () => {
      const events = await envhooks.store.db.query("SELECT 1 FROM github_events WHERE state = 'pending'");
      const tasks = await envhooks.store.db.query("SELECT 1 FROM github_tasks WHERE state = 'pending'");
      return events.rows.length === 0 && tasks.rows.length === 0;
    });
  }

  it("sends envhooks.<type> with ten keys when an activity of a listed type completes, and nothing for the others", async () => {
    await start("notify:\n  repository_dispatch: [environment.push]\n");
    await send(pushCreatingBranch("feature/a", sha(1)));
    await send(pushToBranch("feature/a", { before: sha(1), after: sha(2) }));
    const [created, pushed] = await activities(2);
    expect(created?.type).toBe("environment.branch");
    await settled();
    expect(github.repositoryDispatches).toEqual([
      {
        repository: REPO,
        event_type: "envhooks.environment.push",
        client_payload: {
          id: pushed?.id,
          type: "environment.push",
          state: "complete",
          result: "success",
          environment: "feature/a",
          environment_url: null,
          sha: sha(2),
          pr: null,
          log_url: null,
          project: REPO,
        },
      },
    ]);
  });

  it("with a deploy runner, sends it when the runner completes the activity, not while it is pending", async () => {
    await start("runner: external\nnotify:\n  repository_dispatch: true\n");
    await send(pushCreatingBranch("feature/b", sha(3)));
    const [created] = await activities(1);
    await settled();
    expect(github.repositoryDispatches).toEqual([]);
    const url = `https://preview.example.com/${"x".repeat(1900)}`;
    const done = await envhooks.app.request(`/api/activities/${created?.id}/progress`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ state: "complete", result: "failure", environment_url: url }),
    });
    expect(done.status).toBe(200);
    await settled();
    expect(github.repositoryDispatches).toHaveLength(1);
    expect(github.repositoryDispatches[0]).toMatchObject({
      event_type: "envhooks.environment.branch",
      client_payload: { id: created?.id, state: "complete", result: "failure", environment_url: url },
    });
  });
});
