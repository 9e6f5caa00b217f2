import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listAttempts } from "../../src/store/deliveries.ts";
import { pushCreatingMaster, REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

describe.each(STORES)("a shutdown with a delivery in flight on $name", (kind) => {
  let receiver: Receiver;
  let store: TestStore | undefined;
  const running: TestEnvhooks[] = [];

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    receiver = await new Receiver().start();
  });
  afterEach(async () => {
    await receiver?.stop();
    // A test that failed may leave an instance stopping: a second stop must not hide its failure.
    for (const envhooks of running.splice(0)) await envhooks.stop(100).catch(() => {});
    await store?.close();
    store = undefined;
  });

  async function start() {
    const envhooks = await startTestEnvhooks(kind, store ? { store } : {});
    store ??= envhooks.store;
    running.push(envhooks);
    return envhooks;
  }

  it("cuts the send short at the deadline, records it as interrupted, and the next instance sends it again", async () => {
    receiver.answer = (n) => (n === 0 ? "hang" : { status: 200 });
    const first = await start();
    const created = await first.api(`/api/projects/${REPO}/integrations`, {
      body: { type: "webhook", url: receiver.url, timeout_ms: 60_000 },
    });
    const integration = await created.json();
    expect((await first.deliver("push", pushCreatingMaster())).status).toBe(202);
    await eventually(async () => receiver.received.length === 1);

    const stopping = Date.now();
    await first.stop(300);
    running.splice(running.indexOf(first), 1);
    // Nowhere near the receiver's minute.
    expect(Date.now() - stopping).toBeLessThan(10_000);

    const { rows } = await first.store.db.query<{
      id: string;
      state: string;
      attempts: number;
      failures: number;
      due: boolean;
    }>(`SELECT id, state, attempts, failures, next_attempt_at <= now() AS due FROM deliveries`);
    expect(rows).toEqual([{ id: expect.any(String), state: "pending", attempts: 1, failures: 0, due: true }]);
    const attempts = await listAttempts(first.store.db, rows[0]?.id ?? "");
    expect(attempts).toMatchObject([
      { statusCode: null, succeeded: false, error: expect.stringMatching(/^interrupted: /) },
    ]);
    // Not the receiver failing: no failing spell toward disabling, no summary of an answer, lease given up.
    const { rows: summary } = await first.store.db.query(
      `SELECT failing_since, last_status, lease_owner, status FROM integrations WHERE id = $1`,
      [integration.id],
    );
    expect(summary).toEqual([
      { failing_since: null, last_status: null, lease_owner: null, status: "active" },
    ]);

    await start();
    await eventually(async () => receiver.received.length === 2);
    const [cut, resent] = receiver.received;
    expect(resent?.headers["webhook-id"]).toBe(cut?.headers["webhook-id"]);
    expect(resent?.headers["x-envhooks-delivery"]).toBe(rows[0]?.id);
    await eventually(async () => (await listAttempts(first.store.db, rows[0]?.id ?? "")).length === 2);
  }, 30_000);
});
