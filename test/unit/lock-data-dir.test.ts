import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataDirLockedError, lockDataDir } from "../../src/store/lock-data-dir.ts";

const LOCK_PROCESS = fileURLToPath(new URL("../helpers/lock-data-dir-process.ts", import.meta.url));

/** Short intervals so no test waits out the real 10 s and 60 s. */
const FAST = { exitWaitMs: 1500, heartbeatMs: 100, staleAfterMs: 1500, pollMs: 20 };

let folder: string;
let lockPath: string;
const releases: Array<() => void> = [];
const children: ChildProcess[] = [];
let warnings: string[];

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), "envhooks-lock-"));
  lockPath = join(folder, "envhooks.lock");
  warnings = [];
});
afterEach(() => {
  for (const release of releases.splice(0)) release();
  for (const child of children.splice(0)) child.kill("SIGKILL");
  rmSync(folder, { recursive: true, force: true });
});

async function lock(options: Partial<typeof FAST> = {}) {
  const log = { info: () => {}, warn: (message: string) => warnings.push(message) };
  const release = await lockDataDir(folder, { ...FAST, ...options, log });
  releases.push(release);
  return release;
}

function writeLock(holder: Record<string, unknown>, ageMs = 0) {
  writeFileSync(lockPath, JSON.stringify({ host: hostname(), since: new Date().toISOString(), ...holder }));
  const at = new Date(Date.now() - ageMs);
  utimesSync(lockPath, at, at);
}

const holder = () => JSON.parse(readFileSync(lockPath, "utf8")) as { pid: number; host: string };

/** A process that stays alive until killed (or for `seconds`). */
function sleeper(seconds = 60): ChildProcess & { pid: number } {
  const child = spawn("sleep", [String(seconds)], { stdio: "ignore" });
  children.push(child);
  if (!child.pid) throw new Error("sleep did not start");
  return child as ChildProcess & { pid: number };
}

describe("the data folder lock", () => {
  it("is taken in an empty folder, holds this pid, and is removed on release", async () => {
    const release = await lock();
    expect(holder()).toMatchObject({ pid: process.pid, host: hostname() });
    release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it("refuses a second lock on the folder from the same process", async () => {
    await lock();
    await expect(lock()).rejects.toBeInstanceOf(DataDirLockedError);
  });

  it("takes a lock left with this process's own pid: a container restarted with the same pid", async () => {
    writeLock({ pid: process.pid });
    await lock();
    expect(holder().pid).toBe(process.pid);
  });

  it("takes a lock left with the parent's pid", async () => {
    writeLock({ pid: process.ppid });
    await lock();
    expect(holder().pid).toBe(process.pid);
  });

  it("takes at once a lock whose process is gone", async () => {
    const gone = sleeper();
    gone.kill("SIGKILL");
    await once(gone, "exit");
    writeLock({ pid: gone.pid });
    const started = Date.now();
    await lock({ exitWaitMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("waits for a holder that is still exiting, then takes the lock", async () => {
    const exiting = sleeper(0.5);
    const spawned = Date.now();
    writeLock({ pid: exiting.pid });
    await lock({ exitWaitMs: 10_000 });
    // Taken only once `sleep 0.5` was over, not at once and not after the whole wait.
    expect(Date.now() - spawned).toBeGreaterThanOrEqual(400);
    expect(holder().pid).toBe(process.pid);
  });

  it("refuses a live holder on this host once the wait is over, naming it", async () => {
    const live = sleeper();
    writeLock({ pid: live.pid });
    const error = await lock().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect((error as Error).message).toContain(`pid ${live.pid} on ${hostname()}`);
    expect(holder().pid).toBe(live.pid);
  });

  it("takes a lock whose pid now belongs to another process (a different start time)", async () => {
    const other = sleeper();
    writeLock({ pid: other.pid, started: 1 });
    await lock();
    expect(holder().pid).toBe(process.pid);
  });

  it("refreshes its lock's mtime while held, and stops on release", async () => {
    const release = await lock();
    const old = new Date(Date.now() - 120_000);
    utimesSync(lockPath, old, old);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(Date.now() - statSync(lockPath).mtimeMs).toBeLessThan(60_000);
    release();
    expect(existsSync(lockPath)).toBe(false);
  });

  describe("held from another host", () => {
    it("is taken when not refreshed for staleAfterMs, and the log says so", async () => {
      writeLock({ pid: 12345, host: "elsewhere" }, 120_000);
      await lock({ staleAfterMs: 60_000 });
      expect(holder()).toMatchObject({ pid: process.pid, host: hostname() });
      expect(warnings.join("\n")).toMatch(/pid 12345 on elsewhere.*not refreshed for 120 s/);
    });

    it("is waited out when its last refresh is recent and none comes", async () => {
      writeLock({ pid: 12345, host: "elsewhere" });
      await lock();
      expect(holder().host).toBe(hostname());
      expect(warnings).toHaveLength(1);
    });

    it("is refused while its holder keeps refreshing it", async () => {
      writeLock({ pid: 12345, host: "elsewhere" });
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimesSync(lockPath, now, now);
      }, 50);
      try {
        const error = await lock().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DataDirLockedError);
        expect((error as Error).message).toContain("pid 12345 on elsewhere");
      } finally {
        clearInterval(heartbeat);
      }
    });
  });

  it("lets a process started with exec on the pid of the lock left behind take it", async () => {
    // The exact restart: the lock holds the pid the new process gets (bash's $$, kept across exec).
    const dataDir = join(folder, "data");
    const script =
      `echo "bash $$" && mkdir -p "$1" && printf '{"pid":%d,"host":"%s","since":"2026-01-01T00:00:00Z"}' $$ "$(hostname)" > "$1/envhooks.lock"` +
      ` && exec "$2" "$3" "$1"`;
    const { stdout } = await promisify(execFile)(
      "bash",
      ["-c", script, "bash", dataDir, process.execPath, LOCK_PROCESS],
      { timeout: 30_000 },
    );
    const bashPid = /^bash (\d+)$/m.exec(stdout)?.[1];
    expect(bashPid).toBeDefined();
    expect(stdout).toContain(`as pid ${bashPid}\n`);
    expect(existsSync(join(dataDir, "envhooks.lock"))).toBe(false);
  });
});
