import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushTo } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const REPO = "octo-org/health";
const base = `/api/projects/${REPO}/integrations`;

// The API behind issue 27's dashboard: an integration's 24 hours (hourly buckets, latency), the
// deliveries list's event and status-code filters, the project cards' counts, the test event, the
// owner-wide delivery counts, and clearing the results and projects filters.
describe.each(STORES)("dashboard API on $name", { timeout: 120_000 }, (kind) => {
  let envhooks: TestEnvhooks;
  let ok: Receiver;
  let down: Receiver;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    ok = await new Receiver().start();
    down = await new Receiver().start();
    down.answer = () => ({ status: 500, body: "down" });
  });
  afterEach(async () => {
    await envhooks?.close();
    await ok?.stop();
    await down?.stop();
  });

  async function json<T = Record<string, any>>(path: string, init?: { method?: string; body?: unknown }) {
    const response = await envhooks.api(path, init);
    expect(response.status, `${path}: ${response.status}`).toBeLessThan(300);
    return (await response.json()) as T;
  }
  async function refused(path: string, init: { method?: string; body?: unknown } | undefined, field: string) {
    const response = await envhooks.api(path, init);
    expect(response.status, path).toBe(400);
    const { error } = (await response.json()) as { error: { message: string; details: { fields: any[] } } };
    expect(error.message).toContain(field);
    expect(error.details.fields.map((f: { field: string }) => f.field)).toContain(field);
  }

  it("counts an integration's deliveries per hour and its latency; filters deliveries by event and status code", async () => {
    const good = await json(base, { body: { type: "webhook", url: ok.url } });
    const bad = await json(base, {
      body: { type: "webhook", url: down.url, retry_schedule: [0, 0, 0, 0, 0] },
    });
    await envhooks.deliver("push", pushTo(REPO, 1));
    await envhooks.deliver("push", pushTo(REPO, 2));
    const settled = async (id: string) => {
      const page = await json<{ items: Array<{ state: string }> }>(`${base}/${id}/deliveries?limit=100`);
      return page.items.length > 0 && page.items.every((delivery) => delivery.state !== "pending");
    };
    await eventually(async () => (await settled(good.id)) && (await settled(bad.id)), 60_000);

    const all = await json<{ items: Array<{ event: string; state: string }> }>(
      `${base}/${good.id}/deliveries?limit=100`,
    );
    const health = await json(`${base}/${good.id}/health`);
    expect(health.hours).toHaveLength(24);
    const current = health.hours.at(-1);
    expect(new Date(current.start).getTime()).toBeLessThanOrEqual(Date.now());
    expect(Date.now() - new Date(current.start).getTime()).toBeLessThan(3_600_000);
    const delivered = health.hours.reduce(
      (sum: number, hour: { delivered: number }) => sum + hour.delivered,
      0,
    );
    expect(delivered).toBe(all.items.length);
    expect(health.counts).toEqual({ pending: 0, delivered: all.items.length, failed: 0 });
    expect(health.latency_ms.attempts).toBe(all.items.length);
    expect(health.latency_ms.p50).toBeGreaterThanOrEqual(0);
    expect(health.latency_ms.p95).toBeGreaterThanOrEqual(health.latency_ms.p50);

    const badLog = await json<{ items: Array<{ state: string; attempts: number }> }>(
      `${base}/${bad.id}/deliveries?limit=100`,
    );
    const badFailed = badLog.items.filter((delivery) => delivery.state === "failed").length;
    expect(badFailed).toBeGreaterThan(0);
    const failing = await json(`${base}/${bad.id}/health`);
    expect(failing.counts.failed).toBe(badFailed);
    expect(failing.hours.reduce((sum: number, hour: { failed: number }) => sum + hour.failed, 0)).toBe(
      badFailed,
    );
    // Every attempt of the log.
    expect(failing.latency_ms.attempts).toBe(
      badLog.items.reduce((sum, delivery) => sum + delivery.attempts, 0),
    );

    // Filters: by event (exactly), by the last answer's status.
    const event = all.items[0]?.event ?? "";
    const byEvent = await json<{ items: Array<{ event: string }> }>(
      `${base}/${good.id}/deliveries?limit=100&event=${event}`,
    );
    expect(byEvent.items.length).toBe(all.items.filter((d) => d.event === event).length);
    expect(byEvent.items.every((d) => d.event === event)).toBe(true);
    const by500 = await json<{ items: Array<{ last_status: number }> }>(
      `${base}/${bad.id}/deliveries?limit=100&status_code=500`,
    );
    expect(by500.items.length).toBe(badLog.items.filter((delivery) => delivery.attempts > 0).length);
    expect(
      (await json<{ items: unknown[] }>(`${base}/${good.id}/deliveries?limit=100&status_code=500`)).items,
    ).toEqual([]);
    await refused(`${base}/${good.id}/deliveries?status_code=99`, undefined, "status_code");
    await refused(`${base}/${good.id}/deliveries?event=Not%20an%20event`, undefined, "event");

    // The project's card: environments by status and the day's deliveries per hour.
    const projects = await json<Array<Record<string, any>>>("/api/projects");
    const card = projects.find((project) => project.project === REPO);
    expect(card?.environments.by_status).toEqual({ active: 1 });
    const hours = card?.delivery_hours as Array<{ delivered: number; failed: number }>;
    expect(hours.reduce((sum, hour) => sum + hour.delivered, 0)).toBe(all.items.length);
    expect(hours.reduce((sum, hour) => sum + hour.failed, 0)).toBe(badFailed);
  });

  it("sends a test event: a simulated push on the project's repository; readers and bad branches are refused", async () => {
    await envhooks.deliver("push", pushTo(REPO, 1));
    await eventually(async () => (await envhooks.api(`/api/projects/${REPO}`)).status === 200);
    const sent = await json(`/api/projects/${REPO}/test-event`, {
      method: "POST",
      body: { branch: "try-it" },
    });
    expect(sent).toMatchObject({ project: REPO, branch: "try-it" });
    await eventually(async () => {
      const page = await json<{ items: Array<{ parameters: { environment?: string } }> }>(
        `/api/projects/${REPO}/activities`,
      );
      return page.items.some((activity) => activity.parameters.environment === "try-it");
    }, 30_000);
    // The same project (its repository id), not a `~simulated` one beside it.
    const projects = await json<Array<{ project: string }>>("/api/projects");
    expect(projects.map((project) => project.project)).toEqual([REPO]);

    for (const branch of ["", "two words", "a..b", "x".repeat(201)]) {
      await refused(`/api/projects/${REPO}/test-event`, { method: "POST", body: { branch } }, "branch");
    }
    const token = await json("/api/tokens", { body: { project: REPO } });
    const reader = await envhooks.app.request(`/api/projects/${REPO}/test-event`, {
      method: "POST",
      headers: { authorization: `Bearer ${token.token}`, "content-type": "application/json" },
      body: JSON.stringify({ branch: "nope" }),
    });
    expect(reader.status).toBe(403);
  });

  it("counts an owner-wide integration's deliveries, and clears results and projects filters with null", async () => {
    const owner = "/api/owners/octo-org/integrations";
    const created = await json(owner, {
      body: { type: "webhook", url: ok.url, projects: ["nothing-*"], results: ["failure"] },
    });
    expect(created).toMatchObject({ projects: ["nothing-*"], results: ["failure"] });
    await envhooks.deliver("push", pushTo(REPO, 1));
    await eventually(async () => (await envhooks.api(`/api/projects/${REPO}`)).status === 200);
    expect(await json(`${owner}/${created.id}/delivery-counts`)).toEqual({
      pending: 0,
      delivered: 0,
      failed: 0,
    });

    const cleared = await json(`${owner}/${created.id}`, {
      method: "PATCH",
      body: { projects: null, results: null },
    });
    expect(cleared.projects).toBeUndefined();
    expect(cleared.results).toBeUndefined();
    await envhooks.deliver("push", pushTo(REPO, 2));
    await eventually(async () => {
      const counts = await json(`${owner}/${created.id}/delivery-counts`);
      return counts.delivered > 0;
    }, 30_000);
    const other = await envhooks.api(`/api/owners/someone-else/integrations/${created.id}/delivery-counts`);
    expect(other.status).toBe(404);
    // A project's integration takes no projects filter, null included.
    const project = await json(base, { body: { type: "webhook", url: ok.url } });
    const refusedProjects = await envhooks.api(`${base}/${project.id}`, {
      method: "PATCH",
      body: { projects: null },
    });
    expect(refusedProjects.status).toBe(400);
  });
});
