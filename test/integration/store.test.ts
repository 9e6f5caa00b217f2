import { afterEach, describe, expect, it } from "vitest";
import { RELAXED_COMMIT } from "../../src/store/database.ts";
import { insertDeliveries } from "../../src/store/deliveries.ts";
import { insertEvent, projectsWithPendingEvents } from "../../src/store/github-events.ts";
import { insertIntegration, integrationsWithDueDeliveries } from "../../src/store/integrations.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";

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
      const config = {
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
      await insertIntegration(db, {
        id: "aaaaaaaaaaaaa",
        projectKey: "acme/shop",
        type: "webhook",
        config,
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
});
