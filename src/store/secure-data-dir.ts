import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** Thrown when other users could open the embedded database's folder. */
export class DataDirAccessError extends Error {
  constructor(dataDir: string, mode: number) {
    const path = shellWord(resolve(dataDir));
    super(
      `The data folder ${resolve(dataDir)} can be opened by other users (mode ${mode.toString(8)}), and it ` +
        "holds the database and its secret key. Make it yours only, as PostgreSQL requires of its data " +
        `folder: \`chmod -R go-rwx ${path}\`, then start envhooks again.`,
    );
    this.name = "DataDirAccessError";
  }
}

/**
 * Creates the data folder, mode 0700, when it is missing; refuses one that other users can open,
 * as PostgreSQL refuses a data directory that is group- or world-accessible
 * (https://github.com/postgres/postgres/blob/master/src/backend/utils/init/miscinit.c, checkDataDir).
 * An older envhooks left its folder 0755: it is refused too, with the command that fixes it, rather
 * than tightened behind the operator's back (a folder someone opened on purpose stays theirs to close).
 */
export function secureDataDir(dataDir: string): void {
  mkdirSync(dirname(resolve(dataDir)), { recursive: true });
  try {
    mkdirSync(dataDir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  // Windows has no such bits: Node reports 0666 or 0777 whatever the folder's ACL says.
  if (process.platform === "win32") return;
  const mode = statSync(dataDir).mode & 0o777;
  if (mode & 0o077) throw new DataDirAccessError(dataDir, mode);
}

/**
 * Takes group and other permissions off everything inside the data folder. PGlite's WebAssembly
 * file system sets the modes it asks for itself, whatever the umask: initdb leaves files 0666, and
 * files rewritten while it runs (pg_internal.init) 0644. The folder itself (0700) keeps them private
 * meanwhile; this runs when the database opens and again when it has closed.
 */
export function tightenDataDir(dataDir: string): void {
  if (process.platform === "win32") return;
  const entries = readdirSync(dataDir, { recursive: true, withFileTypes: true });
  for (const path of [dataDir, ...entries.map((entry) => join(entry.parentPath, entry.name))]) {
    try {
      const stat = lstatSync(path);
      if (!stat.isSymbolicLink() && stat.mode & 0o077) chmodSync(path, stat.mode & 0o700);
    } catch (error) {
      // Removed meanwhile (a lock moved aside by another process).
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
}

/** The path as one word of a shell command. */
function shellWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}
