import { fromPglite, PgBoss } from "pg-boss";
import type { Logger } from "pino";
import type { EmbeddedPglite } from "../store/open-pglite.ts";

/** Where pg-boss keeps its jobs: the same database as everything else. */
export type QueueTarget = { kind: "pglite"; pglite: EmbeddedPglite } | { kind: "postgres"; url: string };

/**
 * Starts pg-boss on the embedded database (its statements and LISTEN go to PGlite's worker thread,
 * in the same queue as envhooks' own, not urgent) or on PostgreSQL. It schedules work and retries with
 * backoff; what must not be lost (the inbox, activities) lives in envhooks' own tables.
 */
export async function openQueue(target: QueueTarget, log: Logger): Promise<PgBoss> {
  const boss =
    target.kind === "pglite"
      ? new PgBoss({ db: fromPglite(target.pglite), backend: "pglite", useListenNotify: true })
      : new PgBoss({
          connectionString: target.url,
          max: 4,
          application_name: "envhooks-queue",
          useListenNotify: true,
        });
  boss.on("error", (error) => log.error({ err: error }, "job queue error"));
  boss.on("warning", (warning) => log.warn({ warning }, "job queue warning"));
  await boss.start();
  return boss;
}
