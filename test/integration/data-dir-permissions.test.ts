import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/store/migrate.ts";
import { openPglite } from "../../src/store/open-pglite.ts";
import { readSecretKeyFile } from "../../src/store/secret-key-file.ts";

/** The data folder and everything in it, each with its permission bits. */
function modes(dataDir: string): Array<{ path: string; type: "dir" | "file"; mode: number }> {
  const entries = readdirSync(dataDir, { recursive: true, withFileTypes: true });
  return [dataDir, ...entries.map((entry) => join(entry.parentPath, entry.name))].map((path) => {
    const stat = lstatSync(path);
    return { path, type: stat.isDirectory() ? "dir" : "file", mode: stat.mode & 0o777 };
  });
}

/** Entries other users could open: folders not 0700, files not 0600. */
function loose(dataDir: string) {
  return modes(dataDir)
    .filter(({ type, mode }) => mode !== (type === "dir" ? 0o700 : 0o600))
    .map(({ path, mode }) => `${mode.toString(8)} ${path}`);
}

/** What an older envhooks left: folders 0755, files 0666 (PGlite's own modes). */
function loosen(dataDir: string) {
  for (const { path, type } of modes(dataDir)) chmodSync(path, type === "dir" ? 0o755 : 0o666);
}

describe("the embedded store's data folder is its owner's only", { timeout: 120_000 }, () => {
  let folder: string | undefined;
  afterEach(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
    folder = undefined;
  });

  it("a new data folder is 0700, and after real writes every folder in it is 0700 and every file 0600", async () => {
    folder = mkdtempSync(join(tmpdir(), "envhooks-modes-"));
    const dataDir = join(folder, "data");
    const db = await openPglite({ dataDir });
    try {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      await migrate(db);
      await db.exec(
        "CREATE TABLE notes (n int, text text); INSERT INTO notes SELECT n, repeat('x', 500) FROM generate_series(1, 20000) n; CHECKPOINT",
      );
      await readSecretKeyFile(dataDir, { create: true });
    } finally {
      await db.close();
    }
    // The database's folders and files, the secret key: hundreds of entries, none loose.
    expect(modes(dataDir).length).toBeGreaterThan(500);
    expect(loose(dataDir)).toEqual([]);
  });

  it.each([0o755, 0o750, 0o701])(
    "a data folder of mode %o is refused, naming it and the chmod to run; nothing is written in it",
    async (mode) => {
      folder = mkdtempSync(join(tmpdir(), "envhooks-modes-"));
      const dataDir = join(folder, "data");
      mkdirSync(dataDir);
      chmodSync(dataDir, mode);
      const refused = await openPglite({ dataDir }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toBe(
        `The data folder ${resolve(dataDir)} can be opened by other users (mode ${mode.toString(8)}), and it ` +
          "holds the database and its secret key. Make it yours only, as PostgreSQL requires of its data " +
          `folder: \`chmod -R go-rwx ${resolve(dataDir)}\`, then start envhooks again.`,
      );
      expect(readdirSync(dataDir)).toEqual([]);
      expect(statSync(dataDir).mode & 0o777).toBe(mode);
    },
  );

  it("an older version's data folder (0755, files 0666) is refused; after the chmod it names, it opens with its data", async () => {
    folder = mkdtempSync(join(tmpdir(), "envhooks-modes-"));
    const dataDir = join(folder, "data");
    const before = await openPglite({ dataDir });
    await before.exec("CREATE TABLE notes (text text); INSERT INTO notes VALUES ('kept')");
    await before.close();
    loosen(dataDir);

    const refused = await openPglite({ dataDir }).catch((error: unknown) => error);
    const command = /`(chmod [^`]+)`/.exec((refused as Error).message)?.[1];
    expect(command).toBe(`chmod -R go-rwx ${resolve(dataDir)}`);
    // Refused before anything was opened: the older files are as they were.
    expect(loose(dataDir).length).toBeGreaterThan(500);

    const [program = "", ...args] = (command ?? "").split(" ");
    execFileSync(program, args);
    const after = await openPglite({ dataDir });
    try {
      expect((await after.query("SELECT text FROM notes")).rows).toEqual([{ text: "kept" }]);
    } finally {
      await after.close();
    }
    expect(loose(dataDir)).toEqual([]);
  });

  it("a data folder made private with chmod 700 alone gets its older files tightened when it opens", async () => {
    folder = mkdtempSync(join(tmpdir(), "envhooks-modes-"));
    const dataDir = join(folder, "data");
    await (await openPglite({ dataDir })).close();
    loosen(dataDir);
    chmodSync(dataDir, 0o700);
    const db = await openPglite({ dataDir });
    // Tightened at start, not only when it closes.
    expect(loose(dataDir).filter((entry) => !entry.endsWith("pg_internal.init"))).toEqual([]);
    await db.close();
    expect(loose(dataDir)).toEqual([]);
  });
});
