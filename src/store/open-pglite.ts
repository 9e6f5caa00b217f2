import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Database, Queryable } from "./database.ts";
import { lockDataDir } from "./lock-data-dir.ts";

/**
 * PGlite's default shared_buffers costs hundreds of MB of resident memory. With a tiny pool (128kB)
 * an idle server stays near 225 MB, but every page read goes through the emulated file system and
 * a loaded server falls behind at 30 events/s; 16MB keeps the working set cached for about 30 MB more.
 */
const LOW_MEMORY_SETTINGS = ["shared_buffers = 16MB", "work_mem = 1MB", "maintenance_work_mem = 8MB"];

export interface OpenPgliteOptions {
  /**
   * envhooks' data folder (created when missing): the database lives in `pgdata/` inside it, beside
   * the lock file. Omit for an in-memory database (tests).
   */
  dataDir?: string;
  /** A dump from `dumpDataDir()` to start from (tests clone a migrated template this way). */
  loadDataDir?: Blob;
}

/** Opens the embedded database, holding an exclusive lock on its folder for as long as it is open. */
export async function openPglite(options: OpenPgliteOptions = {}): Promise<Database & { pglite: PGlite }> {
  let release = () => {};
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    release = lockDataDir(options.dataDir);
  }
  try {
    const settings = {
      ...(options.dataDir ? { dataDir: join(options.dataDir, "pgdata") } : {}),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
      postgresqlconf: LOW_MEMORY_SETTINGS,
    };
    if (options.dataDir && !existsSync(join(options.dataDir, "pgdata", "PG_VERSION"))) {
      await createDataDir(join(options.dataDir, "pgdata"));
    }
    const pglite = new PGlite(settings);
    await pglite.waitReady;
    return {
      kind: "pglite",
      pglite,
      ...wrap(pglite),
      // PGlite's transaction() holds its single connection for the whole callback, so nothing else
      // interleaves; a BEGIN sent through query() would not give that guarantee.
      transaction: (work) => pglite.transaction((tx) => work(wrap(tx))),
      async close() {
        try {
          await pglite.close();
        } finally {
          release();
        }
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<Row>(text: string, values?: unknown[]) {
      const result = await target.query<Row>(text, values);
      return { rows: result.rows };
    },
    async exec(text: string) {
      await target.exec(text);
    },
  };
}

/** Creates a new database folder in a child process, whose memory goes with it (see the script). */
async function createDataDir(pgdata: string): Promise<void> {
  const script = new URL("./create-pglite-data-dir.ts", import.meta.url).pathname;
  await promisify(execFile)(process.execPath, [script, pgdata, JSON.stringify(LOW_MEMORY_SETTINGS)]);
}
