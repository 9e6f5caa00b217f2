import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newDeliveryId } from "../../src/relay/delivery-id.ts";
import { takeLeasesTogether } from "../../src/relay/lease-taker.ts";
import { insertDeliveries } from "../../src/store/deliveries.ts";
import { insertIntegration } from "../../src/store/integrations.ts";
import { createSecretBox, type SecretBox } from "../../src/store/secret-box.ts";
import { REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const INTEGRATIONS = 4;
const ENVIRONMENTS = 10;
const PER_ENVIRONMENT = 5;

/**
 * Issue 26: the relay's bookkeeping costs statements, and on the embedded store every statement is
 * time (~0.2–0.35 ms each, whatever it does). A burst of deliveries to a few integrations is sent
 * with fewer statements than deliveries: leases taken for many integrations at once, attempts
 * recorded together, a lane's next deliveries read with the lane's claim.
 */
describe.each(STORES)("statements per delivery on $name", { timeout: 120_000 }, (kind) => {
  let envhooks: TestEnvhooks;
  let receiver: Receiver;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    receiver = await new Receiver().start();
  });
  afterEach(async () => {
    await receiver?.stop();
    await envhooks?.close();
  });

  /**
   * Counts the statements the relay sends to the store, told apart by the call stack (code in
   * src/relay/: drains, their leases, reads and attempts), so that the test's own polls and the sweep
   * that wakes the relay here are left out.
   */
  function countRelayStatements(): () => number {
    const db = envhooks.store.db as { query: (text: string, values?: unknown[]) => Promise<unknown> };
    const original = db.query.bind(db);
    let count = 0;
    db.query = (text, values) => {
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 50;
      if (new Error().stack?.includes("/src/relay/")) count++;
      Error.stackTraceLimit = limit;
      return original(text, values);
    };
    return () => count;
  }

  async function addIntegrations(): Promise<string[]> {
    const ids: string[] = [];
    for (let n = 0; n < INTEGRATIONS; n++) {
      const response = await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: `${receiver.url}?i=${n}` },
      });
      expect(response.status).toBe(201);
      ids.push(((await response.json()) as { id: string }).id);
    }
    return ids;
  }

  /** Waits until every delivery written so far was sent and the drains gave their leases up. */
  async function allSent(count: number) {
    await eventually(async () => receiver.received.length >= count, 60_000);
    await eventually(async () => {
      const { rows } = await envhooks.store.db.query<{ left: number }>(
        `SELECT (SELECT count(*)::int FROM deliveries WHERE state <> 'delivered')
           + (SELECT count(*)::int FROM integrations WHERE lease_owner IS NOT NULL) AS left`,
      );
      return rows[0]?.left === 0;
    }, 30_000);
  }

  it("sends deliveries that come one activity at a time (a fan-out of 4) with few statements each", async () => {
    const ids = await addIntegrations();
    const statements = envhooks.store.db.statements;
    const before = statements?.() ?? 0;
    const relay = countRelayStatements();
    const waves = 25;
    for (let wave = 0; wave < waves; wave++) {
      const env = wave % ENVIRONMENTS;
      await insertDeliveries(
        envhooks.store.db,
        ids.map((integrationId) => ({
          id: newDeliveryId(),
          integrationId,
          activityId: `activity-${wave}`,
          orderKey: `feature/e${env}`,
          event: "environment.push",
          body: JSON.stringify({ integrationId, env, n: Math.floor(wave / ENVIRONMENTS) }),
        })),
      );
      // As the commit that wrote them would, the sweep wakes the integrations all at once.
      await envhooks.sweep();
      await allSent((wave + 1) * INTEGRATIONS);
    }
    const perDelivery = relay() / (waves * INTEGRATIONS);
    console.log(
      `${kind.name}: ${perDelivery.toFixed(3)} relay statements per delivery, one activity at a time`,
    );
    expect(receiver.received).toHaveLength(waves * INTEGRATIONS);
    // The store counted them, with the rest.
    expect((statements?.() ?? 0) - before).toBeGreaterThan(relay());
    // A lease taken and an attempt recorded (the lease given up with it) for each of the four: 2
    // each before they were taken together.
    expect(perDelivery).toBeLessThan(1.4);
  });

  it("sends a burst of 200 deliveries to 4 integrations with less than one statement each, each once", async () => {
    const ids = await addIntegrations();
    const deliveries = [];
    for (let n = 0; n < PER_ENVIRONMENT; n++)
      for (let env = 0; env < ENVIRONMENTS; env++)
        for (const integrationId of ids)
          deliveries.push({
            id: newDeliveryId(),
            integrationId,
            activityId: `activity-${env}-${n}`,
            orderKey: `feature/e${env}`,
            event: "environment.push",
            body: JSON.stringify({ integrationId, env, n }),
          });
    await insertDeliveries(envhooks.store.db, deliveries);
    const relay = countRelayStatements();
    await envhooks.sweep();
    await allSent(deliveries.length);
    const perDelivery = relay() / deliveries.length;
    console.log(`${kind.name}: ${perDelivery.toFixed(3)} relay statements per delivery, in a burst`);

    // Each sent once, and in order within its integration's environment.
    expect(receiver.received).toHaveLength(deliveries.length);
    const seen = new Map<string, number[]>();
    for (const request of receiver.received) {
      const { integrationId, env, n } = JSON.parse(request.body) as {
        integrationId: string;
        env: number;
        n: number;
      };
      const key = `${integrationId}/${env}`;
      seen.set(key, [...(seen.get(key) ?? []), n]);
    }
    expect(seen.size).toBe(INTEGRATIONS * ENVIRONMENTS);
    for (const sequence of seen.values()) expect(sequence).toEqual([0, 1, 2, 3, 4]);
    // 0.15-0.25 measured: 16 deliveries of a lane read with its lease, attempts recorded together
    // (one statement per attempt would be above 1). A guard with room for a fast machine's
    // smaller batches, not a goal.
    expect(perDelivery).toBeLessThan(1);
  });
});

describe.each(STORES)("taking leases together on $name", { timeout: 120_000 }, (kind) => {
  let store: TestStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it("takes the leases asked for in one turn in one statement; one that cannot be opened fails alone", async ({
    skip,
  }) => {
    if (kind.skip) skip(kind.skip);
    store = await kind.open();
    const db = store.db;
    const secrets = createSecretBox([Buffer.alloc(32, 3)]);
    // Sealed with a key this process does not have: its secrets cannot be opened.
    const foreign = createSecretBox([Buffer.alloc(32, 4)]);
    const add = async (id: string, box: SecretBox) => {
      await insertIntegration(db, box, {
        id,
        projectKey: "acme/shop",
        type: "webhook",
        config: {
          url: "http://127.0.0.1:1/hook",
          events: ["*"],
          states: ["complete"],
          environments: ["*"],
          excluded_environments: [],
          format: "platformsh",
          headers: {},
          insecure_ssl: false,
          timeout_ms: 1000,
          retry_schedule: [5],
        },
        secret: "s".repeat(16),
      });
      await insertDeliveries(db, [
        {
          id: newDeliveryId(),
          integrationId: id,
          activityId: id,
          orderKey: "main",
          event: "e",
          body: `"${id}"`,
        },
      ]);
    };
    await add("leasea", secrets);
    await add("leaseb", secrets);
    await add("leasec", foreign);
    await add("leased", secrets);
    // Another live instance holds d's lease.
    await db.query(
      "UPDATE integrations SET lease_owner = 'other', lease_until = now() + interval '1 minute' WHERE id = 'leased'",
    );

    const take = takeLeasesTogether(db, secrets, { owner: "me", seconds: 30, perLane: 16 });
    const before = db.statements?.() ?? 0;
    const [a, b, c, d] = await Promise.allSettled(["leasea", "leaseb", "leasec", "leased"].map(take));
    expect((db.statements?.() ?? 0) - before).toBe(1);
    const taken = (result: PromiseSettledResult<Awaited<ReturnType<typeof take>>> | undefined) =>
      result?.status === "fulfilled" ? result.value?.deliveries.map((delivery) => delivery.body) : "refused";
    expect(taken(a)).toEqual(['"leasea"']);
    expect(taken(b)).toEqual(['"leaseb"']);
    expect(taken(c)).toBe("refused");
    expect(taken(d)).toBeUndefined();
  });
});
