import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { openQueue } from "../../src/queue/open-queue.ts";
import { listMigrations, migrate } from "../../src/store/migrate.ts";
import { openPostgres } from "../../src/store/open-postgres.ts";
import { createTestDatabase, STORES } from "../helpers/stores.ts";

const postgres = STORES.find((kind) => kind.name === "postgres");

// Pods of a Deployment (or Compose's web and workers) start together on one empty database: each
// runs the migrations at start (src/envhooks.ts), and the Helm chart counts on that being safe.
describe("instances starting together on one PostgreSQL", () => {
  it.skipIf(postgres?.skip)(
    "apply each migration once, under the advisory lock, and all start their queue",
    { timeout: 60_000 },
    async () => {
      const database = await createTestDatabase();
      const instances = await Promise.all([
        openPostgres(database.url),
        openPostgres(database.url),
        openPostgres(database.url),
      ]);
      const log = pino({ level: "silent" });
      try {
        const applied = await Promise.all(instances.map((db) => migrate(db)));
        const all = listMigrations().map((m) => m.version);
        // One instance applied everything; the others, waiting on the lock, found nothing left to do.
        expect(applied.map((versions) => versions.length).sort((a, b) => a - b)).toEqual([0, 0, all.length]);
        const [first] = instances;
        const { rows } = await first.query<{ version: number }>(
          "SELECT version FROM schema_migrations ORDER BY version",
        );
        expect(rows.map((row) => row.version)).toEqual(all);
        // pg-boss creates its own schema at start, guarded the same way.
        const queues = await Promise.all(
          instances.map(() => openQueue({ kind: "postgres", url: database.url }, log)),
        );
        await Promise.all(queues.map((boss) => boss.stop({ graceful: false, close: true })));
      } finally {
        await Promise.all(instances.map((db) => db.close()));
        await database.drop();
      }
    },
  );
});
