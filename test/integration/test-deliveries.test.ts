import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushCreatingMaster, REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

// Issue 22 item 16 (review H1, L1): a test delivery is one POST, and it counts nowhere.
describe.each(STORES)("test deliveries on $name", (kind) => {
  let envhooks: TestEnvhooks;
  let receiver: Receiver;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    receiver = await new Receiver().start();
  });
  let stopped = false;
  afterEach(async () => {
    await receiver?.stop();
    // A test that stopped its instance closes only the store.
    if (stopped) await envhooks?.store.close();
    else await envhooks?.close();
    stopped = false;
  });

  const base = `/api/projects/${REPO}/integrations`;
  const sent = (id: string) => receiver.received.filter((r) => r.headers["x-envhooks-delivery"] === id);

  async function addWebhook(body: Record<string, unknown> = {}) {
    const response = await envhooks.api(base, {
      body: { type: "webhook", url: receiver.url, retry_schedule: [1, 1, 1, 1, 1], ...body },
    });
    expect(response.status).toBe(201);
    return response.json();
  }

  async function health(id: string) {
    const { rows } = await envhooks.store.db.query<Record<string, unknown>>(
      `SELECT status, failing_since IS NOT NULL AS failing, last_status, last_reason, last_context IS NOT NULL AS context
       FROM integrations WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  async function metric(name: string): Promise<number> {
    const text = await (await envhooks.app.request("/metrics")).text();
    return text
      .split("\n")
      .filter((line) => line.startsWith(name) && !line.startsWith(`${name}_`))
      .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
  }

  it("sends a test once, however many drains run while the receiver takes its time", async () => {
    // The receiver answers 500 after a while: long enough for drains to run meanwhile.
    receiver.answer = () => ({ status: 500, body: "down", delayMs: 1_500 });
    const integration = await addWebhook();
    const testing = envhooks.api(`${base}/${integration.id}/test`, { body: {} });
    await eventually(async () => receiver.received.length === 1);
    const id = String(receiver.received[0]?.headers["x-envhooks-delivery"]);
    // Sweeps (every 10 s in production) and pushes wake the integration's drain meanwhile.
    for (let n = 0; n < 3; n++) {
      await envhooks.sweep();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const tested = await testing;
    expect(tested.status).toBe(200);
    const result = await tested.json();
    expect(result).toMatchObject({ id, state: "failed", attempts: 1, test: true });
    // Past the schedule's first retry (1 s): nothing sends it again.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await envhooks.sweep();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sent(id)).toHaveLength(1);
    const stored = await (await envhooks.api(`/api/deliveries/${id}`)).json();
    expect(stored).toMatchObject({ state: "failed", attempts: 1, test: true });
    expect(stored.attempt_log).toHaveLength(1);
  }, 30_000);

  it("leaves a test cut short by a shutdown failed: no later process sends it", async () => {
    receiver.answer = (n) => (n === 0 ? "hang" : { status: 200 });
    const integration = await addWebhook({ timeout_ms: 60_000 });
    const testing = envhooks.api(`${base}/${integration.id}/test`, { body: {} });
    await eventually(async () => receiver.received.length === 1);
    const id = String(receiver.received[0]?.headers["x-envhooks-delivery"]);
    await envhooks.stop(300);
    stopped = true;
    await testing;
    const { rows } = await envhooks.store.db.query("SELECT state, attempts FROM deliveries WHERE id = $1", [
      id,
    ]);
    expect(rows).toEqual([{ state: "failed", attempts: 1 }]);
    const next = await startTestEnvhooks(kind, { store: envhooks.store });
    try {
      await next.sweep();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(sent(id)).toHaveLength(1);
    } finally {
      await next.stop();
    }
  }, 30_000);

  it("never touches the integration's health, status or delivery metrics", async () => {
    const integration = await addWebhook();
    const attemptsBefore = await metric("envhooks_delivery_attempts_total");

    // A healthy integration: a failed test (and a 410 Gone) marks it neither failing nor disabled.
    receiver.answer = () => ({ status: 500, body: "down" });
    expect((await (await envhooks.api(`${base}/${integration.id}/test`, { body: {} })).json()).state).toBe(
      "failed",
    );
    receiver.answer = () => ({ status: 410, body: "gone" });
    await envhooks.api(`${base}/${integration.id}/test`, { body: {} });
    expect(await health(integration.id)).toEqual({
      status: "active",
      failing: false,
      last_status: null,
      last_reason: null,
      context: false,
    });
    expect(await metric("envhooks_delivery_attempts_total")).toBe(attemptsBefore);

    // A failing one: a passing test does not end its failing spell, nor change its last attempt.
    receiver.answer = () => ({ status: 500, body: "down" });
    expect((await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "push-1" })).status).toBe(202);
    await eventually(async () => (await findEvent(envhooks.store.db, "push-1"))?.state === "processed");
    const failing = await eventually(async () => {
      const now = await health(integration.id);
      return now?.failing ? now : undefined;
    });
    expect(failing).toMatchObject({ last_status: "Failed", last_reason: "HTTP 500" });
    await envhooks.api(`${base}/${integration.id}/pause`, { method: "POST" });
    receiver.answer = () => ({ status: 200, body: "ok" });
    const passed = await (await envhooks.api(`${base}/${integration.id}/test`, { body: {} })).json();
    expect(passed.state).toBe("delivered");
    expect(await health(integration.id)).toEqual({ ...failing, status: "paused" });

    // A test sent again by id waits while the integration is paused: no pending delivery counts it.
    const pendingBefore = await metric("envhooks_deliveries_pending");
    expect((await envhooks.api(`/api/deliveries/${passed.id}/redeliver`, { method: "POST" })).status).toBe(
      202,
    );
    expect(await metric("envhooks_deliveries_pending")).toBe(pendingBefore);
  }, 30_000);
});
