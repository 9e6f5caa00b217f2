import type { PgBoss } from "pg-boss";
import type { Queryable } from "../store/database.ts";
import type { KeyedDispatcher } from "./keyed-dispatcher.ts";

/**
 * Both envhooks queues carry one key per job (a project, an integration): "work is waiting for
 * this key". The key's work, its order and its retries are kept in envhooks' tables, so jobs may
 * repeat, collapse or be lost with a process without changing what happens; the sweep finds
 * work no job announced.
 */
export interface KeyedQueue {
  name: string;
  /** Keys drained at once in this process. */
  concurrency: number;
}

export async function createKeyedQueue(boss: PgBoss, queue: KeyedQueue): Promise<void> {
  await boss.createQueue(queue.name, { retryLimit: 0, expireInSeconds: 60, notify: true });
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
      ...(startAfter ? { startAfter } : {}),
      ...(tx ? { db: { executeSql: (text: string, values?: unknown[]) => tx.query(text, values) } } : {}),
    },
  );
}

/**
 * Hands each job's key to `dispatcher` and completes the job at once: one worker fetches for the
 * whole process, however many keys are drained at once, so a wake-up costs one fetch, not one per
 * idle worker (NOTIFY wakes them all).
 */
export async function dispatchKeys(
  boss: PgBoss,
  queue: KeyedQueue,
  dispatcher: Pick<KeyedDispatcher, "wake">,
): Promise<string> {
  return boss.work<{ key: string }>(
    queue.name,
    {
      batchSize: 32,
      pollingIntervalSeconds: 1,
      // NOTIFY wakes the worker for new jobs at once; retries (startAfter jobs) become due without
      // one, so the backstop poll must stay as frequent as the normal one (pg-boss relaxes it to 30 s).
      notifyPollingIntervalSeconds: 1,
    },
    async (jobs) => {
      for (const job of jobs) dispatcher.wake(job.data.key);
    },
  );
}
