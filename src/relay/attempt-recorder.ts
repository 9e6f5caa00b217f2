import type { Queryable } from "../store/database.ts";
import { type AttemptRecord, type RecordedAttempt, recordAttempts } from "../store/deliveries.ts";
import { maskSentHeaders, maskUrlCredentials } from "./mask-secrets.ts";

export type RecordAttempt = (record: AttemptRecord) => Promise<RecordedAttempt>;

/**
 * The attempt as the log keeps it: credentials in the URL and every header value but envhooks'
 * own are masked (an `Authorization` would otherwise be stored once per attempt).
 */
const masked = (record: AttemptRecord): AttemptRecord => ({
  ...record,
  url: maskUrlCredentials(record.url),
  requestHeaders: maskSentHeaders(record.requestHeaders),
});

/** Records each attempt by itself. */
export function recordEachAttempt(db: Queryable): RecordAttempt {
  return async (record) => (await recordAttempts(db, [masked(record)]))[0] as RecordedAttempt;
}

/**
 * Records the attempts of all this process's drains together: while one statement is under way,
 * the attempts finished meanwhile wait, then go in one statement (at most `max`, several of one
 * integration among them when it sends in parallel). Alone, an attempt is recorded at once; under load, many small commits become a few
 * larger ones. When a shared statement fails, each of its attempts is tried by itself, so that one
 * bad record (its integration deleted meanwhile) fails only its own drain.
 */
export function recordAttemptsTogether(db: Queryable, max = 64): RecordAttempt {
  interface Waiting {
    record: AttemptRecord;
    resolve(recorded: RecordedAttempt): void;
    reject(error: unknown): void;
  }
  let waiting: Waiting[] = [];
  let flushing = false;
  const alone = recordEachAttempt(db);

  async function flush() {
    flushing = true;
    while (waiting.length > 0) {
      const batch = waiting.slice(0, max);
      waiting = waiting.slice(max);
      try {
        const recorded = await recordAttempts(
          db,
          batch.map((entry) => entry.record),
        );
        for (const [n, entry] of batch.entries()) entry.resolve(recorded[n] as RecordedAttempt);
      } catch (error) {
        if (batch.length === 1) batch[0]?.reject(error);
        else await Promise.all(batch.map((entry) => alone(entry.record).then(entry.resolve, entry.reject)));
      }
    }
    flushing = false;
  }

  return (record) =>
    new Promise((resolve, reject) => {
      waiting.push({ record: masked(record), resolve, reject });
      if (!flushing) void flush();
    });
}
