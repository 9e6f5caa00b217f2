import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushCreatingMaster, pushTo, REPO } from "../fixtures/github-events.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

// Search (GET /api/search) and GitHub event redelivery (POST …/github-events/{id}/redeliver), over
// HTTP on both stores: what each finds or does, who may, and the clear refusals.
describe.each(STORES)("search and GitHub event redelivery on $name", { timeout: 60_000 }, (kind) => {
  let envhooks: TestEnvhooks;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
  });
  afterEach(async () => {
    await envhooks?.close();
  });

  async function applied(repo: string, count: number) {
    return eventually(async () => {
      const listed = await (await envhooks.api(`/api/projects/${repo}/activities?limit=10`)).json();
      return listed.items?.length === count && listed.items;
    }, 20_000);
  }
  const search = async (q: string, token?: string) => {
    const response = token
      ? await envhooks.app.request(`/api/search?q=${encodeURIComponent(q)}`, {
          headers: { authorization: `Bearer ${token}` },
        })
      : await envhooks.api(`/api/search?q=${encodeURIComponent(q)}`);
    return { status: response.status, body: await response.json() };
  };

  it("finds an activity, a GitHub delivery, a delivery, an integration, a commit by its short sha and a branch; a project token only in its project", async () => {
    const integration = await (
      await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: "http://127.0.0.1:9/hook" },
      })
    ).json();
    await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "gh-search-1" });
    await envhooks.deliver("push", pushTo("other/repo", 1), { deliveryId: "gh-search-2" });
    const [activity] = await applied(REPO, 1);
    await applied("other/repo", 1);
    const deliveries = await eventually(async () => {
      const listed = await (await envhooks.api(`/api/activities/${activity.id}/deliveries`)).json();
      return listed.length === 1 && listed;
    }, 20_000);

    expect((await search(activity.id)).body.matches).toEqual([
      { kind: "activity", id: activity.id, project: REPO, label: "environment.branch on master" },
    ]);
    expect((await search("gh-search-1")).body.matches).toMatchObject([
      { kind: "github_event", id: "gh-search-1", project: REPO },
    ]);
    expect((await search(deliveries[0].id)).body.matches).toMatchObject([
      { kind: "delivery", id: deliveries[0].id, project: REPO },
    ]);
    expect((await search(integration.id)).body.matches).toMatchObject([
      { kind: "integration", id: integration.id, project: REPO },
    ]);
    const sha = activity.parameters.new_commit as string;
    expect((await search(sha.slice(0, 7).toUpperCase())).body.matches).toMatchObject([
      { kind: "commit", id: activity.id, project: REPO },
    ]);
    // "master" is a branch of both projects; the operator sees both.
    const branches = (await search("master")).body.matches;
    expect(branches.map((match: { project: string }) => match.project).sort()).toEqual([
      "Codertocat/Hello-World",
      "other/repo",
    ]);
    expect(branches[0]).toMatchObject({ kind: "branch", id: "master" });
    expect((await search("no-such-thing")).body.matches).toEqual([]);

    const token = (
      await (await envhooks.api("/api/tokens", { body: { project: "other/repo", access: "read" } })).json()
    ).token;
    expect((await search("gh-search-1", token)).body.matches).toEqual([]);
    expect((await search("master", token)).body.matches).toMatchObject([
      { kind: "branch", project: "other/repo" },
    ]);
    expect((await search(activity.id, token)).body.matches).toEqual([]);
  });

  it("refuses an empty search, naming the field", async () => {
    const { status, body } = await search("   ");
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toContain("q");
  });

  it("redelivers a GitHub delivery under a new id, applied like any; a project token may not, an unknown one is 404", async () => {
    await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "gh-again" });
    await applied(REPO, 1);
    const path = `/api/projects/${REPO}/github-events/gh-again`;
    const first = await (await envhooks.api(path)).json();
    expect(first).toMatchObject({ state: "processed", attempts: 0, redelivery_of: null });
    expect(first.activities).toHaveLength(1);

    const answer = await envhooks.api(`${path}/redeliver`, { method: "POST" });
    expect(answer.status).toBe(202);
    const { delivery_id, redelivery_of } = await answer.json();
    expect(redelivery_of).toBe("gh-again");
    expect(delivery_id).toMatch(/^gh-again\.redelivery-[0-9a-f]{8}$/);
    const again = await eventually(async () => {
      const event = await (await envhooks.api(`/api/projects/${REPO}/github-events/${delivery_id}`)).json();
      return event.state === "processed" && event;
    }, 20_000);
    expect(again).toMatchObject({ redelivery_of: "gh-again", event: "push" });
    expect(again.payload).toEqual(first.payload);

    const token = (
      await (await envhooks.api("/api/tokens", { body: { project: REPO, access: "write" } })).json()
    ).token;
    const refused = await envhooks.app.request(`${path}/redeliver`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refused.status).toBe(403);
    const missing = await envhooks.api(`/api/projects/${REPO}/github-events/nope/redeliver`, {
      method: "POST",
    });
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.message).toContain("No GitHub delivery nope");
  });

  it("names who asked for a redeploy: a project token by its name, the operator", async () => {
    await envhooks.deliver("push", pushCreatingMaster());
    await applied(REPO, 1);
    const token = (
      await (
        await envhooks.api("/api/tokens", { body: { project: REPO, access: "write", name: "deploy-bot" } })
      ).json()
    ).token;
    const path = `/api/projects/${REPO}/environments/master/redeploy`;
    const byToken = await envhooks.app.request(path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(byToken.status).toBe(202);
    expect((await byToken.json()).text).toBe(
      "envhooks was asked by token deploy-bot to redeploy: environment master redeployed.",
    );
    const byOperator = await envhooks.api(path, { method: "POST" });
    expect((await byOperator.json()).text).toBe(
      "envhooks was asked by the operator to redeploy: environment master redeployed.",
    );
  });
});
