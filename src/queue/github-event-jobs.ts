import type { PgBoss } from "pg-boss";
import type { Queryable } from "../store/database.ts";

export const GITHUB_EVENTS_QUEUE = "github-events";

export interface RetryPolicy {
  /** Seconds before the first retry. */
  delaySeconds: number;
  /** Double the delay at each retry (with jitter), up to five minutes. */
  backoff: boolean;
  /** Retries before a delivery is set aside as failed. */
  limit: number;
}

export const DEFAULT_RETRY: RetryPolicy = { delaySeconds: 5, backoff: true, limit: 10 };

/** Creates the queue of GitHub deliveries to apply (idempotent). */
export async function createGithubEventQueue(boss: PgBoss, retry: RetryPolicy): Promise<void> {
  await boss.createQueue(GITHUB_EVENTS_QUEUE, {
    retryLimit: retry.limit,
    retryDelay: retry.delaySeconds,
    retryBackoff: retry.backoff,
    ...(retry.backoff ? { retryDelayMax: 300 } : {}),
    // A worker that died mid-job loses its claim after this long; its project is drained again.
    expireInSeconds: 120,
    notify: true,
  });
}

/**
 * Asks a worker to apply a project's pending deliveries. With `tx`, the job is written in that
 * transaction, so it exists exactly when the delivery it announces was committed.
 */
export async function enqueueProject(boss: PgBoss, projectKey: string, tx?: Queryable): Promise<void> {
  await boss.send(
    GITHUB_EVENTS_QUEUE,
    { project: projectKey },
    {
      group: { id: projectKey },
      ...(tx ? { db: { executeSql: (text: string, values?: unknown[]) => tx.query(text, values) } } : {}),
    },
  );
}

/** Runs `drain` for each project a job names; one project at a time per process. */
export async function workGithubEvents(
  boss: PgBoss,
  drain: (projectKey: string) => Promise<unknown>,
): Promise<string> {
  return boss.work<{ project: string }>(
    GITHUB_EVENTS_QUEUE,
    {
      localConcurrency: 2,
      localGroupConcurrency: 1,
      pollingIntervalSeconds: 1,
      // NOTIFY wakes workers for new jobs at once; retries become due without a NOTIFY, so the
      // backstop poll must stay as frequent as the normal one (pg-boss relaxes it to 30 s).
      notifyPollingIntervalSeconds: 1,
    },
    async ([job]) => {
      if (job) await drain(job.data.project);
    },
  );
}
