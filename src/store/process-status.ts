import { readFileSync } from "node:fs";

/**
 * Whether a process still runs: not gone, not a zombie, and (when its start time is known) not
 * another process that was given its pid since.
 */
export function isRunning(holder: { pid: number; started?: number | undefined }): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procStat(holder.pid);
  if (!stat) return true; // No /proc (macOS): the signal's answer is all there is.
  if (stat.state === "Z" || stat.state === "X") return false;
  return holder.started === undefined || holder.started === stat.started;
}

/** When a process started, in clock ticks since boot; undefined without /proc. */
export function startedAt(pid: number): number | undefined {
  return procStat(pid)?.started;
}

/** State and start time from `/proc/<pid>/stat` (proc(5): fields 3 and 22), on Linux. */
function procStat(pid: number): { state: string; started: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const started = Number(fields[19]);
  return state && Number.isFinite(started) ? { state, started } : undefined;
}
