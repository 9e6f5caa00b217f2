import { readdirSync, readFileSync } from "node:fs";
import type { Database } from "./database.ts";

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);
// Any fixed number: serialises instances that start together on one PostgreSQL.
const MIGRATION_LOCK = 4_206_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The numbered `NNN_name.sql` files, in order. Forward only: a migration is never edited once shipped. */
export function listMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((file) => /^\d{3}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: readFileSync(new URL(file, MIGRATIONS_DIR), "utf8"),
    }));
}

/** Applies every migration not yet applied, all in one transaction; returns the versions applied. */
export async function migrate(db: Database, migrations = listMigrations()): Promise<number[]> {
  return db.transaction(async (tx) => {
    // Taken first, so that instances starting together do not race to create the table either.
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number }>("SELECT version FROM schema_migrations");
    const applied = new Set(rows.map((row) => row.version));
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      done.push(migration.version);
    }
    return done;
  });
}
