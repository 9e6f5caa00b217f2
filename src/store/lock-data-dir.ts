import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

/** Thrown when another live process holds the data folder. */
export class DataDirLockedError extends Error {
  constructor(dataDir: string, holder: string) {
    super(
      `The data folder ${dataDir} is in use by another envhooks process (${holder}). ` +
        "Two processes on one embedded database corrupt it: stop the other one, or set " +
        "ENVHOOKS_DATA_DIR to another folder, or DATABASE_URL to share a PostgreSQL database.",
    );
    this.name = "DataDirLockedError";
  }
}

/**
 * Takes the embedded database's folder for this process; returns the release function.
 *
 * PGlite does not stop a second process from opening the same folder, and two of them corrupt it
 * silently. The lock is a file created with O_EXCL holding our pid: unlike an mtime-based lock
 * (proper-lockfile), a lock left by a process that was killed is recognised at once because its pid
 * is gone, so a restart after kill -9 does not wait out a staleness window.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = join(dataDir, "envhooks.lock");
  const owner = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, owner);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(lockPath);
    if (holder && isAlive(holder)) {
      throw new DataDirLockedError(dataDir, `pid ${holder.pid} on ${holder.host}`);
    }
    // The holder is gone. Move its lock aside under a name of our own: of two processes racing
    // here only one rename succeeds, and both then race fairly on the O_EXCL create above.
    try {
      renameSync(lockPath, `${lockPath}.stale-${process.pid}`);
      rmSync(`${lockPath}.stale-${process.pid}`, { force: true });
    } catch {
      // Someone else moved it first.
    }
  }
  throw new DataDirLockedError(dataDir, "lock file keeps reappearing");
}

interface Holder {
  pid: number;
  host: string;
}

function readHolder(lockPath: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(lockPath, "utf8")) as Partial<Holder>;
    if (typeof parsed.pid === "number" && typeof parsed.host === "string") {
      return { pid: parsed.pid, host: parsed.host };
    }
  } catch {
    // Unreadable or half-written: a process died between create and write.
  }
  return undefined;
}

function isAlive(holder: Holder): boolean {
  // A lock from another machine (a shared volume) can't be checked: treat it as held.
  if (holder.host !== hostname()) return true;
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
