import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushCreatingMaster, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { STORES, type StoreKind } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const sha = (n: number) => String(n).repeat(40).slice(0, 40);

describe.each(STORES)("read API on $name", (kind) => {
  let envhooks: TestEnvhooks;

  beforeAll(async () => {
    if (kind.skip) return;
    // No GitHub credentials: events are applied with the default options (the local trial mode).
    envhooks = await startTestEnvhooks(kind);
    await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "m0" });
    for (let i = 1; i <= 4; i++) {
      await envhooks.deliver("push", pushToBranch("master", { before: sha(i), after: sha(i + 1) }), {
        deliveryId: `m${i}`,
      });
    }
    await envhooks.deliver("push", pushToBranch("feature/x"), { deliveryId: "f1" });
    await eventually(async () => (await findEvent(envhooks.store.db, "f1"))?.state === "processed");
  });
  afterAll(async () => {
    await envhooks?.close();
  });

  it.skipIf(kind.skip)("serves health and readiness without a token", async () => {
    expect((await envhooks.app.request("/healthz")).status).toBe(200);
    expect(await (await envhooks.app.request("/readyz")).json()).toEqual({ status: "ready" });
  });

  it.skipIf(kind.skip)("refuses a missing or wrong token with 401", async () => {
    const none = await envhooks.app.request(`/api/projects/${REPO}/environments`);
    expect(none.status).toBe(401);
    const wrong = await envhooks.app.request(`/api/projects/${REPO}/environments`, {
      headers: { authorization: `Bearer ${API_TOKEN}x` },
    });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error.code).toBe("unauthorized");
  });

  it.skipIf(kind.skip)("lists environments, the default branch first", async () => {
    const response = await envhooks.api(`/api/projects/${REPO}/environments`);
    expect(response.status).toBe(200);
    const environments = await response.json();
    expect(environments.map((e: { name: string }) => e.name)).toEqual(["master", "feature/x"]);
    expect(environments[0]).toMatchObject({ is_main: true, head_commit: sha(5), previous_commit: sha(4) });
    expect(environments[1]).toMatchObject({ machine_name: "feature-x", parent: "master" });
  });

  it.skipIf(kind.skip)("pages activities newest first, and filters them", async () => {
    const seen: string[] = [];
    let cursor: number | null = null;
    do {
      const query: string = cursor ? `limit=2&cursor=${cursor}` : "limit=2";
      const page = await (await envhooks.api(`/api/projects/${REPO}/activities?${query}`)).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(
        ...page.items.map(
          (a: { parameters: { environment: string; new_commit: string } }) => a.parameters.new_commit,
        ),
      );
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(6);
    const featureHead = pushToBranch("feature/x").after;
    expect(seen.slice(0, 2)).toEqual([featureHead, sha(5)]);
    const pushes = await (
      await envhooks.api(`/api/projects/${REPO}/activities?type=environment.push`)
    ).json();
    expect(pushes.items).toHaveLength(4);
  });

  it.skipIf(kind.skip)("serves one activity in Platform.sh's shape, plus text", async () => {
    const page = await (
      await envhooks.api(`/api/projects/${REPO}/activities?limit=1&environment=master`)
    ).json();
    const id = page.items[0].id;
    const activity = await (await envhooks.api(`/api/activities/${id}`)).json();
    expect(activity).toMatchObject({
      id,
      type: "environment.push",
      state: "complete",
      result: "success",
      completion_percent: 100,
      project: REPO,
      environments: ["master"],
      parameters: { environment: "master", old_commit: sha(4), new_commit: sha(5) },
      payload: { commits_count: 1, environment: { name: "master", is_main: true } },
    });
    expect(activity.text).toMatch(/pushed 1 commit to master: environment master rebuilt\.$/);
  });

  it.skipIf(kind.skip)("answers invalid parameters with 400 naming the field", async () => {
    const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=0&state=done`);
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error.code).toBe("invalid_parameters");
    expect(body.error.details.fields.map((f: { field: string }) => f.field).sort()).toEqual([
      "limit",
      "state",
    ]);
    expect((await envhooks.api("/api/activities/NOT-AN-ID")).status).toBe(400);
  });

  it.skipIf(kind.skip)("answers 404 for an unknown project or activity", async () => {
    const project = await envhooks.api("/api/projects/nobody/nothing/environments");
    expect(project.status).toBe(404);
    expect((await project.json()).error.code).toBe("project_not_found");
    expect((await envhooks.api("/api/activities/aaaaaaaaaaaaa")).status).toBe(404);
  });

  it.skipIf(kind.skip)("serves Dockership's /rest/projects and /rest/status", async () => {
    const projects = await (await envhooks.api("/rest/projects")).json();
    expect(projects[REPO]).toMatchObject({ name: REPO, environments: ["master", "feature/x"] });
    const all = await (await envhooks.api("/rest/status")).json();
    const one = await (await envhooks.api(`/rest/status/${REPO}`)).json();
    expect(all[REPO]).toEqual(one);
    expect(one.environments.master).toMatchObject({
      current_revision: sha(5),
      previous_revision: sha(4),
      last_activity: { type: "environment.push", result: "success" },
    });
  });
});

describe("read API without ENVHOOKS_API_TOKEN", () => {
  it("answers 503 saying what to set", async () => {
    const envhooks = await startTestEnvhooks(STORES[0] as StoreKind, { apiToken: null });
    try {
      const app = envhooks.app;
      const response = await app.request(`/api/projects/${REPO}/environments`);
      expect(response.status).toBe(503);
      expect((await response.json()).error.message).toContain("ENVHOOKS_API_TOKEN");
    } finally {
      await envhooks.close();
    }
  });
});
