import type { Logger } from "pino";
import { type RetryPolicy, retryDelayMs } from "./queues.ts";

/** One piece of a key's ordered work, as its table keeps it. */
export interface OrderedItem {
  id: number;
  attempts: number;
  nextAttemptAt: Date;
}

export interface OrderedWork<T extends OrderedItem> {
  /** The key's oldest item still to do. */
  next(): Promise<T | undefined>;
  /** Does the item; throws to have it retried. */
  run(item: T): Promise<void>;
  done(item: T): Promise<void>;
  recordFailure(
    item: T,
    error: string,
    options: { maxAttempts: number; retryAt: Date },
  ): Promise<{ attempts: number; failed: boolean }>;
  /** Errors retrying cannot mend (GitHub refusing a request as invalid): the item is set aside at once. */
  isPermanent?(error: unknown): boolean;
  /** Wakes the key again at `at`, when its first waiting item is due. */
  wakeAt(at: Date): Promise<void>;
  retry: RetryPolicy;
  log: Logger;
  /** True when the drain must stop before its next item (shutting down, a lease lost). */
  stopped?(): boolean;
  /** Names the work in log lines, e.g. "GitHub event". */
  what: string;
  /** What log lines about an item say of it (its delivery id, its kind). */
  logFields?(item: T): Record<string, unknown>;
}

/**
 * Does a key's items oldest first, one at a time. A failure leaves that item first in line until
 * its retry is due, so nothing overtakes it; after the retry limit it is set aside as failed (kept,
 * with its error) and the rest go on. Returns how many items were done.
 */
export async function drainInOrder<T extends OrderedItem>(work: OrderedWork<T>): Promise<number> {
  let done = 0;
  while (!work.stopped?.()) {
    const item = await work.next();
    if (!item) return done;
    const due = new Date(item.nextAttemptAt);
    if (due.getTime() > Date.now()) {
      await work.wakeAt(due);
      return done;
    }
    try {
      await work.run(item);
      await work.done(item);
      done++;
    } catch (error) {
      const message = describeError(error);
      const retryAt = new Date(Date.now() + retryDelayMs(work.retry, item.attempts + 1));
      const permanent = work.isPermanent?.(error) ?? false;
      const { attempts, failed } = await work.recordFailure(item, message, {
        maxAttempts: permanent ? item.attempts + 1 : work.retry.limit + 1,
        retryAt,
      });
      const fields = { ...work.logFields?.(item), attempts, err: message };
      if (failed) {
        work.log.error(fields, `${work.what} failed; set aside as failed`);
        continue;
      }
      work.log.warn({ ...fields, retryAt }, `${work.what} failed; it will be retried`);
      await work.wakeAt(retryAt);
      return done;
    }
  }
  return done;
}

export function describeError(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(describeError).join("; ");
  if (error instanceof Error) return error.message;
  return String(error);
}
