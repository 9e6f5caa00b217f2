import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import type { Database, Queryable, QueryResult } from "./database.ts";
import { type LockOptions, lockDataDir } from "./lock-data-dir.ts";
import { startPgliteWorker } from "./pglite-worker-client.ts";
import type { Lane } from "./pglite-worker-protocol.ts";
import { secureDataDir, tightenDataDir } from "./secure-data-dir.ts";

/**
 * PGlite's default shared_buffers costs hundreds of MB of resident memory. With a tiny pool (128kB)
 * an idle server stays near 225 MB, but every page read goes through the emulated file system and
 * a loaded server falls behind at 30 events/s; 16MB keeps the working set cached for about 30 MB more.
 */
const LOW_MEMORY_SETTINGS = ["shared_buffers = 16MB", "work_mem = 1MB", "maintenance_work_mem = 8MB"];

/**
 * PGlite's WebAssembly memory to begin with: 128 MB, the least this PGlite build accepts (its module
 * declares 2,048 pages; less fails to start), which is also its default. It grows when PostgreSQL
 * needs more, up to 2 GB, and never shrinks. Only pages touched are resident: ~35 MB for an idle
 * envhooks (shared_buffers, catalog caches), a few MB more after a burst (README, Performance).
 */
const INITIAL_MEMORY = 128 * 1024 * 1024;

/**
 * V8 compiles PGlite's 9 MB WebAssembly module (and tiers its hot functions up) on as many
 * background threads as there are cores; each thread's compile memory lands in a glibc malloc arena
 * of its own, which glibc keeps once freed: ~125 MB of arenas after a burst. One compile task keeps
 * them at ~75 MB, and a burst measured no slower. Process-wide (V8 flags are): set once, before the
 * first PGlite thread compiles; the flag is read when a module is compiled.
 */
const WASM_COMPILE_FLAGS = "--wasm-num-compilation-tasks=1";
let wasmFlagsSet = false;

/**
 * The PGlite thread's young generation: V8's default lets it grow to ~48 MB per thread, and the
 * thread's garbage (each statement's parsed rows, cloned on to the main thread) filled it under
 * load: an idle store at ~30 MB of JavaScript heap held ~150 MB after a burst, kept after the
 * burst ended. 8 MB costs more, shorter scavenges; a burst measured no slower (README, Performance).
 */
const WORKER_YOUNG_GENERATION_MB = 8;

export interface OpenPgliteOptions {
  /**
   * envhooks' data folder (created 0700 when missing, refused when other users can open it): the
   * database lives in `pgdata/` inside it, beside the lock file. Omit for an in-memory database (tests).
   */
  dataDir?: string;
  /** A dump from `dumpDataDir()` to start from (tests clone a migrated template this way). */
  loadDataDir?: Blob;
  /** How the data folder's lock judges a holder, and where it logs (see lockDataDir). */
  lock?: LockOptions;
}

/**
 * What pg-boss (through its `fromPglite` adapter) and the tests' template dump use of the embedded
 * database, served by the same worker thread as everything else.
 */
export interface EmbeddedPglite {
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: Row[] }>;
  /** One result per statement. */
  exec(text: string): Promise<Array<{ rows: unknown[] }>>;
  /** NOTIFY on `channel` calls `callback`; the promise's function stops listening. */
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
  /** The whole database folder as a tarball (`loadDataDir` starts from it). */
  dumpDataDir(compression?: "none" | "gzip" | "auto"): Promise<Blob>;
  /** Messages posted to the worker thread and received from it so far (each may carry several requests). */
  messages(): { sent: number; received: number };
}

/**
 * Opens the embedded database, holding an exclusive lock on its folder for as long as it is open.
 * PGlite runs in a worker thread (pglite-worker.ts): its statements are synchronous WebAssembly,
 * and on the main thread they kept incoming webhooks waiting.
 */
export async function openPglite(
  options: OpenPgliteOptions = {},
): Promise<Database & { pglite: EmbeddedPglite }> {
  const dataDir = options.dataDir;
  let release = () => {};
  if (dataDir) {
    secureDataDir(dataDir);
    release = await lockDataDir(dataDir, options.lock);
  }
  try {
    const pgdata = dataDir ? join(dataDir, "pgdata") : undefined;
    if (pgdata && !existsSync(join(pgdata, "PG_VERSION"))) await createDataDir(pgdata);
    if (dataDir) tightenDataDir(dataDir);
    if (!wasmFlagsSet) {
      setFlagsFromString(WASM_COMPILE_FLAGS);
      wasmFlagsSet = true;
    }
    const worker = await startPgliteWorker(
      {
        ...(pgdata ? { dataDir: pgdata } : {}),
        ...(options.loadDataDir ? { loadDataDir: await options.loadDataDir.arrayBuffer() } : {}),
        postgresqlconf: LOW_MEMORY_SETTINGS,
        initialMemory: INITIAL_MEMORY,
      },
      { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } },
    );
    let statements = 0;
    const lane = (lane: Lane): Queryable => ({
      async query<Row>(text: string, values?: unknown[]) {
        statements++;
        return worker.call<QueryResult<Row>>({ op: "query", text, ...(values ? { values } : {}) }, lane);
      },
      async exec(text: string) {
        statements++;
        await worker.call({ op: "exec", text }, lane);
      },
    });
    const listeners = new Map<string, Set<(payload: string) => void>>();
    worker.onNotification((channel, payload) => {
      for (const callback of listeners.get(channel) ?? []) callback(payload);
    });
    const pglite: EmbeddedPglite = {
      query: (text, values) => worker.call({ op: "query", text, ...(values ? { values } : {}) }),
      exec: (text) => worker.call({ op: "exec", text }),
      async listen(channel, callback) {
        const callbacks = listeners.get(channel) ?? new Set();
        listeners.set(channel, callbacks.add(callback));
        await worker.call({ op: "listen", channel });
        return async () => {
          callbacks.delete(callback);
          if (callbacks.size === 0) {
            listeners.delete(channel);
            await worker.call({ op: "unlisten", channel });
          }
        };
      },
      async dumpDataDir(compression = "auto") {
        return new Blob([await worker.call<ArrayBuffer>({ op: "dump", compression })]);
      },
      messages: () => worker.messages(),
    };
    return {
      kind: "pglite",
      pglite,
      ...lane({}),
      urgent: lane({ urgent: true }),
      statements: () => statements,
      async transaction(work) {
        statements += 2;
        // The worker holds PGlite's transaction (its one connection) open and runs only this
        // transaction's statements until it ends; a BEGIN sent through query() would not. The
        // begin is not waited for: it goes to the worker with the first statement.
        const { tx, opened } = worker.begin();
        let result: Awaited<ReturnType<typeof work>>;
        try {
          result = await work(lane({ tx }));
        } catch (error) {
          await worker.call({ op: "rollback" }, { tx }).catch(() => {});
          // A transaction that could not begin fails with why, not with its statements' echo of it.
          await opened;
          throw error;
        }
        await opened;
        await worker.call({ op: "commit" }, { tx });
        return result;
      },
      async close() {
        try {
          await worker.close();
          // What PGlite wrote while open with modes of its own (see tightenDataDir).
          if (dataDir) tightenDataDir(dataDir);
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

/** Creates a new database folder in a child process, whose memory goes with it (see the script). */
async function createDataDir(pgdata: string): Promise<void> {
  const script = new URL("./create-pglite-data-dir.ts", import.meta.url).pathname;
  await promisify(execFile)(process.execPath, [script, pgdata, JSON.stringify(LOW_MEMORY_SETTINGS)]);
}
