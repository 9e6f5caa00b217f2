import {
  closeSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isRunning, startedAt } from "./process-status.ts";

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

export interface LockOptions {
  /** How long to wait for a holder on this host that is still exiting (kill -9 of a big process takes a moment). */
  exitWaitMs?: number;
  /** How often the holder refreshes the lock file's mtime, which is how another host sees it is alive. */
  heartbeatMs?: number;
  /** A lock from another host that was not refreshed for this long is stale. */
  staleAfterMs?: number;
  /** How often a holder is looked at again while waiting. */
  pollMs?: number;
  /** Told while waiting for a holder, when a lock is taken over from another host, when the held lock went missing. */
  log?: { info(message: string): void; warn(message: string): void };
}

interface Holder {
  pid: number;
  host: string;
  /** When the process started, in clock ticks since boot (Linux); tells a reused pid apart. */
  started?: number | undefined;
}

/** Lock files this process holds: a second open of one folder in one process is refused too. */
const held = new Set<string>();

/**
 * Takes the embedded database's folder for this process; resolves with the release function.
 *
 * PGlite does not stop a second process from opening the same folder, and two of them corrupt it
 * silently. The lock is a file created with O_EXCL holding our pid, judged as PostgreSQL judges
 * `postmaster.pid` (https://github.com/postgres/postgres/blob/master/src/backend/utils/init/miscinit.c,
 * CreateLockFile): on this host, a lock naming our own pid or our parent's is stale (a container
 * restarted with the same pid), and so is one whose process is gone, a zombie, or a different
 * process that reuses the pid; a holder still exiting is given `exitWaitMs`. A pid means nothing on
 * another host, so the holder refreshes the file's mtime every `heartbeatMs`, and a lock from
 * another host untouched for `staleAfterMs` is taken over, with a warning.
 */
export async function lockDataDir(dataDir: string, options: LockOptions = {}): Promise<() => void> {
  const {
    exitWaitMs = 10_000,
    heartbeatMs = 10_000,
    staleAfterMs = 60_000,
    pollMs = 100,
    log = { info: () => {}, warn: () => {} },
  } = options;
  const lockPath = resolve(join(dataDir, "envhooks.lock"));
  if (held.has(lockPath)) throw new DataDirLockedError(dataDir, `this process, pid ${process.pid}`);
  const me: Holder = { pid: process.pid, host: hostname(), started: startedAt(process.pid) };
  const content = JSON.stringify({ ...me, since: new Date().toISOString() });
  for (let attempt = 0; attempt < 5; attempt++) {
    if (create(lockPath, content)) return hold(lockPath, content, heartbeatMs, log.warn);
    const verdict = await judge(lockPath, me, { exitWaitMs, staleAfterMs, pollMs, log });
    if (verdict.held) throw new DataDirLockedError(dataDir, verdict.holder);
    if (verdict.stale) {
      if (verdict.warning) log.warn(verdict.warning);
      removeStale(lockPath, verdict.stale);
    }
  }
  throw new DataDirLockedError(dataDir, "its lock file keeps reappearing");
}

/** Creates the lock file; false when it exists. */
function create(lockPath: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Holds the lock: its mtime refreshed every `heartbeatMs` (the timer keeps no process alive). */
function hold(lockPath: string, content: string, heartbeatMs: number, warn: (message: string) => void) {
  held.add(lockPath);
  let warned = false;
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(lockPath, now, now);
    } catch (error) {
      if (warned) return;
      warned = true;
      warn(`The data folder lock ${lockPath} could not be refreshed (${(error as Error).message}).`);
    }
  }, heartbeatMs);
  heartbeat.unref();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    held.delete(lockPath);
    // Only our own lock: one taken over meanwhile belongs to its new holder.
    if (readText(lockPath) === content) rmSync(lockPath, { force: true });
  };
}

type Verdict =
  | { held: false; stale: false }
  | { held: false; stale: string; warning?: string }
  | { held: true; holder: string };

/**
 * Looks at the lock's holder until it is found stale (with the lock's text, to remove only that),
 * gone (try again), or held: alive after `exitWaitMs` on this host, refreshed on another.
 */
async function judge(
  lockPath: string,
  me: Holder,
  { exitWaitMs, staleAfterMs, pollMs, log }: Required<Omit<LockOptions, "heartbeatMs">>,
): Promise<Verdict> {
  const started = Date.now();
  let firstMtime: number | undefined;
  let said = false;
  const sayOnce = (message: string) => {
    if (!said) log.info(message);
    said = true;
  };
  for (;;) {
    const text = readText(lockPath);
    const mtime = mtimeOf(lockPath);
    if (text === undefined || mtime === undefined) return { held: false, stale: false };
    firstMtime ??= mtime;
    const waited = Date.now() - started;
    const holder = parseHolder(text);
    if (!holder) {
      // A process that died between creating the file and writing it, or one writing it now.
      if (waited > Math.min(exitWaitMs, 1_000)) return { held: false, stale: text };
    } else if (holder.host === me.host) {
      if (holder.pid === me.pid || holder.pid === process.ppid || !isRunning(holder)) {
        return { held: false, stale: text };
      }
      if (waited >= exitWaitMs) return { held: true, holder: `pid ${holder.pid} on ${holder.host}` };
      sayOnce(
        `The data folder is locked by pid ${holder.pid}: waiting up to ${exitWaitMs / 1000} s for it to exit.`,
      );
    } else {
      const age = Date.now() - mtime;
      if (age > staleAfterMs) {
        return {
          held: false,
          stale: text,
          warning:
            `Taking over the data folder lock of pid ${holder.pid} on ${holder.host}: not refreshed for ` +
            `${Math.round(age / 1000)} s (a holder refreshes it every few seconds), so that process is gone.`,
        };
      }
      if (mtime !== firstMtime) return { held: true, holder: `pid ${holder.pid} on ${holder.host}` };
      sayOnce(
        `The data folder is locked by pid ${holder.pid} on ${holder.host}: watching whether it is still refreshed.`,
      );
    }
    await sleep(pollMs);
  }
}

/** Moves a stale lock aside, under a name of our own; puts it back if it was replaced meanwhile. */
function removeStale(lockPath: string, staleText: string): void {
  const aside = `${lockPath}.stale-${process.pid}`;
  try {
    renameSync(lockPath, aside);
  } catch {
    return; // Someone else moved it first.
  }
  // Of two processes that judged one lock stale, the second may have moved the first one's new lock.
  if (readText(aside) !== staleText) {
    try {
      if (!readText(lockPath)) renameSync(aside, lockPath);
    } catch {
      // It is gone again: the next attempt will see.
    }
  }
  rmSync(aside, { force: true });
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<Holder>;
    if (Number.isInteger(parsed.pid) && (parsed.pid as number) > 0 && typeof parsed.host === "string") {
      return {
        pid: parsed.pid as number,
        host: parsed.host,
        started: typeof parsed.started === "number" ? parsed.started : undefined,
      };
    }
  } catch {
    // Unreadable or half-written.
  }
  return undefined;
}
