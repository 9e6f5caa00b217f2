import { setTimeout as sleep } from "node:timers/promises";
import type { Database, Queryable } from "./database.ts";

/**
 * The background job (migration 019) that rewrites the URLs of attempts logged before the log kept
 * a webhook's URL as its origin. Its row in background_jobs remembers the last attempt id done
 * (`state.after`) and is deleted once the whole log is done.
 */
export const MASK_ATTEMPT_URLS_JOB = "mask-attempt-urls";

/**
 * SQL: whether attempt `a` (an alias of delivery_attempts) may still hold its URL as sent: the
 * rewrite has not reached it yet. Such a URL is shown as its origin to everyone.
 */
export const attemptMayHoldFullUrlSql = (a: string) => `COALESCE((
  SELECT ${a}.id > COALESCE((j.state->>'after')::bigint, 0) FROM background_jobs j
  WHERE j.name = '${MASK_ATTEMPT_URLS_JOB}'), false)`;

/**
 * Rewrites one batch of the log's URLs, after the last attempt done: a webhook's (or a deleted
 * integration's) as `mask` has it; chat channels' were masked when logged, and HipChat's name no
 * secret. Rows someone holds (retention emptying or deleting them) are skipped and the batch ends
 * before the first of them, to be read again next time. `done` once nothing is left: the job's
 * row is gone.
 */
export async function maskAttemptUrlsBatch(
  db: Database,
  mask: (url: string) => string,
  limit: number,
): Promise<{ masked: number; done: boolean }> {
  return db.transaction(async (tx) => {
    const { rows: job } = await tx.query<{ after: string | null }>(
      "SELECT state->>'after' AS after FROM background_jobs WHERE name = $1",
      [MASK_ATTEMPT_URLS_JOB],
    );
    if (!job[0]) return { masked: 0, done: true };
    const after = job[0].after ?? "0";
    const { rows: range } = await tx.query<{ id: string }>(
      // By the number, not the text the row brings back ("10" sorts before "9").
      "SELECT a.id::text AS id FROM delivery_attempts a WHERE a.id > $1 ORDER BY a.id LIMIT $2",
      [after, limit],
    );
    const { rows: held } = await tx.query<{ id: string; url: string; maskable: boolean }>(
      `SELECT a.id::text AS id, a.url, g.type IS NULL OR g.type = 'webhook' AS maskable
       FROM delivery_attempts a
       LEFT JOIN deliveries d ON d.id = a.delivery_id LEFT JOIN integrations g ON g.id = d.integration_id
       WHERE a.id = ANY($1::bigint[]) FOR UPDATE OF a SKIP LOCKED`,
      [range.map((row) => row.id)],
    );
    const changed = held.flatMap((row) => {
      const url = row.maskable ? mask(row.url) : row.url;
      return url === row.url ? [] : [{ id: row.id, url }];
    });
    if (changed.length > 0) {
      await tx.query(
        `UPDATE delivery_attempts a SET url = u.url FROM unnest($1::bigint[], $2::text[]) AS u(id, url)
         WHERE a.id = u.id`,
        [changed.map((row) => row.id), changed.map((row) => row.url)],
      );
    }
    const locked = new Set(held.map((row) => row.id));
    const skipped = range.find((row) => !locked.has(row.id));
    const reached = skipped ? (BigInt(skipped.id) - 1n).toString() : (range.at(-1)?.id ?? after);
    if (!skipped && range.length < limit) {
      await tx.query("DELETE FROM background_jobs WHERE name = $1", [MASK_ATTEMPT_URLS_JOB]);
      return { masked: changed.length, done: true };
    }
    await saveReached(tx, reached);
    return { masked: changed.length, done: false };
  });
}

async function saveReached(db: Queryable, after: string) {
  await db.query(
    "UPDATE background_jobs SET state = jsonb_build_object('after', $2::bigint), last_run_at = now() WHERE name = $1",
    [MASK_ATTEMPT_URLS_JOB, after],
  );
}

/**
 * Rewrites the log's URLs batch after batch (each its own short transaction, resting between
 * them so the rewrite takes turns with the relay) until done or `keepGoing()` turns false.
 * Returns how many URLs it rewrote.
 */
export async function maskAttemptUrls(
  db: Database,
  mask: (url: string) => string,
  {
    keepGoing = () => true,
    batchSize = 500,
    pauseMs = 50,
  }: { keepGoing?: () => boolean; batchSize?: number; pauseMs?: number } = {},
): Promise<number> {
  let masked = 0;
  while (keepGoing()) {
    const batch = await maskAttemptUrlsBatch(db, mask, batchSize);
    masked += batch.masked;
    if (batch.done) break;
    await sleep(pauseMs);
  }
  return masked;
}
