import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Database, Queryable } from "./database.ts";
import { type LockOptions, lockDataDir } from "./lock-data-dir.ts";

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
  /** How the data folder's lock judges a holder, and where it logs (see lockDataDir). */
  lock?: LockOptions;
}

/** Opens the embedded database, holding an exclusive lock on its folder for as long as it is open. */
export async function openPglite(options: OpenPgliteOptions = {}): Promise<Database & { pglite: PGlite }> {
  let release = () => {};
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    release = await lockDataDir(options.dataDir, options.lock);
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
    const gate = createGate();
    const direct = wrap(pglite);
    return {
      kind: "pglite",
      pglite,
      query: (text, values) => gate(() => direct.query(text, values)),
      exec: (text) => gate(() => direct.exec(text)),
      // PGlite's transaction() holds its single connection for the whole callback, so nothing else
      // interleaves; a BEGIN sent through query() would not give that guarantee.
      transaction: (work) => gate(() => pglite.transaction((tx) => work(wrap(tx)))),
      urgent: {
        query: (text, values) => gate(() => direct.query(text, values), { urgent: true }),
        exec: (text) => gate(() => direct.exec(text), { urgent: true }),
      },
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

/**
 * PGlite runs one operation at a time, in the order they come. What envhooks sends it goes through
 * this gate instead, one operation (a statement, or a whole transaction) at a time, urgent ones
 * before the rest, with the event loop's turn between two: under load, incoming requests are read
 * and storing a delivery no longer waits behind every drain's statements. (pg-boss, on the same
 * PGlite, is not gated: its few statements queue in PGlite.)
 */
function createGate() {
  const urgent: Array<() => void> = [];
  const waiting: Array<() => void> = [];
  let busy = false;
  function next() {
    const start = urgent.shift() ?? waiting.shift();
    if (start) start();
    else busy = false;
  }
  return <T>(work: () => Promise<T>, options: { urgent?: boolean } = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const start = () => {
        // The next one starts after the event loop has had its turn: PGlite's work is synchronous
        // WebAssembly, and chained directly, queued operations would keep incoming requests unread.
        work()
          .then(resolve, reject)
          .finally(() => setImmediate(next));
      };
      if (!busy) {
        busy = true;
        start();
      } else (options.urgent ? urgent : waiting).push(start);
    });
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
