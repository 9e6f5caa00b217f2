import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { inject } from "vitest";
import type { QueueTarget } from "../../src/queue/open-queue.ts";
import type { Database } from "../../src/store/database.ts";
import { migrate } from "../../src/store/migrate.ts";
import { openPglite } from "../../src/store/open-pglite.ts";
import { openPostgres } from "../../src/store/open-postgres.ts";

export interface TestStore {
  db: Database;
  queue: QueueTarget;
  /** Closes the database (and drops it, on PostgreSQL). */
  close(): Promise<void>;
}

export interface StoreKind {
  name: "pglite" | "postgres";
  /** Why this kind's tests are skipped, or undefined when they run. */
  skip: string | undefined;
  open(): Promise<TestStore>;
}

const postgresUrl = process.env.TEST_DATABASE_URL;
const inCi = process.env.CI === "true";

let template: Blob | undefined;

/** A fresh embedded database, copied from the migrated template. */
export async function openTestPglite(): Promise<TestStore> {
  template ??= new Blob([readFileSync(inject("pgliteTemplate"))]);
  const db = await openPglite({ loadDataDir: template });
  return { db, queue: { kind: "pglite", pglite: db.pglite }, close: () => db.close() };
}

/** An empty PostgreSQL database of its own on the TEST_DATABASE_URL server; `drop` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!postgresUrl) throw new Error("TEST_DATABASE_URL is not set: the PostgreSQL tests need a server");
  const name = `envhooks_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** A fresh, migrated PostgreSQL database of its own, dropped on close. */
export async function openTestPostgres(): Promise<TestStore> {
  const database = await createTestDatabase();
  const db = await openPostgres(database.url);
  await migrate(db);
  return {
    db,
    queue: { kind: "postgres", url: database.url },
    async close() {
      await db.close();
      await database.drop();
    },
  };
}

function postgresSkipReason(): string | undefined {
  if (postgresUrl) return undefined;
  // In CI a missing database is a failure, not a skip: the tests run and fail to connect.
  if (inCi) return undefined;
  return "TEST_DATABASE_URL is not set: PostgreSQL tests skipped (.ci/run sets it)";
}

/** Both stores; a suite runs once per kind with `describe.each(STORES)` or `for (const kind of STORES)`. */
export const STORES: StoreKind[] = [
  { name: "pglite", skip: undefined, open: openTestPglite },
  { name: "postgres", skip: postgresSkipReason(), open: openTestPostgres },
];

for (const kind of STORES) {
  if (kind.skip) console.warn(`[envhooks tests] ${kind.skip}`);
}
