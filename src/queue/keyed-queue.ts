import type { PgBoss } from "pg-boss";
import type { Queryable } from "../store/database.ts";
import type { KeyedDispatcher } from "./keyed-dispatcher.ts";

/**
 * Both envhooks queues carry one key per job (a project, an integration): "work is waiting for
 * this key". The worker drains everything waiting for the key, oldest first, so jobs may repeat
 * or arrive out of order without changing what happens; their order comes from envhooks' tables.
 */
export interface KeyedQueue {
  name: string;
  retry: { limit: number; delaySeconds: number; backoff: boolean };
  /** Keys worked at once in this process; one key is never worked twice at once here. */
  concurrency: number;
}

export async function createKeyedQueue(boss: PgBoss, queue: KeyedQueue): Promise<void> {
  await boss.createQueue(queue.name, {
    retryLimit: queue.retry.limit,
    retryDelay: queue.retry.delaySeconds,
    retryBackoff: queue.retry.backoff,
    ...(queue.retry.backoff ? { retryDelayMax: 300 } : {}),
    // A worker that died mid-job loses its claim after this long; the key is drained again.
    expireInSeconds: 120,
    notify: true,
  });
}

/**
 * Announces work for a key. With `tx`, the job is written in that transaction, so it exists
 * exactly when the work it announces was committed. With `startAfter`, it waits until then.
 */
export async function enqueueKey(
  boss: PgBoss,
  queue: KeyedQueue,
  key: string,
  { tx, startAfter }: { tx?: Queryable | undefined; startAfter?: Date | undefined } = {},
): Promise<void> {
  await boss.send(
    queue.name,
    { key },
    {
      group: { id: key },
      ...(startAfter ? { startAfter } : {}),
      ...(tx ? { db: { executeSql: (text: string, values?: unknown[]) => tx.query(text, values) } } : {}),
    },
  );
}

/** Runs `drain` for each key a job names. */
export async function workKeys(
  boss: PgBoss,
  queue: KeyedQueue,
  drain: (key: string) => Promise<unknown>,
): Promise<string> {
  return boss.work<{ key: string }>(
    queue.name,
    {
      localConcurrency: queue.concurrency,
      localGroupConcurrency: 1,
      pollingIntervalSeconds: 1,
      // NOTIFY wakes workers for new jobs at once; retries and startAfter jobs become due without
      // one, so the backstop poll must stay as frequent as the normal one (pg-boss relaxes it to 30 s).
      notifyPollingIntervalSeconds: 1,
    },
    async ([job]) => {
      if (job) await drain(job.data.key);
    },
  );
}

/**
 * Hands each job's key to `dispatcher` and completes the job at once: one worker fetches for the
 * whole process, however many keys are drained at once, so a wake-up costs one fetch, not one per
 * idle worker. For queues whose retries are kept in envhooks' tables, not in the job.
 */
export async function dispatchKeys(
  boss: PgBoss,
  queue: KeyedQueue,
  dispatcher: KeyedDispatcher,
): Promise<string> {
  return boss.work<{ key: string }>(
    queue.name,
    { batchSize: queue.concurrency, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 1 },
    async (jobs) => {
      for (const job of jobs) dispatcher.wake(job.data.key);
    },
  );
}
