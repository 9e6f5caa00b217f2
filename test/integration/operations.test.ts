import { afterEach, describe, expect, it } from "vitest";
import { readSettings } from "../../src/config/env.schema.ts";
import { pushCreatingMaster, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

/** The value of one sample of the Prometheus text format, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = (match[2] ?? "").split(",");
    if (wanted.every((label) => have.includes(label))) return Number(match[3]);
  }
  return undefined;
}

describe.each(STORES)("operations on $name", (kind) => {
  const running: TestEnvhooks[] = [];
  const receivers: Receiver[] = [];
  afterEach(async () => {
    for (const envhooks of running.splice(0).reverse()) await envhooks.close();
    for (const receiver of receivers.splice(0)) await receiver.stop();
  });

  async function start(options: Parameters<typeof startTestEnvhooks>[1] = {}) {
    const envhooks = await startTestEnvhooks(kind, options);
    running.push(envhooks);
    return envhooks;
  }
  async function receiver() {
    const started = await new Receiver().start();
    receivers.push(started);
    return started;
  }
  async function addWebhook(envhooks: TestEnvhooks, url: string, extra: Record<string, unknown> = {}) {
    const response = await envhooks.api(`/api/projects/${REPO}/integrations`, {
      body: { type: "webhook", url, ...extra },
    });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string };
  }
  const metrics = async (envhooks: TestEnvhooks) => (await envhooks.app.request("/metrics")).text();

  it("counts events, activities and delivery attempts, and reports the queue", async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    const envhooks = await start();
    const down = await receiver();
    down.answer = () => ({ status: 503 });
    await addWebhook(envhooks, down.url, { retry_schedule: [60, 60, 60, 60, 60] });
    expect((await envhooks.deliver("push", pushCreatingMaster())).status).toBe(202);
    expect((await envhooks.deliver("push", pushCreatingMaster(), { secret: "wrong" })).status).toBe(401);
    await eventually(async () => down.received.length === 1);

    const text = await eventually(async () => {
      const scraped = await metrics(envhooks);
      return sample(scraped, "envhooks_delivery_attempts_total", { outcome: "retrying" }) === 1 && scraped;
    });
    expect(
      sample(text, "envhooks_github_events_received_total", { event: "push", outcome: "accepted" }),
    ).toBe(1);
    expect(
      sample(text, "envhooks_github_events_received_total", { event: "other", outcome: "refused" }),
    ).toBe(1);
    expect(sample(text, "envhooks_activities_total", { type: "environment.branch", state: "complete" })).toBe(
      1,
    );
    expect(
      sample(text, "envhooks_delivery_attempt_duration_seconds_count", { integration_type: "webhook" }),
    ).toBe(1);
    expect(sample(text, "envhooks_deliveries_pending")).toBe(1);
    expect(sample(text, "envhooks_oldest_pending_delivery_age_seconds")).toBeGreaterThan(0);
    expect(sample(text, "envhooks_process_resident_memory_bytes")).toBeGreaterThan(0);
    // The statements envhooks ran on its store: what the bench divides by the deliveries sent.
    expect(sample(text, "envhooks_store_statements_total")).toBeGreaterThan(10);
    // Nothing secret in a scrape: no integration URL, no signing secret.
    expect(text).not.toContain("127.0.0.1");
    expect(text).not.toContain("whsec_");
  });

  it("logs each GitHub delivery with its request id and delivery id", async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    const envhooks = await start();
    const response = await envhooks.app.request("/healthz", { headers: { "x-request-id": "lb-42" } });
    expect(response.headers.get("x-request-id")).toBe("lb-42");
    const delivered = await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "gh-delivery-7" });
    const requestId = delivered.headers.get("x-request-id");
    expect(requestId).toBeTruthy();
    const line = envhooks.logs
      .map((entry) => JSON.parse(entry))
      .find((entry) => entry.delivery === "gh-delivery-7");
    expect(line).toMatchObject({ requestId, event: "push", outcome: "accepted" });
  });

  it.runIf(kind.name === "postgres")(
    "splits roles: a web instance stores, a worker on the same database applies and relays",
    async ({ skip }) => {
      if (kind.skip) skip(kind.skip);
      const web = await start({ role: "web" });
      const worker = await start({ role: "worker", store: web.store });
      const hook = await receiver();
      await addWebhook(web, hook.url);
      expect((await web.deliver("push", pushCreatingMaster())).status).toBe(202);
      expect((await web.deliver("push", pushToBranch("master", { commits: 2 }))).status).toBe(202);
      await eventually(async () => hook.received.length === 2);
      expect(hook.bodies().map((body) => body.type)).toEqual(["environment.branch", "environment.push"]);

      // A worker answers probes and metrics only.
      expect((await worker.app.request("/healthz")).status).toBe(200);
      expect((await worker.app.request("/metrics")).status).toBe(200);
      expect((await worker.api(`/api/projects/${REPO}/activities`)).status).toBe(404);
      // Counted once recorded, which follows the receiver's answer.
      await eventually(
        async () =>
          sample(await metrics(worker), "envhooks_delivery_attempts_total", { outcome: "delivered" }) === 2,
      );
    },
  );

  it.runIf(kind.name === "postgres")(
    "two full instances share the work: every delivery once, in order per integration",
    async ({ skip }) => {
      if (kind.skip) skip(kind.skip);
      const first = await start();
      const second = await start({ store: first.store });
      const hooks = [await receiver(), await receiver()];
      for (const hook of hooks) await addWebhook(first, hook.url);
      expect((await first.deliver("push", pushCreatingMaster())).status).toBe(202);
      await eventually(async () => hooks.every((hook) => hook.received.length === 1));
      // Alternate instances, as a load balancer would; each push is one rebuild of master.
      for (let n = 0; n < 30; n++) {
        const to = n % 2 === 0 ? first : second;
        const payload = pushToBranch("master", { commits: 1 });
        payload.head_commit.message = `push ${n}`;
        payload.commits[0].message = `push ${n}`;
        expect((await to.deliver("push", payload)).status).toBe(202);
      }
      await eventually(async () => hooks.every((hook) => hook.received.length === 31), 30_000);
      for (const hook of hooks) {
        const ids = hook.received.map((request) => request.headers["webhook-id"]);
        expect(new Set(ids).size).toBe(31);
        const messages = hook
          .bodies()
          .slice(1)
          .map((body) => body.payload.commits[0].message);
        expect(messages).toEqual(Array.from({ length: 30 }, (_, n) => `push ${n}`));
      }
    },
    60_000,
  );
});

describe("ENVHOOKS_ROLE", () => {
  it("needs PostgreSQL for a web or worker instance", () => {
    expect(() => readSettings({ ENVHOOKS_ROLE: "worker" })).toThrow(
      /ENVHOOKS_ROLE: worker needs DATABASE_URL/,
    );
    expect(readSettings({ ENVHOOKS_ROLE: "web", DATABASE_URL: "postgres://db/envhooks" }).role).toBe("web");
    expect(() => readSettings({ ENVHOOKS_ROLE: "both" })).toThrow(/ENVHOOKS_ROLE/);
  });
});
