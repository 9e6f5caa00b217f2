import type { Logger } from "pino";
import type { BackgroundJob } from "../store/background-jobs.ts";
import type { Queryable } from "../store/database.ts";
import { BACKGROUND_JOB_LEASE } from "../store/leases.ts";
import { type Held, withLease } from "./with-lease.ts";

export interface BackgroundJobOptions<Result> {
  db: Queryable;
  log: Logger;
  job: BackgroundJob;
  /** This process, as a lease holder: one instance at a time runs the job. */
  owner: string;
  /** How often the job runs (and once at start). */
  everyMs: number;
  /** One run; `keepGoing()` turns false when the lease is lost or the process stops. */
  run(keepGoing: () => boolean): Promise<Result>;
}

export interface RunningJob<Result> {
  /** Runs the job now, after a run in progress in this process; undefined when another instance holds it. */
  runNow(): Promise<Result | undefined>;
  /** Stops the timer; resolves when a run in progress has stopped, at its next check. */
  stop(): Promise<void>;
}

/**
 * Runs `run` at start and every `everyMs`, under the job's lease (src/queue/with-lease.ts), one run
 * at a time in this process. A failed run is logged; the next one starts afresh.
 */
export function startBackgroundJob<Result>(options: BackgroundJobOptions<Result>): RunningJob<Result> {
  const { db, log, job, owner } = options;
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();

  function runNow(): Promise<Result | undefined> {
    const next = running.then(async () => {
      let result: Result | undefined;
      await withLease(db, BACKGROUND_JOB_LEASE, job, owner, async (lease: Held) => {
        result = await options.run(() => !stopped && lease.held);
      });
      return result;
    });
    running = next.catch(() => undefined);
    return next;
  }

  function onTimer() {
    runNow().catch((error) => log.warn({ err: error, job }, "background job failed; it runs again later"));
  }
  const timer = setInterval(onTimer, options.everyMs);
  timer.unref();
  onTimer();
  return {
    runNow,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
