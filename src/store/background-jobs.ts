import type { Queryable } from "./database.ts";

/** The background jobs (migrations 014, 019 and 023), each run by one instance at a time. */
export type BackgroundJob =
  | "recover-github-deliveries"
  | "retention"
  | "mask-attempt-urls"
  | "read-quiet-runs";

/** What the job remembered at the end of its last run ({} before its first). */
export async function readJobState<State extends object>(
  db: Queryable,
  job: BackgroundJob,
): Promise<Partial<State>> {
  const { rows } = await db.query<{ state: Partial<State> }>(
    "SELECT state FROM background_jobs WHERE name = $1",
    [job],
  );
  return rows[0]?.state ?? {};
}

/** Saves what the job goes on from next time, and when it ran. */
export async function saveJobState(
  db: Queryable,
  job: BackgroundJob,
  state: object,
  ranAt: Date,
): Promise<void> {
  await db.query("UPDATE background_jobs SET state = $2::jsonb, last_run_at = $3 WHERE name = $1", [
    job,
    JSON.stringify(state),
    ranAt,
  ]);
}
