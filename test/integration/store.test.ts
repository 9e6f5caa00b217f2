import { afterEach, describe, expect, it } from "vitest";
import { STORES, type TestStore } from "../helpers/stores.ts";

describe.each(STORES)("store transactions on $name", (kind) => {
  let store: TestStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it.skipIf(kind.skip)(
    "commits, rolls back on a throw, and commits bookkeeping without waiting for the disk",
    async () => {
      store = await kind.open();
      const { db } = store;
      await db.exec("CREATE TABLE notes (text text NOT NULL)");

      await db.transaction((tx) => tx.query("INSERT INTO notes VALUES ('kept')"));
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO notes VALUES ('rolled back')");
          throw new Error("no");
        }),
      ).rejects.toThrow("no");
      const setting = await db.transaction(
        async (tx) => {
          await tx.query("INSERT INTO notes VALUES ('bookkeeping')");
          const { rows } = await tx.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
          return rows[0]?.synchronous_commit;
        },
        { durable: false },
      );
      const { rows } = await db.query<{ text: string }>("SELECT text FROM notes ORDER BY text");
      expect(rows.map((row) => row.text)).toEqual(["bookkeeping", "kept"]);

      if (kind.name === "postgres") {
        expect(setting).toBe("off");
        // Only that transaction: the next one waits for the disk again.
        const after = await db.transaction((tx) =>
          tx.query<{ synchronous_commit: string }>("SHOW synchronous_commit"),
        );
        expect(after.rows[0]?.synchronous_commit).toBe("on");
      }
    },
  );
});
