import type { Queryable } from "./database.ts";

/**
 * The tables of per-project ordered work (the inbox of GitHub deliveries, the updates for GitHub)
 * keep their retries alike: `state` pending → done or failed, `attempts`, `last_error`,
 * `next_attempt_at`, and the time the item was finished.
 */
export type OrderedTable =
  | { name: "github_events"; finishedAt: "processed_at" }
  | { name: "github_tasks"; finishedAt: "done_at" };

/**
 * Counts a failed attempt, to be tried again at `retryAt`. Once `maxAttempts` is reached the item
 * is set aside as `failed` (kept, with its error, for inspection) so that the project's later
 * items go on.
 */
export async function recordOrderedFailure(
  db: Queryable,
  table: OrderedTable,
  id: number,
  error: string,
  { maxAttempts, retryAt }: { maxAttempts: number; retryAt: Date },
): Promise<{ attempts: number; failed: boolean }> {
  const { rows } = await db.query<{ attempts: number; state: string }>(
    `UPDATE ${table.name}
     SET attempts = attempts + 1, last_error = $2, next_attempt_at = $4,
         state = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE state END,
         ${table.finishedAt} = CASE WHEN attempts + 1 >= $3 THEN now() ELSE ${table.finishedAt} END
     WHERE id = $1 AND state = 'pending'
     RETURNING attempts, state`,
    [id, error.slice(0, 2000), maxAttempts, retryAt],
  );
  const row = rows[0];
  return { attempts: row?.attempts ?? maxAttempts, failed: row?.state === "failed" };
}

/**
 * Projects whose oldest pending item is due, so a restart (or a lost wake-up) gets them going.
 * Only the oldest counts: one waiting for its retry holds back the rest.
 */
export async function projectsWithDueWork(db: Queryable, table: OrderedTable): Promise<string[]> {
  const { rows } = await db.query<{ project_key: string }>(
    `SELECT t.project_key FROM ${table.name} t
     WHERE t.id IN (SELECT min(id) FROM ${table.name} WHERE state = 'pending' GROUP BY project_key)
       AND t.next_attempt_at <= now()`,
  );
  return rows.map((row) => row.project_key);
}
