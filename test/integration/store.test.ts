import { afterEach, describe, expect, it } from "vitest";
import { recordAttemptsTogether } from "../../src/relay/attempt-recorder.ts";
import { RELAXED_COMMIT } from "../../src/store/database.ts";
import { insertDeliveries } from "../../src/store/deliveries.ts";
import { insertEvent, projectsWithPendingEvents } from "../../src/store/github-events.ts";
import {
  insertIntegration,
  integrationsWithDueDeliveries,
  releaseIntegrationLease,
  takeIntegrationLease,
} from "../../src/store/integrations.ts";
import {
  GITHUB_UPDATES_LEASE,
  INTEGRATION_LEASE,
  releaseAllLeases,
  releaseLease,
  takeLease,
} from "../../src/store/leases.ts";
import { lockProject, moveProject } from "../../src/store/projects.ts";
import { createSecretBox } from "../../src/store/secret-box.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";

const secrets = createSecretBox([Buffer.alloc(32, 1)]);

const WEBHOOK_CONFIG = {
  url: "http://127.0.0.1:1/hook",
  events: ["*"],
  states: ["complete" as const],
  environments: ["*"],
  excluded_environments: [],
  format: "platformsh" as const,
  headers: {},
  insecure_ssl: false,
  timeout_ms: 1000,
  retry_schedule: [5, 5, 5, 5, 5],
};

describe.each(STORES)("store transactions on $name", (kind) => {
  let store: TestStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it.skipIf(kind.skip)(
    "commits, rolls back on a throw, and commits bookkeeping without waiting for the disk",
    async () => {
      store = await kind.open();
      const { db } = store;
      await db.exec("CREATE TABLE notes (text text NOT NULL)");

      await db.transaction((tx) => tx.query("INSERT INTO notes VALUES ('kept')"));
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO notes VALUES ('rolled back')");
          throw new Error("no");
        }),
      ).rejects.toThrow("no");
      const relaxed = await db.query<{ setting: string }>(
        `WITH relaxed AS (${RELAXED_COMMIT}), note AS (INSERT INTO notes VALUES ('bookkeeping'))
         SELECT current_setting('synchronous_commit') AS setting FROM relaxed`,
      );
      const { rows } = await db.query<{ text: string }>("SELECT text FROM notes ORDER BY text");
      expect(rows.map((row) => row.text)).toEqual(["bookkeeping", "kept"]);
      expect(relaxed.rows[0]?.setting).toBe("off");
      // Only that statement's transaction: the next one waits for the disk again.
      const after = await db.query<{ setting: string }>(
        "SELECT current_setting('synchronous_commit') AS setting",
      );
      expect(after.rows[0]?.setting).toBe("on");
    },
  );
  it.skipIf(kind.skip)(
    "the sweep looks only at the oldest pending work: a retry not yet due holds back the rest",
    async () => {
      store = await kind.open();
      const { db } = store;
      await insertIntegration(db, secrets, {
        id: "aaaaaaaaaaaaa",
        projectKey: "acme/shop",
        type: "webhook",
        config: WEBHOOK_CONFIG,
        secret: "s".repeat(16),
      });
      for (const n of [1, 2]) {
        await insertDeliveries(db, [
          {
            id: `msg_${String(n).repeat(26)}`,
            integrationId: "aaaaaaaaaaaaa",
            activityId: `a${n}`,
            event: "e",
            body: "{}",
          },
        ]);
      }
      expect(await integrationsWithDueDeliveries(db)).toEqual(["aaaaaaaaaaaaa"]);
      await db.query("UPDATE deliveries SET next_attempt_at = now() + interval '1 hour' WHERE id = $1", [
        `msg_${"1".repeat(26)}`,
      ]);
      expect(await integrationsWithDueDeliveries(db)).toEqual([]);

      for (const n of [1, 2]) {
        await db.transaction((tx) =>
          insertEvent(tx, {
            deliveryId: `d${n}`,
            name: "push",
            action: null,
            projectKey: "acme/shop",
            payload: "{}",
          }),
        );
      }
      expect(await projectsWithPendingEvents(db)).toEqual(["acme/shop"]);
      await db.query(
        "UPDATE github_events SET next_attempt_at = now() + interval '1 hour' WHERE delivery_id = 'd1'",
      );
      expect(await projectsWithPendingEvents(db)).toEqual([]);
    },
  );

  it.skipIf(kind.skip)(
    "a project's GitHub-updates lease: rows of its own, one holder at a time, and it follows a rename",
    async () => {
      store = await kind.open();
      const { db } = store;
      const lease = GITHUB_UPDATES_LEASE;
      const project = await db.transaction((tx) =>
        lockProject(tx, { fullName: "acme/shop", defaultBranch: "main", installationId: 1, repositoryId: 7 }),
      );
      // Taken without a row, and not by another while held.
      expect(await takeLease(db, lease, "acme/shop", "one", 30)).toBe(true);
      expect(await takeLease(db, lease, "acme/shop", "two", 30)).toBe(false);
      expect(await takeLease(db, lease, "acme/shop", "one", 30, { renew: true })).toBe(true);
      // Renewed (on another connection) while an apply transaction holds the project's row: no
      // wait for it. On the projects row this waited until the transaction's end.
      if (kind.name === "postgres") {
        await db.transaction(async (tx) => {
          await lockProject(tx, {
            fullName: "acme/shop",
            defaultBranch: "main",
            installationId: 1,
            repositoryId: 7,
          });
          const renewal = takeLease(db, lease, "acme/shop", "one", 30, { renew: true });
          const late = new Promise((resolve) => setTimeout(() => resolve("waited"), 3000));
          expect(await Promise.race([renewal, late])).toBe(true);
        });
      }
      // A rename takes the lease along: nobody else takes the new name's updates meanwhile, and the
      // holder's renewal under the old name fails (it stops after what it is sending).
      await db.transaction((tx) => moveProject(tx, project.id, "acme/store"));
      expect(await takeLease(db, lease, "acme/store", "two", 30)).toBe(false);
      expect(await takeLease(db, lease, "acme/shop", "one", 30, { renew: true })).toBe(false);
      expect(await takeLease(db, lease, "acme/store", "one", 30, { renew: true })).toBe(true);
      await releaseLease(db, lease, "acme/store", "one");
      // A renewal racing the release must not take the lease back; anyone may take it now.
      expect(await takeLease(db, lease, "acme/store", "one", 30, { renew: true })).toBe(false);
      expect(await takeLease(db, lease, "acme/store", "two", 30)).toBe(true);
      // The embedded store's start drops every lease (no other process can hold one).
      await releaseAllLeases(db);
      expect(await takeLease(db, lease, "acme/store", "three", 30)).toBe(true);
    },
  );

  it.skipIf(kind.skip)(
    "leases: one holder at a time; a renewal extends only its own; an integration's is taken only when a delivery is due",
    async () => {
      store = await kind.open();
      const { db } = store;
      await insertIntegration(db, secrets, {
        id: "bbbbbbbbbbbbb",
        projectKey: "acme/shop",
        type: "webhook",
        config: WEBHOOK_CONFIG,
        secret: "s".repeat(16),
      });
      const lease = INTEGRATION_LEASE;
      expect(await takeLease(db, lease, "bbbbbbbbbbbbb", "one", 30)).toBe(true);
      expect(await takeLease(db, lease, "bbbbbbbbbbbbb", "two", 30)).toBe(false);
      expect(await takeLease(db, lease, "bbbbbbbbbbbbb", "two", 30, { renew: true })).toBe(false);
      expect(await takeLease(db, lease, "bbbbbbbbbbbbb", "one", 30, { renew: true })).toBe(true);
      await releaseLease(db, lease, "bbbbbbbbbbbbb", "one");
      // A renewal racing the release must not take the lease back.
      expect(await takeLease(db, lease, "bbbbbbbbbbbbb", "one", 30, { renew: true })).toBe(false);

      // Nothing pending: no lease.
      expect(await takeIntegrationLease(db, secrets, "bbbbbbbbbbbbb", "one", 30, 16)).toBeUndefined();
      await insertDeliveries(
        db,
        [1, 2, 3].map((n) => ({
          id: `msg_${String(n).repeat(26)}`,
          integrationId: "bbbbbbbbbbbbb",
          activityId: `a${n}`,
          event: "e",
          body: `{"n":${n}}`,
        })),
      );
      const taken = await takeIntegrationLease(db, secrets, "bbbbbbbbbbbbb", "one", 30, 2);
      expect(taken?.integration.id).toBe("bbbbbbbbbbbbb");
      expect(taken?.deliveries.map((delivery) => delivery.body)).toEqual(['{"n":1}', '{"n":2}']);
      expect(await takeIntegrationLease(db, secrets, "bbbbbbbbbbbbb", "two", 30, 2)).toBeUndefined();
      // Given up with nothing sent: the first is still due.
      expect(await releaseIntegrationLease(db, "bbbbbbbbbbbbb", "one")).toBe(true);
      await db.query("UPDATE deliveries SET next_attempt_at = now() + interval '1 hour' WHERE id = $1", [
        `msg_${"1".repeat(26)}`,
      ]);
      // The oldest waits for its retry and holds back the rest.
      expect(await takeIntegrationLease(db, secrets, "bbbbbbbbbbbbb", "two", 30, 2)).toBeUndefined();
    },
  );

  it.skipIf(kind.skip)(
    "attempts recorded together: one bad record fails alone, the others are kept",
    async () => {
      store = await kind.open();
      const { db } = store;
      for (const id of ["ccccccccccccc", "ddddddddddddd", "eeeeeeeeeeeee"]) {
        await insertIntegration(db, secrets, {
          id,
          projectKey: "acme/shop",
          type: "webhook",
          config: WEBHOOK_CONFIG,
          secret: "s".repeat(16),
        });
      }
      const delivery = {
        id: `msg_${"c".repeat(26)}`,
        integrationId: "ccccccccccccc",
        activityId: "a1",
        event: "e",
        body: "{}",
      };
      const first = { ...delivery, id: `msg_${"e".repeat(26)}`, integrationId: "eeeeeeeeeeeee" };
      await insertDeliveries(db, [delivery, first]);
      const record = recordAttemptsTogether(db);
      const attempt = (id: string, integrationId: string) =>
        record({
          delivery: { id, integrationId, attempts: 0, body: "{}" },
          startedAt: new Date(),
          url: "http://127.0.0.1:1/hook",
          requestHeaders: {},
          result: {
            ok: true,
            statusCode: 200,
            responseHeaders: {},
            responseBody: "ok",
            error: null,
            durationMs: 3,
            retryAfter: undefined,
          },
          rateLimited: false,
          reason: "HTTP 200",
          retryAt: undefined,
        });
      // The first is recorded at once; the next two wait for it and go in one statement, where the
      // third names a delivery that does not exist (deleted meanwhile).
      const [, good, bad] = await Promise.allSettled([
        attempt(first.id, "eeeeeeeeeeeee"),
        attempt(delivery.id, "ccccccccccccc"),
        attempt(`msg_${"d".repeat(26)}`, "ddddddddddddd"),
      ]);
      expect(good).toMatchObject({ status: "fulfilled", value: { state: "delivered" } });
      expect(bad.status).toBe("rejected");
      const { rows } = await db.query<{ state: string; attempts: number }>(
        "SELECT state, attempts FROM deliveries WHERE id = $1",
        [delivery.id],
      );
      expect(rows).toEqual([{ state: "delivered", attempts: 1 }]);
    },
  );
});
