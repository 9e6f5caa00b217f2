import { describe, expect, it } from "vitest";
import { maskUrl } from "../../src/relay/delivery-request.ts";
import { presentDelivery } from "../../src/relay/present-integration.ts";
import { maskAttemptUrls } from "../../src/store/attempt-urls.ts";
import type { Database } from "../../src/store/database.ts";
import { getDelivery, listAttempts } from "../../src/store/deliveries.ts";
import { listMigrations, migrate } from "../../src/store/migrate.ts";
import { openPglite } from "../../src/store/open-pglite.ts";
import { openPostgres } from "../../src/store/open-postgres.ts";
import { createTestDatabase, STORES } from "../helpers/stores.ts";

/** URLs as the log kept them before it kept a webhook's origin only, and what they become. */
const LOGGED = [
  // A raw second `@` in the userinfo: the host is after the last one (as WHATWG URL parses it).
  ["https://u:p@ss@hooks.example.com/x?token=t0ken", "https://hooks.example.com/********"],
  ["https://example.com/hooks/T0SECRET/B0PATH?token=q-4711", "https://example.com/********"],
  ["HTTPS://Example.COM:443/path", "https://example.com/********"],
  ["https://example.com/********", "https://example.com/********"],
] as const;
const HIPCHAT = "https://hipchat.example.com/v2/room/ops/notification";

// Issue 22 item 6, review M1 and L3: the log's old URLs are rewritten in the background, as maskUrl has it.
describe.each(STORES)("attempt URLs logged in full before migration 019, on $name", (kind) => {
  it.skipIf(kind.skip)(
    "are rewritten by a batched background step, not the migration, and shown as their origin meanwhile",
    async () => {
      let db: Database;
      let drop = async () => {};
      if (kind.name === "pglite") db = await openPglite();
      else {
        const database = await createTestDatabase();
        db = await openPostgres(database.url);
        drop = database.drop;
      }
      try {
        await migrate(
          db,
          listMigrations().filter((migration) => migration.version < 19),
        );
        await db.query(
          `INSERT INTO integrations (id, project_key, type, config, secret)
           VALUES ('aaaaaaaaaaaaa', 'a/b', 'webhook', '{}', 's'), ('bbbbbbbbbbbbb', 'a/b', 'hipchat', '{}', 's')`,
        );
        await db.query(
          `INSERT INTO deliveries (id, integration_id, activity_id, event, body)
           VALUES ('msg_1', 'aaaaaaaaaaaaa', 'x', 'e', '{}'), ('msg_2', 'bbbbbbbbbbbbb', 'x', 'e', '{}'),
             ('msg_3', 'aaaaaaaaaaaaa', 'x', 'e', '{}')`,
        );
        for (const [n, [url]] of LOGGED.entries()) await attempt(db, "msg_1", n + 1, url);
        await attempt(db, "msg_2", 1, HIPCHAT);
        // Past id 10, so batches must follow ids as numbers ("10" sorts before "9" as text).
        for (let n = 1; n <= 12; n++) await attempt(db, "msg_3", n, `https://example.com/more/T0SECRET${n}`);

        // The migration itself rewrites nothing: it is quick, whatever the size of the log.
        await migrate(db);
        expect(await storedUrls(db)).toEqual([...LOGGED.map(([url]) => url), HIPCHAT]);
        // Meanwhile, nobody sees a URL the rewrite has not reached: writers get the origin too.
        const delivery = await getDelivery(db, "msg_1");
        if (!delivery) throw new Error("no delivery");
        const shown = (attempts: Awaited<ReturnType<typeof listAttempts>>) =>
          presentDelivery(delivery, attempts, "write").attempt_log?.map((a) => a.url);
        expect(shown(await listAttempts(db, "msg_1"))).toEqual(LOGGED.map(([, masked]) => masked));

        // The background step, in batches of two: the same masking as maskUrl, chat channels' left alone.
        expect(await maskAttemptUrls(db, maskUrl, { batchSize: 2, pauseMs: 0 })).toBe(3 + 12);
        expect(await storedUrls(db)).toEqual([...LOGGED.map(([, masked]) => masked), HIPCHAT]);
        const { rows: more } = await db.query(
          "SELECT DISTINCT url FROM delivery_attempts WHERE delivery_id = 'msg_3'",
        );
        expect(more).toEqual([{ url: "https://example.com/********" }]);
        const { rows } = await db.query("SELECT 1 FROM background_jobs WHERE name = 'mask-attempt-urls'");
        expect(rows).toEqual([]);
        expect((await listAttempts(db, "msg_1")).map((a) => a.mayHoldFullUrl)).toEqual([
          false,
          false,
          false,
          false,
        ]);
        // Done: a later run finds nothing to do.
        expect(await maskAttemptUrls(db, maskUrl)).toBe(0);
      } finally {
        await db.close();
        await drop();
      }
    },
  );
});

async function attempt(db: Database, deliveryId: string, n: number, url: string) {
  await db.query(
    `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, url, request_headers, succeeded)
     VALUES ($1, $2, now(), 5, $3, '{}', true)`,
    [deliveryId, n, url],
  );
}

async function storedUrls(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ url: string }>(
    "SELECT url FROM delivery_attempts WHERE delivery_id IN ('msg_1', 'msg_2') ORDER BY id",
  );
  return rows.map((row) => row.url);
}
