import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushCreatingMaster, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const sha = (n: number) => n.toString(16).padStart(40, "c");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Issue 22, item 2: an attempt the store cannot record must never make the drain send it again at once.
describe.each(STORES)("attempts the store cannot record as they are, on $name", (kind) => {
  let envhooks: TestEnvhooks;
  let receiver: Receiver;
  let pushes = 0;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    receiver = await new Receiver().start();
    pushes = 0;
  });
  afterEach(async () => {
    await receiver?.stop();
    await envhooks?.close();
  });

  const base = `/api/projects/${REPO}/integrations`;

  async function addWebhook(body: Record<string, unknown> = {}) {
    const response = await envhooks.api(base, { body: { type: "webhook", url: receiver.url, ...body } });
    expect(response.status).toBe(201);
    return response.json();
  }

  /** Sends a signed push to `branch` and waits until it is applied. */
  async function push(branch = "master") {
    pushes++;
    const id = `push-${pushes}`;
    const payload =
      pushes === 1
        ? pushCreatingMaster()
        : pushToBranch(branch, { before: sha(pushes), after: sha(pushes + 1) });
    expect((await envhooks.deliver("push", payload, { deliveryId: id })).status).toBe(202);
    await eventually(async () => (await findEvent(envhooks.store.db, id))?.state === "processed");
  }

  async function deliveries(integrationId: string) {
    return (await (await envhooks.api(`${base}/${integrationId}/deliveries?limit=100`)).json()).items;
  }

  it("records an answer holding NUL (PostgreSQL refuses U+0000) once, and later deliveries flow", async () => {
    receiver.answer = (n) =>
      n === 0
        ? { status: 500, body: "no\0pe" }
        : { status: 200, body: "ok\0\0 fine", headers: { "x-n": `${n}` } };
    const integration = await addWebhook({ retry_schedule: [0, 0, 0, 0, 0] });
    await push();
    await push();
    await eventually(async () => receiver.received.length >= 3);
    const list = await eventually(async () => {
      const found = await deliveries(integration.id);
      return found.every((d: { state: string }) => d.state === "delivered") ? found : undefined;
    });
    expect(list).toHaveLength(2);
    // Nothing sent again: the first delivery twice (a 500, then a 200), the second once.
    await sleep(1500);
    expect(receiver.received).toHaveLength(3);
    const first = await (await envhooks.api(`/api/deliveries/${list[1].id}`)).json();
    expect(first.attempt_log).toMatchObject([
      { status_code: 500, response_body: "nope", succeeded: false },
      { status_code: 200, response_body: "ok fine", succeeded: true },
    ]);
    const second = await (await envhooks.api(`/api/deliveries/${list[0].id}`)).json();
    expect(second.attempt_log).toMatchObject([{ status_code: 200, response_body: "ok fine" }]);
  });

  it("backs off when an attempt cannot be recorded at all, and the integration's other deliveries flow", async () => {
    // A real refusal from the store, whatever the attempt holds.
    await envhooks.store.db.query(
      `CREATE FUNCTION refuse_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'attempt log refused (test)'; END $$`,
    );
    await envhooks.store.db.query(
      `CREATE TRIGGER refuse_attempts BEFORE INSERT ON delivery_attempts
       FOR EACH ROW EXECUTE FUNCTION refuse_attempts()`,
    );
    // master's first delivery fails and waits an hour for its retry; everything else is answered.
    receiver.answer = (n) => (n === 0 ? { status: 500, body: "boom" } : { status: 200, body: "ok" });
    const integration = await addWebhook({ retry_schedule: [3600, 3600, 3600, 3600, 3600] });
    await push();
    await eventually(async () => receiver.received.length === 1);
    await push("feature-a");
    await push("feature-b");
    await eventually(async () => receiver.received.length >= 3);
    // Well past the relay's own retry of a failed drain (5 s) and a sweep (10 s) would be too
    // slow for a test; a hot loop sends many times in this.
    await sleep(2500);
    expect(receiver.received).toHaveLength(3);
    const byEnvironment = new Map(
      receiver.bodies().map((body, n) => [body.parameters.environment, receiver.received[n]?.headers]),
    );
    expect([...byEnvironment.keys()].sort()).toEqual(["feature-a", "feature-b", "master"]);

    const list = await deliveries(integration.id);
    const master = list.find(
      (d: { id: string }) => d.id === byEnvironment.get("master")?.["x-envhooks-delivery"],
    );
    expect(master).toMatchObject({ state: "pending", attempts: 1, last_status: 500 });
    expect(new Date(master.next_attempt_at).getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(list.filter((d: { state: string }) => d.state === "delivered")).toHaveLength(2);
    expect(envhooks.logs.join("")).toContain("attempt log refused (test)");
  });
});
