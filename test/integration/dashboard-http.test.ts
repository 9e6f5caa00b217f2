import examples from "@octokit/webhooks-examples/api.github.com/index.json" with { type: "json" };
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { MAX_STREAMS_PER_SESSION, openStreams } from "../../src/web/pages/live-stream.ts";
import { pushCreatingMaster, pushTo, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const PROJECT = `/projects/${REPO}`;

/** GitHub's real `repository.renamed` example, about `repository` now named `fullName`. */
function renamedEvent(repository: Record<string, any>, fullName: string): Record<string, any> {
  const group = (examples as Array<{ name: string; examples: Array<Record<string, any>> }>).find(
    (e) => e.name === "repository",
  );
  const example = structuredClone(group?.examples.find((e) => e.action === "renamed")) as Record<string, any>;
  const [owner = "", name = ""] = fullName.split("/");
  example.repository = {
    ...example.repository,
    id: repository.id,
    name,
    full_name: fullName,
    owner: { ...example.repository.owner, login: owner },
    default_branch: "master",
  };
  example.changes = { repository: { name: { from: repository.name } } };
  return example;
}

// The dashboard at HTTP level, on both stores: every page answers through the API as the signed-in
// person, and forms show the API's refusals next to their fields.
describe.each(STORES)("dashboard pages over HTTP on $name", { timeout: 120_000 }, (kind) => {
  let envhooks: TestEnvhooks;
  let receiver: Receiver;
  let operator: DashboardClient;
  let activityId: string;

  beforeAll(async () => {
    if (kind.skip) return;
    receiver = await new Receiver().start();
    envhooks = await startTestEnvhooks(kind, { retryLimit: 0 });
    await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "d-master" });
    await envhooks.deliver("push", pushToBranch("feature/x"), { deliveryId: "d-feature" });
    await eventually(async () => (await findEvent(envhooks.store.db, "d-feature"))?.state === "processed");
    const page = await (await envhooks.api(`/api/projects/${REPO}/activities?limit=1`)).json();
    activityId = page.items[0].id;
    operator = new DashboardClient(envhooks.app);
    await operator.signIn(API_TOKEN);
  }, 120_000);
  afterAll(async () => {
    await envhooks?.close();
    await receiver?.stop();
  });

  it.skipIf(kind.skip)(
    "GET /api/projects lists visible projects with their newest activity and counts",
    async () => {
      const projects = await (await envhooks.api("/api/projects")).json();
      expect(projects).toHaveLength(1);
      expect(projects[0]).toMatchObject({
        project: REPO,
        last_activity: { id: activityId, type: "environment.branch" },
        environments: { total: 2, active: 2 },
        integrations: { total: 0, failing: 0, disabled: 0 },
        github_events: { pending: 0, failed: 0 },
      });
      // A project token sees its own project only.
      const created = await (
        await envhooks.api("/api/tokens", { body: { project: "someone/else", access: "read" } })
      ).json();
      const other = await envhooks.app.request("/api/projects", {
        headers: { authorization: `Bearer ${created.token}` },
      });
      expect(await other.json()).toEqual([]);
      expect((await envhooks.app.request("/api/projects")).status).toBe(401);
    },
  );

  it.skipIf(kind.skip)(
    "sends a person who is not signed in through /login and back to the page",
    async () => {
      const stranger = new DashboardClient(envhooks.app);
      const refused = await stranger.get(`/activities/${activityId}`);
      expect(refused.status).toBe(303);
      expect(refused.headers.get("location")).toBe(
        `/login?next=${encodeURIComponent(`/activities/${activityId}`)}`,
      );
      const back = await stranger.signIn(API_TOKEN, `/activities/${activityId}`);
      expect(back).toBe(`/activities/${activityId}`);
      const page = await stranger.get(back);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(activityId);
    },
  );

  it.skipIf(kind.skip)("renders the projects, project, activity and GitHub delivery pages", async () => {
    const projects = await (await operator.get("/")).text();
    expect(projects).toContain(`href="${PROJECT}"`);
    expect(projects).toMatch(/<dd class="env-states">[^<]*<span[^>]*>2 active<\/span><\/dd>/);
    const project = await (await operator.get(PROJECT)).text();
    expect(project).toContain('id="environment-master"');
    expect(project).toContain('id="environment-feature/x"');
    expect(project).toContain(`id="activity-${activityId}"`);
    expect(project).toContain(`data-live="${PROJECT}/live?events=1"`);
    expect(project).toContain("d-feature");
    const activity = await (await operator.get(`/activities/${activityId}`)).text();
    expect(activity).toContain("environment.branch");
    expect(activity).toContain('id="activity-log"');
    expect(activity).toContain(`href="https://github.com/${REPO}/commit/`);
    const event = await operator.get(`${PROJECT}/github-events/d-feature`);
    expect(event.status).toBe(200);
    const eventPage = await event.text();
    expect(eventPage).toContain("refs/heads/feature/x");
    // GitHub's request headers, as its Recent Deliveries shows them, and only GitHub's own.
    expect(eventPage).toMatch(/<pre id="event-headers">[^<]*X-Hub-Signature-256: sha256=[0-9a-f]{64}/);
    const kept = (await (await envhooks.api(`/api/projects/${REPO}/github-events/d-feature`)).json()).headers;
    expect(Object.keys(kept).sort()).toEqual([
      "Content-Type",
      "X-GitHub-Delivery",
      "X-GitHub-Event",
      "X-Hub-Signature-256",
    ]);
    expect(kept["X-GitHub-Delivery"]).toBe("d-feature");
    expect((await operator.get(`${PROJECT}/github-events/nope`)).status).toBe(404);
  });

  it.skipIf(kind.skip)(
    "shows the API's validation message next to the field, and keeps what was typed",
    async () => {
      const response = await operator.post(`${PROJECT}/integrations`, {
        type: "webhook",
        url: "not a url",
        events: "environment.*",
        states: "complete",
      });
      expect(response.status).toBe(400);
      const page = await response.text();
      expect(page).toMatch(/id="url" name="url" aria-describedby="url-hint url-error" aria-invalid="true"/);
      expect(page).toMatch(
        /<p class="field-error" id="url-error">must be an http:\/\/ or https:\/\/ URL<\/p>/,
      );
      expect(page).toContain('value="environment.*"');
      const integrations = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
      expect(integrations).toEqual([]);
    },
  );

  it.skipIf(kind.skip)(
    "redirects after adding an integration: its secret shows once, to this session only, and a reload adds nothing",
    async () => {
      const before = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
      const added = await operator.post(`${PROJECT}/integrations`, {
        type: "webhook",
        url: receiver.url,
        states: "complete",
      });
      expect(added.status).toBe(303);
      const location = added.headers.get("location") ?? "";
      const integrations = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
      expect(integrations).toHaveLength(before.length + 1);
      const integration = integrations.at(-1);
      expect(location).toMatch(new RegExp(`^${PROJECT}/integrations/${integration.id}\\?flash=[\\w-]+$`));

      // Another session opening the link sees no secret, and leaves it for the one that made it.
      const other = new DashboardClient(envhooks.app);
      await other.signIn(API_TOKEN);
      const foreign = await (await other.get(location)).text();
      expect(foreign).not.toContain('id="integration-secret"');

      const page = await (await operator.get(location)).text();
      expect(page).toContain("Integration added");
      const secret = /<p class="secret" id="integration-secret">(whsec_[^<]+)<\/p>/.exec(page)?.[1];
      expect(secret).toBeTruthy();
      const { rows } = await envhooks.store.db.query<{ body: string }>("SELECT body FROM web_flashes");
      expect(rows.map((row) => row.body).join("")).not.toContain(secret);

      // A reload is a GET: the secret is gone and nothing is added.
      const reloaded = await (await operator.get(location)).text();
      expect(reloaded).not.toContain("Integration added");
      expect(reloaded).not.toContain(secret);
      expect(await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json()).toHaveLength(
        before.length + 1,
      );
      await envhooks.api(`/api/projects/${REPO}/integrations/${integration.id}`, { method: "DELETE" });
    },
  );

  it.skipIf(kind.skip)("adds, tests, pauses, resumes, edits and deletes an integration", async () => {
    const added = await operator.post(`${PROJECT}/integrations`, {
      type: "webhook",
      url: receiver.url,
      states: ["complete", "in_progress"],
      secret: "a-secret-of-sixteen-chars",
    });
    expect(added.status).toBe(303);
    expect(await (await operator.get(added.headers.get("location") ?? "")).text()).toContain(
      "Integration added",
    );
    const [integration] = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
    expect(integration).toMatchObject({ type: "webhook", states: ["complete", "in_progress"] });
    const base = `${PROJECT}/integrations/${integration.id}`;

    const tested = await operator.post(`${base}/test`);
    expect(tested.status).toBe(303);
    expect(await (await operator.get(tested.headers.get("location") ?? "")).text()).toContain(
      "succeeded, 200",
    );
    expect(receiver.received.length).toBeGreaterThan(0);

    expect((await operator.post(`${base}/pause`)).headers.get("location")).toBe(`${PROJECT}?done=paused`);
    expect(
      (await (await envhooks.api(`/api/projects/${REPO}/integrations/${integration.id}`)).json()).status,
    ).toBe("paused");
    const paused = await (await operator.get(`${PROJECT}?done=paused`)).text();
    expect(paused).toContain("The integration is paused");
    expect(paused).toContain('<span class="badge warn">paused</span>');
    await operator.post(`${base}/resume`);
    expect(
      (await (await envhooks.api(`/api/projects/${REPO}/integrations/${integration.id}`)).json()).status,
    ).toBe("active");

    const refused = await operator.post(`${base}/edit`, {
      timeout_ms: "5",
      states: "complete",
      events: "*",
      environments: "*",
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('id="timeout_ms-error"');
    const saved = await operator.post(`${base}/edit`, {
      events: "environment.push",
      states: "complete",
      environments: "*",
      timeout_ms: "5000",
    });
    expect(saved.headers.get("location")).toBe(`${PROJECT}?done=saved`);
    expect(
      await (await envhooks.api(`/api/projects/${REPO}/integrations/${integration.id}`)).json(),
    ).toMatchObject({
      events: ["environment.push"],
      timeout_ms: 5000,
    });

    expect((await operator.post(`${base}/delete`, { confirm: integration.id })).status).toBe(303);
    expect(await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json()).toEqual([]);
  });

  it.skipIf(kind.skip)(
    "deletes an integration only once a page naming it and its deliveries is confirmed",
    async () => {
      const integration = await (
        await envhooks.api(`/api/projects/${REPO}/integrations`, {
          body: { type: "webhook", url: `${receiver.url}/to-delete`, states: ["complete"] },
        })
      ).json();
      const api = `/api/projects/${REPO}/integrations/${integration.id}`;
      const base = `${PROJECT}/integrations/${integration.id}`;
      await envhooks.deliver(
        "push",
        pushToBranch("feature/x", { before: "3".repeat(40), after: "4".repeat(40) }),
      );
      await eventually(
        async () => (await (await envhooks.api(`${api}/delivery-counts`)).json()).delivered === 1,
      );

      // The project page's Delete is a link to a page that asks, not a form that deletes.
      const project = await (await operator.get(PROJECT)).text();
      expect(project).toContain(`href="${base}/delete"`);
      expect(project).not.toContain(`action="${base}/delete"`);
      const asked = await operator.get(`${base}/delete`);
      expect(asked.status).toBe(200);
      const page = await asked.text();
      expect(page).toContain(integration.id);
      expect(page).toContain(`${receiver.url}/to-delete`);
      expect(page).toMatch(/<strong>1<\/strong> delivery/);
      expect(page).toContain(`action="${base}/delete"`);

      // A POST without the confirmation (an old page's one-click form) deletes nothing.
      const unconfirmed = await operator.post(`${base}/delete`);
      expect(unconfirmed.status).toBe(303);
      expect(unconfirmed.headers.get("location")).toBe(`${base}/delete`);
      expect((await envhooks.api(api)).status).toBe(200);

      const confirmed = await operator.post(`${base}/delete`, { confirm: integration.id });
      expect(confirmed.headers.get("location")).toBe(`${PROJECT}?done=deleted`);
      expect((await envhooks.api(api)).status).toBe(404);
    },
  );

  it.skipIf(kind.skip)(
    "sets delivery settings and headers; an edit that leaves the headers empty keeps them",
    async () => {
      const added = await operator.post(`${PROJECT}/integrations`, {
        type: "webhook",
        url: receiver.url,
        states: "complete",
        retry_schedule: "1, 2, 3, 4, 5",
        ordering: "integration",
        concurrency: "1",
        headers: "X-Team: platform\nAuthorization: Bearer sekrit-value",
        insecure_ssl: "on",
      });
      expect(added.status).toBe(303);
      const integrations = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
      const integration = integrations.at(-1);
      expect(integration).toMatchObject({
        retry_schedule: [1, 2, 3, 4, 5],
        ordering: "integration",
        concurrency: 1,
        insecure_ssl: true,
        headers: { "X-Team": "platform" },
      });
      const base = `${PROJECT}/integrations/${integration.id}`;
      const form = await (await operator.get(`${base}/edit`)).text();
      expect(form).not.toContain("sekrit-value");
      expect(form).toContain("(X-Team, Authorization)");
      const refused = await operator.post(`${base}/edit`, {
        events: "*",
        states: "complete",
        environments: "*",
        retry_schedule: "1, 2",
        ordering: "integration",
      });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain('id="retry_schedule-error"');
      await operator.post(`${base}/edit`, {
        events: "*",
        states: "complete",
        environments: "*",
        retry_schedule: "1, 2, 3, 4, 5",
        ordering: "environment",
      });
      const after = await (await envhooks.api(`/api/projects/${REPO}/integrations/${integration.id}`)).json();
      expect(after).toMatchObject({
        ordering: "environment",
        insecure_ssl: false,
        headers: { "X-Team": "platform" },
      });
      await operator.post(`${base}/delete`, { confirm: integration.id });
    },
  );

  it.skipIf(kind.skip)(
    "shows a delivery with its attempts, redelivers it, and bulk-redelivers failed ones with a count first",
    async () => {
      receiver.answer = () => ({ status: 500, body: "down" });
      // Retries at once, so that deliveries fail within the test (the form keeps the default schedule).
      const integration = await (
        await envhooks.api(`/api/projects/${REPO}/integrations`, {
          body: { type: "webhook", url: receiver.url, states: ["complete"], retry_schedule: [0, 0, 0, 0, 0] },
        })
      ).json();
      const base = `${PROJECT}/integrations/${integration.id}`;
      const since = new Date(Date.now() - 60_000).toISOString();
      for (const n of [7, 8]) {
        await envhooks.deliver(
          "push",
          pushToBranch("feature/x", { before: "2".repeat(40), after: String(n).repeat(40) }),
        );
      }
      const failed = await eventually(async () => {
        const page = await (
          await envhooks.api(`/api/projects/${REPO}/integrations/${integration.id}/deliveries?status=failed`)
        ).json();
        return page.items.length === 2 && page.items;
      }, 30_000);

      const deliveryPage = await (await operator.get(`/deliveries/${failed[0].id}`)).text();
      expect(deliveryPage).toContain("failed, 500");
      expect(deliveryPage).toContain("x-envhooks-delivery");
      const activityPage = await (await operator.get(`/activities/${failed[0].activity_id}`)).text();
      expect(activityPage).toContain(`href="/deliveries/${failed[0].id}"`);

      const preview = await (
        await operator.get(`${base}/redeliver?since=${encodeURIComponent(since)}`)
      ).text();
      expect(preview).toMatch(/This will send <strong>2<\/strong> failed deliveries/);
      receiver.answer = () => ({ status: 200, body: "ok" });
      const run = await operator.post(`${base}/redeliver`, { since });
      expect(run.status).toBe(303);
      const progressUrl = run.headers.get("location") ?? "";
      expect(progressUrl).toContain("sent=2");
      await eventually(async () => {
        const counts = await (
          await envhooks.api(
            `/api/projects/${REPO}/integrations/${integration.id}/delivery-counts?since=${encodeURIComponent(since)}`,
          )
        ).json();
        return counts.delivered === 2 && counts.pending === 0;
      }, 30_000);
      expect(await (await operator.get(progressUrl)).text()).toContain("2 of 2 sent again — done.");

      const one = await operator.post(`/deliveries/${failed[0].id}/redeliver`);
      expect(one.headers.get("location")).toBe(`/deliveries/${failed[0].id}?done=redelivered`);
    },
  );

  it.skipIf(kind.skip)(
    "keeps test deliveries apart: shown inline, marked in the log, not counted, never redelivered in bulk",
    async () => {
      receiver.answer = () => ({ status: 500, body: "down" });
      const integration = await (
        await envhooks.api(`/api/projects/${REPO}/integrations`, {
          body: { type: "webhook", url: receiver.url, states: ["complete"], retry_schedule: [0, 0, 0, 0, 0] },
        })
      ).json();
      const api = `/api/projects/${REPO}/integrations/${integration.id}`;
      const base = `${PROJECT}/integrations/${integration.id}`;
      const since = encodeURIComponent(new Date(Date.now() - 60_000).toISOString());

      // The test's POST redirects to the integration's page, which shows the result inline.
      const tested = await operator.post(`${base}/test`);
      expect(tested.status).toBe(303);
      const location = tested.headers.get("location") ?? "";
      const id = new RegExp(`^${base}\\?test=([a-z0-9_-]+)#test-result$`, "i").exec(location)?.[1];
      expect(id, location).toBeTruthy();
      const page = await (await operator.get(location)).text();
      expect(page).toContain('id="test-result"');
      expect(page).toContain("failed, 500");
      const [logged] = (await (await envhooks.api(`${api}/deliveries`)).json()).items;
      expect(logged).toMatchObject({ id, test: true, state: "failed" });
      // The sample activity is not stored: nothing links to it (it would be a 404).
      expect(page).not.toContain(`/activities/${logged.activity_id}`);
      const deliveryPage = await (await operator.get(`/deliveries/${id}`)).text();
      expect(deliveryPage).not.toContain(`/activities/${logged.activity_id}`);
      expect(deliveryPage).toContain("test delivery");

      // Not counted: neither in the counts (the success rate, the bulk redeliver's) nor sent again in bulk.
      expect(await (await envhooks.api(`${api}/delivery-counts?since=${since}`)).json()).toEqual({
        pending: 0,
        delivered: 0,
        failed: 0,
      });
      const preview = await (await operator.get(`${base}/redeliver?since=${since}`)).text();
      expect(preview).toContain("No failed delivery");
      const bulk = await envhooks.api(`${api}/redeliver?status=failed&since=${since}`, { method: "POST" });
      expect((await bulk.json()).redelivered).toBe(0);
      expect((await (await envhooks.api(`/api/deliveries/${id}`)).json()).state).toBe("failed");
      const project = await (await operator.get(PROJECT)).text();
      expect(project).toMatch(new RegExp(`id="integration-${integration.id}"[\\s\\S]*?no delivery`));
      receiver.answer = () => ({ status: 200, body: "ok" });
      await envhooks.api(api, { method: "DELETE" });
    },
  );

  it.skipIf(kind.skip)("redeploys an environment through the API", async () => {
    const response = await operator.post(`${PROJECT}/environments/master/redeploy`);
    expect(response.headers.get("location")).toBe(`${PROJECT}?done=redeployed`);
    const page = await (await envhooks.api(`/api/projects/${REPO}/activities?limit=1`)).json();
    expect(page.items[0]).toMatchObject({
      type: "environment.redeploy",
      parameters: { environment: "master" },
    });
  });

  it.skipIf(kind.skip)(
    "creates a token shown once, lists it and revokes it; a project token may not",
    async () => {
      const created = await operator.post("/tokens", { project: REPO, name: "ci", access: "write" });
      expect(created.status).toBe(303);
      const shown = created.headers.get("location") ?? "";
      expect(shown).toMatch(/^\/tokens\?flash=/);
      const page = await (await operator.get(shown)).text();
      const token = /<p class="secret" id="new-token">(ehk_[^<]+)<\/p>/.exec(page)?.[1];
      expect(token).toBeTruthy();
      // Shown once: a reload neither shows it again nor creates another.
      expect(await (await operator.get(shown)).text()).not.toContain(token);
      const list = await (await operator.get("/tokens")).text();
      expect(list).toContain("ci");
      expect(list).not.toContain(token);
      const [stored] = (await (await envhooks.api("/api/tokens")).json()).filter(
        (t: { name: string }) => t.name === "ci",
      );
      const bad = await operator.post("/tokens", { project: "no slash" });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('id="project-error"');

      const projectUser = new DashboardClient(envhooks.app);
      await projectUser.signIn(token ?? "");
      expect((await projectUser.get("/tokens")).status).toBe(403);
      expect((await projectUser.get(PROJECT)).status).toBe(200);

      expect((await operator.post(`/tokens/${stored.id}/revoke`)).headers.get("location")).toBe(
        `/tokens?revoked=${stored.id}`,
      );
      expect(
        (await envhooks.app.request("/api/projects", { headers: { authorization: `Bearer ${token}` } }))
          .status,
      ).toBe(401);
    },
  );

  it.skipIf(kind.skip)(
    "shows a read-only token no action, and the API refuses one all the same",
    async () => {
      const created = await (
        await envhooks.api("/api/tokens", { body: { project: REPO, access: "read" } })
      ).json();
      const reader = new DashboardClient(envhooks.app);
      await reader.signIn(created.token);
      const page = await (await reader.get(PROJECT)).text();
      expect(page).toContain('id="environment-master"');
      expect(page).not.toContain("Redeploy");
      expect(page).not.toContain("Add an integration");
      const refused = await reader.post(`${PROJECT}/environments/master/redeploy`);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain("read-only");
    },
  );

  it.skipIf(kind.skip)("sets up an integration for a repository before its first event", async () => {
    const before = await operator.get("/projects/acme/future");
    expect(before.status).toBe(200);
    expect(await before.text()).toContain("envhooks has received no event from acme/future yet");
    const added = await operator.post("/projects/acme/future/integrations", {
      type: "webhook",
      url: receiver.url,
      states: "complete",
    });
    expect(await (await operator.get(added.headers.get("location") ?? "")).text()).toContain(
      "Integration added",
    );
    const page = await (await operator.get("/projects/acme/future")).text();
    expect(page).toContain(receiver.url);
    const [integration] = await (await envhooks.api("/api/projects/acme/future/integrations")).json();
    await operator.post(`/projects/acme/future/integrations/${integration.id}/delete`, {
      confirm: integration.id,
    });
  });

  it.skipIf(kind.skip)(
    "sends a renamed project's old dashboard URLs to the new name, as the API does",
    async () => {
      const [before, after] = ["acme/old-shop", "acme/new-shop"];
      await envhooks.deliver("push", pushTo(before, 1), { deliveryId: "d-old-shop" });
      await eventually(async () => (await findEvent(envhooks.store.db, "d-old-shop"))?.state === "processed");
      const renamed = renamedEvent(pushTo(before, 1).repository, after);
      await envhooks.deliver("repository", renamed, { deliveryId: "d-renamed-shop" });
      await eventually(
        async () => (await findEvent(envhooks.store.db, "d-renamed-shop"))?.state === "processed",
      );
      expect((await envhooks.api(`/api/projects/${before}`)).status).toBe(307);

      const page = await operator.get(`/projects/${before}?done=saved`);
      expect(page.status).toBe(307);
      expect(page.headers.get("location")).toBe(`/projects/${after}?done=saved`);
      const followed = await operator.get(page.headers.get("location") ?? "");
      expect(followed.status).toBe(200);
      expect(await followed.text()).toContain(after);
      // A form posted to the old name goes on to the new one (307 keeps the method and the body).
      const added = await operator.post(`/projects/${before}/integrations`, {
        type: "webhook",
        url: receiver.url,
      });
      expect(added.status).toBe(307);
      expect(added.headers.get("location")).toBe(`/projects/${after}/integrations`);
      expect(await (await envhooks.api(`/api/projects/${after}/integrations`)).json()).toEqual([]);
    },
  );

  it.skipIf(kind.skip)("refuses a form without the session's CSRF token", async () => {
    const response = await operator.post(`${PROJECT}/environments/master/redeploy`, {}, { csrf: false });
    expect(response.status).toBe(403);
  });

  it.skipIf(kind.skip)(
    "reads at most 1 MB from a dashboard form: 413 naming the limit, nothing made",
    async () => {
      const before = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
      const response = await operator.post(`${PROJECT}/integrations`, {
        type: "webhook",
        url: `${receiver.url}/hook`,
        name: "x".repeat(2 * 1024 * 1024),
      });
      expect(response.status).toBe(413);
      expect(await response.text()).toMatch(/at most 1 MB here/);
      const after = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
      expect(after).toHaveLength(before.length);
    },
  );

  it.skipIf(kind.skip)(
    "holds at most 8 live streams per session: the 9th is 429 (the page works without), others' still open",
    async () => {
      const client = new DashboardClient(envhooks.app);
      await client.signIn(API_TOKEN);
      const { rows } = await envhooks.store.db.query<{ id: string }>(
        "SELECT id FROM web_sessions WHERE csrf = $1",
        [client.csrf],
      );
      const sessionId = rows[0]?.id;
      const open = async (who: DashboardClient) => {
        const response = await who.get(`${PROJECT}/live`);
        return { response, reader: response.status === 200 ? response.body?.getReader() : undefined };
      };
      const streams = [];
      for (let n = 0; n < MAX_STREAMS_PER_SESSION; n++) streams.push(await open(client));
      expect(streams.map((s) => s.response.status)).toEqual(Array(MAX_STREAMS_PER_SESSION).fill(200));
      const refused = await open(client);
      expect(refused.response.status).toBe(429);
      expect(await refused.response.text()).toMatch(
        /Too many live updates open for this session \(at most 8\)/,
      );
      // Another session is not held back by this one.
      const other = await open(operator);
      expect(other.response.status).toBe(200);
      await other.reader?.cancel();
      // A stream that ends is counted out: one more may open.
      await streams[0]?.reader?.cancel();
      await eventually(async () => openStreams(sessionId) < MAX_STREAMS_PER_SESSION);
      const again = await open(client);
      expect(again.response.status).toBe(200);
      await again.reader?.cancel();
      for (const stream of streams.slice(1)) await stream.reader?.cancel();
      await eventually(async () => openStreams(sessionId) === 0);
    },
  );

  it.skipIf(kind.skip)(
    "runs no resync dry run for a link opened from another site: a CSRF-checked form does",
    async () => {
      const crossSite = await operator.get(`${PROJECT}/resync`, { "sec-fetch-site": "cross-site" });
      expect(crossSite.status).toBe(200);
      const page = await crossSite.text();
      expect(page).toContain("This link was opened from another site");
      expect(page).toContain(`<form method="post" action="${PROJECT}/resync">`);
      expect(page).toContain('name="dry_run" value="1"');
      // The same dry run, as a form: refused without the session's CSRF token...
      const forged = await operator.post(`${PROJECT}/resync`, { dry_run: "1" }, { csrf: false });
      expect(forged.status).toBe(403);
      // ...and with it, answered as the link from envhooks' own page is.
      const direct = await operator.get(`${PROJECT}/resync`, { "sec-fetch-site": "same-origin" });
      const confirmed = await operator.post(`${PROJECT}/resync`, { dry_run: "1" });
      expect(confirmed.status).toBe(direct.status);
      const title = (text: string) => /<h1>[\s\S]*?<\/h1>/.exec(text)?.[0];
      expect(title(await confirmed.text())).toBe(title(await direct.text()));
    },
  );

  it.skipIf(kind.skip)("streams the activity page as server-sent events", async () => {
    const response = await operator.get(`/activities/${activityId}/live`);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const text = await response.text();
    expect(text).toContain("event: patch");
    expect(text).toContain('"id":"activity-summary"');
    expect(text).toContain("event: done");
  });

  it.skipIf(kind.skip)("pages to older activities, whose page does not follow the live stream", async () => {
    for (let n = 0; n < 21; n++) {
      await envhooks.deliver("push", pushToBranch(`many-${n}`), { deliveryId: `many-${n}` });
    }
    await eventually(
      async () => (await findEvent(envhooks.store.db, "many-20"))?.state === "processed",
      30_000,
    );
    const newest = await (await operator.get(PROJECT)).text();
    const older = /href="([^"]*activities_before=\d+)#activity-heading"/.exec(newest)?.[1];
    expect(older).toBeTruthy();
    expect(newest).not.toContain(`id="activity-${activityId}"`);
    const page = await (await operator.get(older?.replaceAll("&amp;", "&") ?? "")).text();
    expect(page).toContain(`id="activity-${activityId}"`);
    expect(page).not.toContain("data-live=");
    expect(page).toContain("Newest activities");
  });

  it.skipIf(kind.skip)("keeps no dashboard page in a cache (Cache-Control: no-store)", async () => {
    for (const path of ["/", PROJECT, "/tokens", `/activities/${activityId}`, "/activities/nonexistent"]) {
      const response = await operator.get(path);
      expect(response.headers.get("cache-control"), path).toBe("no-store");
    }
    // The page that shows a new token, once.
    const created = await operator.post("/tokens", { project: REPO, name: "cache", access: "read" });
    expect(created.status).toBe(303);
    const shown = await operator.get(created.headers.get("location") ?? "");
    expect(await shown.text()).toContain('id="new-token"');
    expect(shown.headers.get("cache-control")).toBe("no-store");
  });

  it.skipIf(kind.skip)("serves the API reference from envhooks, with no script", async () => {
    const response = await operator.get("/docs");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'self'");
    const page = await response.text();
    expect(page).toContain("/api/projects/{owner}/{repo}/integrations");
    expect(page).not.toMatch(/https?:\/\/cdn/);
  });

  it.skipIf(kind.skip)(
    "shows a read-only person an integration URL's origin only (its path may be the credential); writers see it",
    async () => {
      const made = await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: `${receiver.url}/hooks/catch/123456/abcdEFGHsecret/` },
      });
      expect(made.status).toBe(201);
      const { id } = await made.json();
      const origin = new URL(receiver.url).origin;
      const created = await (
        await envhooks.api("/api/tokens", { body: { project: REPO, access: "read" } })
      ).json();
      const reader = new DashboardClient(envhooks.app);
      await reader.signIn(created.token);
      for (const path of [PROJECT, `${PROJECT}/integrations/${id}`]) {
        const page = await (await reader.get(path)).text();
        expect(page, path).toContain(`>${origin}/…</code>`);
        expect(page, path).not.toContain("abcdEFGHsecret");
        const written = await (await operator.get(path)).text();
        expect(written, path).toContain("/hooks/catch/123456/abcdEFGHsecret/");
      }
      await envhooks.api(`/api/projects/${REPO}/integrations/${id}`, { method: "DELETE" });
    },
  );
});
