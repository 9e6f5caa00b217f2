import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromPglite, PgBoss } from "pg-boss";
import type { TestProject } from "vitest/node";
import { migrate } from "../../src/store/migrate.ts";
import { openPglite } from "../../src/store/open-pglite.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

/**
 * Creating a PGlite database runs initdb (about 2 s). It is done once per run: a database with
 * envhooks' migrations and pg-boss's schema applied is dumped, and every test starts from a fresh
 * copy of that dump.
 */
export default async function setup(project: TestProject) {
  const folder = mkdtempSync(join(tmpdir(), "envhooks-test-"));
  const db = await openPglite();
  await migrate(db);
  const boss = new PgBoss({
    db: fromPglite(db.pglite),
    backend: "pglite",
    supervise: false,
    schedule: false,
  });
  await boss.start();
  await boss.stop({ graceful: false, close: false });
  const dump = await db.pglite.dumpDataDir("none");
  const file = join(folder, "pglite-template.tar");
  writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  await db.close();
  project.provide("pgliteTemplate", file);
  return () => rmSync(folder, { recursive: true, force: true });
}
