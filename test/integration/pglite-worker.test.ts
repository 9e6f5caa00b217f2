import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { isPermanentFailure } from "../../src/intake/drain-project.ts";
import type { Database } from "../../src/store/database.ts";
import { type EmbeddedPglite, openPglite } from "../../src/store/open-pglite.ts";
import { startPgliteWorker } from "../../src/store/pglite-worker-client.ts";
import { openTestPglite, type TestStore } from "../helpers/stores.ts";

const HUNG_WORKER_PROCESS = fileURLToPath(
  new URL("../helpers/hung-pglite-worker-process.ts", import.meta.url),
);

// The embedded database runs PGlite in a worker thread; these are the promises its protocol keeps.
describe("the embedded database in its worker thread", { timeout: 120_000 }, () => {
  let store: TestStore | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
    server?.close();
    server = undefined;
  });

  async function open(): Promise<Database> {
    store = await openTestPglite();
    await store.db.exec("CREATE TABLE notes (n serial PRIMARY KEY, text text NOT NULL UNIQUE)");
    return store.db;
  }
  /** What pg-boss and the test template use of the open store. */
  function embedded(): EmbeddedPglite {
    if (store?.queue.kind !== "pglite") throw new Error("no embedded store open");
    return store.queue.pglite;
  }

  it("runs a transaction's statements with nothing interleaved; urgent work waiting goes first after it", async () => {
    const db = await open();
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => {
      inside = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transaction = db.transaction(async (tx) => {
      await tx.query("INSERT INTO notes (text) VALUES ('tx 1')");
      inside();
      await released;
      // Sent while the others wait: they have not run, inside or outside the transaction.
      const seen = await tx.query<{ text: string }>("SELECT text FROM notes ORDER BY n");
      await tx.query("INSERT INTO notes (text) VALUES ('tx 2')");
      return seen.rows.map((row) => row.text);
    });
    await entered;
    const outside = db.query("INSERT INTO notes (text) VALUES ('queued') RETURNING n");
    const urgent = db.urgent.query("INSERT INTO notes (text) VALUES ('urgent') RETURNING n");
    // Let both requests reach the worker before the transaction goes on.
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    expect(await transaction).toEqual(["tx 1"]);
    await Promise.all([outside, urgent]);
    const { rows } = await db.query<{ text: string }>("SELECT text FROM notes ORDER BY n");
    expect(rows.map((row) => row.text)).toEqual(["tx 1", "tx 2", "urgent", "queued"]);
  });

  it("statements made together travel in one message, and a transaction's begin goes with its first statement", async () => {
    const db = await open();
    const count = () => embedded().messages();
    const since = (before: { sent: number; received: number }) => {
      const now = count();
      return { sent: now.sent - before.sent, received: now.received - before.received };
    };
    const N = 10;
    const texts = (prefix: string) => Array.from({ length: N }, (_, n) => `${prefix} ${n}`);

    // Ten statements of a transaction sent together: the begin and them in one message, the commit
    // in another; their answers likewise (one request each way used to be 12 messages).
    let before = count();
    await db.transaction((tx) =>
      Promise.all(texts("together").map((text) => tx.query("INSERT INTO notes (text) VALUES ($1)", [text]))),
    );
    const together = since(before);
    expect(together.sent).toBeLessThan(N);
    expect(together.sent).toBeLessThanOrEqual(2);
    expect(together.received).toBeLessThanOrEqual(2);

    // One after another, each waiting for the last: the begin still rides with the first.
    before = count();
    await db.transaction(async (tx) => {
      for (const text of texts("in turn")) await tx.query("INSERT INTO notes (text) VALUES ($1)", [text]);
    });
    expect(since(before).sent).toBeLessThanOrEqual(N + 1);

    // Outside a transaction, queries made in one turn share a message too.
    before = count();
    await Promise.all(texts("apart").map((text) => db.query("INSERT INTO notes (text) VALUES ($1)", [text])));
    expect(since(before).sent).toBe(1);

    // A transaction begun while another holds the database: its statements, sent with its begin,
    // wait and run inside it once it opens, after the first one's.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = db.transaction(async (tx) => {
      await tx.query("INSERT INTO notes (text) VALUES ('held 1')");
      await released;
      await tx.query("INSERT INTO notes (text) VALUES ('held 2')");
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = db.transaction((tx) =>
      Promise.all(
        texts("after").map((text) => tx.query("INSERT INTO notes (text) VALUES ($1) RETURNING n", [text])),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await Promise.all([first, second]);
    const { rows } = await db.query<{ text: string }>("SELECT text FROM notes ORDER BY n");
    expect(rows.map((row) => row.text)).toEqual([
      ...texts("together"),
      ...texts("in turn"),
      ...texts("apart"),
      "held 1",
      "held 2",
      ...texts("after"),
    ]);
    // A failing statement among those sent together fails the transaction, and nothing is kept.
    await expect(
      db.transaction((tx) =>
        Promise.all([
          tx.query("INSERT INTO notes (text) VALUES ('x')"),
          tx.query("INSERT INTO notes (text) VALUES ('x')"),
        ]),
      ),
    ).rejects.toMatchObject({ code: "23505" });
    expect((await db.query("SELECT count(*)::int AS n FROM notes WHERE text = 'x'")).rows).toEqual([
      { n: 0 },
    ]);
  });

  it("a long transaction leaves the event loop turns to read requests and fire timers", async () => {
    const db = await open();
    let turns = 0;
    let finished = false;
    const transaction = db.transaction(async (tx) => {
      // Registered once the transaction runs: each counts only if the loop turns before it ends.
      const tick = () => {
        if (finished) return;
        turns++;
        setImmediate(tick);
      };
      setImmediate(tick);
      for (let n = 0; n < 500; n++) await tx.query("INSERT INTO notes (text) VALUES ($1)", [`row ${n}`]);
    });
    await transaction;
    finished = true;
    // Five hundred statements take far longer than one turn's budget for waiting in turn.
    expect(turns).toBeGreaterThan(0);
    const { rows } = await db.query<{ count: number }>("SELECT count(*)::int AS count FROM notes");
    expect(rows[0]?.count).toBe(500);
  });

  it("during a long run of urgent work, waiting work still gets its turn", async () => {
    const db = await open();
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => {
      inside = resolve;
    });
    // Holds the database while twenty urgent inserts and one ordinary one queue behind it.
    const holding = db.transaction(async (tx) => {
      inside();
      await released;
      await tx.query("SELECT 1");
    });
    await entered;
    const urgent = Array.from({ length: 20 }, (_, n) =>
      db.urgent.query(`INSERT INTO notes (text) VALUES ('urgent ${n}')`),
    );
    const waiting = db.query("INSERT INTO notes (text) VALUES ('waiting')");
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await Promise.all([holding, waiting, ...urgent]);
    const { rows } = await db.query<{ text: string }>("SELECT text FROM notes ORDER BY n");
    const position = rows.findIndex((row) => row.text === "waiting");
    // Urgent first, but not all twenty before it: a burst of deliveries does not stop their work.
    expect(position).toBeGreaterThan(0);
    expect(position).toBeLessThan(20);
  });

  it("rolls back when the work throws, and the statements it sent are gone", async () => {
    const db = await open();
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO notes (text) VALUES ('lost')");
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    // A failed statement inside: the transaction's error keeps its code; nothing is kept.
    const failed = await db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO notes (text) VALUES ('first')");
        await tx.query("INSERT INTO notes (text) VALUES ('first')");
      })
      .catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: "23505", constraint: "notes_text_key" });
    expect((failed as Error).message).toMatch(
      /duplicate key value violates unique constraint "notes_text_key"/,
    );
    expect((await db.query("SELECT * FROM notes")).rows).toEqual([]);
    // The one connection is usable again.
    await db.transaction((tx) => tx.query("INSERT INTO notes (text) VALUES ('kept')"));
    expect((await db.query("SELECT text FROM notes")).rows).toEqual([{ text: "kept" }]);
  });

  it("rows arrive with the types PGlite parses them to; errors keep PostgreSQL's code and message", async () => {
    const db = await open();
    const { rows } = await db.query<Record<string, unknown>>(
      `SELECT $1::timestamptz AS at, 42::int AS n, 1.5::float8 AS f, 9007199254740993::int8 AS big,
              '{"a":[1,{"b":null}]}'::jsonb AS doc, '\\x0102'::bytea AS bytes, NULL::text AS nothing,
              ARRAY['x','y'] AS list, true AS yes`,
      [new Date("2026-01-02T03:04:05.678Z")],
    );
    const row = rows[0] ?? {};
    expect(row.at).toBeInstanceOf(Date);
    expect((row.at as Date).toISOString()).toBe("2026-01-02T03:04:05.678Z");
    expect(row).toMatchObject({
      n: 42,
      f: 1.5,
      doc: { a: [1, { b: null }] },
      nothing: null,
      list: ["x", "y"],
      yes: true,
    });
    expect(row.big).toBe(9007199254740993n);
    expect(row.bytes).toEqual(new Uint8Array([1, 2]));

    // jsonb values passed as parameters, and a Date back through a table.
    await db.exec("CREATE TABLE docs (at timestamptz, body jsonb)");
    await db.query("INSERT INTO docs VALUES ($1, $2)", [new Date(0), { nested: { list: [1, 2] } }]);
    expect((await db.query("SELECT * FROM docs")).rows).toEqual([
      { at: new Date(0), body: { nested: { list: [1, 2] } } },
    ]);

    const invalid = await db.query("SELECT 'abc'::int").catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(Error);
    expect(invalid).toMatchObject({ code: "22P02", message: 'invalid input syntax for type integer: "abc"' });
    // Class 22 is what the drain sets aside as permanent.
    expect(isPermanentFailure(invalid)).toBe(true);
    const urgent = await db.urgent.query("SELECT 1/0").catch((error: unknown) => error);
    expect(urgent).toMatchObject({ code: "22012", message: "division by zero" });
    // A value structured clone cannot copy fails clearly, and the database goes on.
    await expect(db.query("SELECT $1::text", [() => 1])).rejects.toThrow(/cannot be sent to the database/);
    expect((await db.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });

  it("answers HTTP requests while a long statement runs", async () => {
    const db = await open();
    server = createServer((_request, response) => response.writeHead(202).end());
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    let finished = false;
    const long = db
      .query("SELECT count(*) AS n FROM generate_series(1, 3000000) a CROSS JOIN generate_series(1, 2) b")
      .then((result) => {
        finished = true;
        return result;
      });
    // On the main thread, PGlite's WebAssembly kept these waiting until the statement was done.
    const answeredDuring: boolean[] = [];
    for (let n = 0; n < 3; n++) {
      const response = await fetch(url, { method: "POST" });
      expect(response.status).toBe(202);
      answeredDuring.push(!finished);
    }
    expect((await long).rows).toEqual([{ n: 6000000 }]);
    expect(answeredDuring).toEqual([true, true, true]);
  });

  it("a dump loads into a new database with what was committed", async () => {
    const db = await open();
    await db.query("INSERT INTO notes (text) VALUES ('dumped')");
    const dump = await embedded().dumpDataDir("none");
    const copy = await openPglite({ loadDataDir: dump });
    try {
      expect((await copy.query("SELECT text FROM notes")).rows).toEqual([{ text: "dumped" }]);
    } finally {
      await copy.close();
    }
  });

  it("pg-boss's LISTEN hears a NOTIFY sent by another statement", async () => {
    const db = await open();
    const heard: string[] = [];
    const stop = await embedded().listen("news", (payload) => heard.push(payload));
    await db.query("SELECT pg_notify('news', 'one')");
    await db.transaction((tx) => tx.query("SELECT pg_notify('news', 'two')"));
    await expect.poll(() => heard).toEqual(["one", "two"]);
    await stop();
    await db.query("SELECT pg_notify('news', 'three')");
    await db.query("SELECT 1");
    expect(heard).toEqual(["one", "two"]);
  });

  it("after close(), the thread ends by itself (exit code 0): it is not terminated", async () => {
    // A thread terminated while V8 tears down its WebAssembly once crashed a whole test process
    // (`Check failed: jit_page_->allocations_.erase(addr) == 1` in UnregisterWasmAllocation).
    const direct = exitCodeOfNextThread();
    const worker = await startPgliteWorker({ postgresqlconf: [] });
    await worker.call({ op: "query", text: "SELECT 1" });
    await worker.close();
    expect(await direct).toBe(0);
    // The tests' stores close the same way.
    const helpers = exitCodeOfNextThread();
    await open();
    await store?.close();
    store = undefined;
    expect(await helpers).toBe(0);
  });

  it("a thread that does not end after close() is terminated once the close timeout has passed", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [HUNG_WORKER_PROCESS], {
      timeout: 100_000,
    });
    expect(JSON.parse(stdout)).toEqual({
      // terminate() ends a thread with exit code 1.
      exitCode: 1,
      stuck: "the embedded database is closed",
      later: "the embedded database is closed",
    });
  });

  it("a crashed worker fails the pending calls and every later one with a clear error", async () => {
    // A JavaScript heap too small for the rows asked for: the thread dies as it builds them.
    const worker = await startPgliteWorker(
      { postgresqlconf: [] },
      { resourceLimits: { maxOldGenerationSizeMb: 32 } },
    );
    const crash = /the embedded database's worker thread stopped \(exit code 1\): .*memory.*restart envhooks/;
    await expect(
      worker.call({
        op: "query",
        text: "SELECT repeat('x', 100) || n AS s FROM generate_series(1, 3000000) n",
      }),
    ).rejects.toThrow(crash);
    await expect(worker.call({ op: "query", text: "SELECT 1" })).rejects.toThrow(crash);
    await worker.close();
  });
});

/** The exit code of the next worker thread this process starts. */
function exitCodeOfNextThread(): Promise<number> {
  return new Promise((resolve) => {
    process.once("worker", (thread: Worker) => thread.once("exit", resolve));
  });
}
