import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openPostgres } from "../../src/store/open-postgres.ts";
import { createTestDatabase, STORES } from "../helpers/stores.ts";

const postgres = STORES.find((kind) => kind.name === "postgres");

// The apply transaction hands its connection several independent statements at once (the embedded
// store's worker takes them in one message). `pg` would queue them itself, but warns that it will
// stop doing so (pg 9): envhooks queues them, so an operator's log shows no such warning.
describe.skipIf(postgres?.skip)("the PostgreSQL adapter", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeEach(async () => {
    database = await createTestDatabase();
    warnings.length = 0;
    process.on("warning", onWarning);
  });
  afterEach(async () => {
    process.off("warning", onWarning);
    await database.drop();
  });

  it("runs statements given together in one transaction in their order, without pg's warning", async () => {
    const db = await openPostgres(database.url);
    try {
      await db.exec("CREATE TABLE steps (n int PRIMARY KEY, seen bigint)");
      const rows = await db.transaction((tx) =>
        Promise.all(
          [1, 2, 3, 4, 5].map((n) =>
            tx.query<{ n: number; seen: number }>(
              "INSERT INTO steps (n, seen) SELECT $1, count(*) FROM steps RETURNING n, seen",
              [n],
            ),
          ),
        ),
      );
      // Each statement saw those before it: they ran one after the other, in the order given.
      expect(rows.map((result) => result.rows[0])).toEqual(
        [0, 1, 2, 3, 4].map((seen) => ({ n: seen + 1, seen })),
      );

      // A statement that fails rolls the whole transaction back, the statements after it included.
      const failed = db.transaction((tx) =>
        Promise.all([
          tx.query("INSERT INTO steps (n, seen) VALUES (6, 0)"),
          tx.query("INSERT INTO steps (n, seen) VALUES (1, 0)"),
          tx.query("INSERT INTO steps (n, seen) VALUES (7, 0)"),
        ]),
      );
      await expect(failed).rejects.toThrow(/duplicate key value/);
      const { rows: kept } = await db.query<{ n: number }>("SELECT n FROM steps ORDER BY n");
      expect(kept.map((row) => row.n)).toEqual([1, 2, 3, 4, 5]);

      // Every connection has JIT off before its first statement.
      const settings = await Promise.all(
        Array.from({ length: 4 }, () => db.transaction((tx) => tx.query<{ jit: string }>("SHOW jit"))),
      );
      expect(settings.map((result) => result.rows[0]?.jit)).toEqual(["off", "off", "off", "off"]);

      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((warning) => warning.message)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
