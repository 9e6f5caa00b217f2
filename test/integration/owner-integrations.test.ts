import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushTo, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const OWNER = "Codertocat";
const OTHER = `${OWNER}/Other-Repo`;
const base = `/api/owners/${OWNER}/integrations`;

describe.each(STORES)("owner-wide integrations on $name", { timeout: 120_000 }, (kind) => {
  let envhooks: TestEnvhooks;
  let everything: Receiver;
  let filtered: Receiver;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    everything = await new Receiver().start();
    filtered = await new Receiver().start();
    // Slow enough that two environments' deliveries overlap: order must hold per environment.
    everything.answer = () => ({ status: 200, delayMs: 20 });
  });
  afterEach(async () => {
    await envhooks?.close();
    await everything?.stop();
    await filtered?.stop();
  });

  async function add(body: Record<string, unknown>) {
    const response = await envhooks.api(base, { body: { type: "webhook", ...body } });
    expect(response.status).toBe(201);
    return (await response.json()) as Record<string, any>;
  }
  async function send(payload: unknown) {
    expect((await envhooks.deliver("push", payload)).status).toBe(202);
  }

  it("receives two repositories' activities in order per environment; a projects filter narrows it", async () => {
    const all = await add({ url: everything.url });
    expect(all).toMatchObject({ owner: "codertocat", project: "codertocat/*", status: "active" });
    await add({ url: filtered.url, projects: ["hello-*"] });

    // Interleaved: two repositories, two environments each.
    for (let n = 1; n <= 4; n++) {
      await send(pushTo(REPO, n));
      await send(pushTo(OTHER, n));
      const feature = { before: "a".repeat(40), after: n.toString(16).padStart(40, "e") };
      await send({ ...pushToBranch("feature/x", feature) });
    }
    const total = 12;
    await eventually(async () => everything.received.length === total, 60_000);
    const bodies = everything.bodies();
    // Every activity of both repositories, each once.
    expect(new Set(bodies.map((body) => body.id)).size).toBe(total);
    expect(new Set(bodies.map((body) => body.project))).toEqual(new Set([REPO, OTHER]));

    // Per project and environment, in the order the activities were recorded.
    for (const project of [REPO, OTHER]) {
      const response = await envhooks.api(`/api/projects/${project}/activities?limit=100`);
      const recorded = ((await response.json()) as { items: Array<Record<string, any>> }).items.reverse();
      for (const environment of new Set(recorded.map((a) => a.parameters.environment))) {
        const expected = recorded.filter((a) => a.parameters.environment === environment).map((a) => a.id);
        const got = bodies
          .filter((b) => b.project === project && b.parameters.environment === environment)
          .map((b) => b.id);
        expect(got, `${project} ${environment}`).toEqual(expected);
      }
    }

    // The filtered one: Hello-World's 8 activities, none of Other-Repo's.
    await eventually(async () => filtered.received.length === 8);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(filtered.bodies().every((body) => body.project === REPO)).toBe(true);
    expect(filtered.received).toHaveLength(8);

    // Its log, through the owner's routes.
    const page = await envhooks.api(`${base}/${all.id}/deliveries?limit=100`);
    expect(((await page.json()) as { items: unknown[] }).items).toHaveLength(total);
  });

  it("pauses and resumes like a project's integration, and only the operator manages it", async () => {
    const integration = await add({ url: everything.url });
    const paused = await envhooks.api(`${base}/${integration.id}/pause`, { method: "POST" });
    expect(((await paused.json()) as { status: string }).status).toBe("paused");
    await send(pushTo(OTHER, 1));
    await eventually(async () => {
      const page = await envhooks.api(`${base}/${integration.id}/deliveries`);
      return ((await page.json()) as { items: unknown[] }).items.length === 1;
    });
    expect(everything.received).toHaveLength(0);
    await envhooks.api(`${base}/${integration.id}/resume`, { method: "POST" });
    await eventually(async () => everything.received.length === 1);

    // A project token: refused on the owner's routes, and the integration is not its project's.
    const tokens = await envhooks.api("/api/tokens", {
      body: { project: REPO, name: "ci", access: "write" },
    });
    const token = ((await tokens.json()) as { token: string }).token;
    const asProject = (path: string, init: RequestInit = {}) =>
      envhooks.app.request(path, {
        ...init,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      });
    const listed = await asProject(base);
    expect(listed.status).toBe(403);
    expect(((await listed.json()) as { error: { message: string } }).error.message).toMatch(
      /ENVHOOKS_API_TOKEN/,
    );
    expect((await asProject(`${base}/${integration.id}`, { method: "DELETE" })).status).toBe(403);
    expect((await asProject(`/api/projects/${REPO}/integrations/${integration.id}`)).status).toBe(404);

    // A project integration has no projects filter: refused, naming the field.
    const refused = await envhooks.api(`/api/projects/${REPO}/integrations`, {
      body: { type: "webhook", url: everything.url, projects: ["*"] },
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("projects");
  });

  it("its failures are the operator's alerts: never a project's activities nor relayed to its receivers", async () => {
    everything.answer = () => ({ status: 500 });
    const integration = await add({ url: everything.url, retry_schedule: [0, 0, 0, 0, 0] });
    // The project's own failures-only channel.
    filtered.answer = () => ({ status: 200, headers: { "content-type": "text/plain" }, body: "ok" });
    const channel = await envhooks.api(`/api/projects/${REPO}/integrations`, {
      body: { type: "slack", url: filtered.url, results: ["failure"] },
    });
    expect(channel.status).toBe(201);
    await send(pushTo(REPO, 1));
    await send(pushTo(REPO, 2));
    type OwnerAlert = { id: string; type: string; owner: string; text: string; alert: Record<string, any> };
    const alerts = await eventually(async () => {
      const response = await envhooks.api("/api/alerts");
      if (response.status !== 200) return false;
      const { items } = (await response.json()) as { items: OwnerAlert[] };
      return items[0]?.alert.count === 2 && items;
    }, 60_000);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      type: "integration.delivery.failed",
      owner: "codertocat",
      alert: { integration: integration.id, count: 2 },
    });
    expect(alerts[0]?.text).toContain("HTTP 500");
    const byOwner = (await (await envhooks.api("/api/alerts?owner=Codertocat")).json()) as {
      items: unknown[];
    };
    expect(byOwner.items).toHaveLength(1);
    const other = (await (await envhooks.api("/api/alerts?owner=someone-else")).json()) as {
      items: unknown[];
    };
    expect(other.items).toHaveLength(0);

    // Not the project's: none of its activities, nothing to its channel.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const listed = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
    const types = ((await listed.json()) as { items: Array<{ type: string }> }).items.map((a) => a.type);
    expect(types).toHaveLength(2);
    expect(types.every((type) => type.startsWith("environment."))).toBe(true);
    expect(filtered.received).toHaveLength(0);

    // A project's reader gets 403; the operator's dashboard lists it.
    const tokens = await envhooks.api("/api/tokens", { body: { project: REPO, name: "ci", access: "read" } });
    const token = ((await tokens.json()) as { token: string }).token;
    const asReader = await envhooks.app.request("/api/alerts", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(asReader.status).toBe(403);
    const operator = new DashboardClient(envhooks.app);
    await operator.signIn(API_TOKEN);
    const page = await (await operator.get("/alerts")).text();
    expect(page).toContain(integration.id);
    expect(page).toContain("codertocat");
    const reader = new DashboardClient(envhooks.app);
    await reader.signIn(token);
    expect((await reader.get("/alerts")).status).toBe(403);
  });
});
