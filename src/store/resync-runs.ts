import type { Queryable } from "./database.ts";

/** What envhooks keeps of a project's resyncs, to limit them (migration 017). */
export interface ResyncRun {
  /** Until when a run in progress holds the project (null: none). */
  leaseUntil: Date | null;
  /** When the last applied resync started. */
  appliedAt: Date | null;
  /** The last dry run's answer, as the API gave it (null: none, or a resync was applied since). */
  plan: unknown;
  plannedAt: Date | null;
  /** How many GitHub requests the last run made. */
  githubRequests: number | null;
}

export async function findResyncRun(db: Queryable, key: string): Promise<ResyncRun | undefined> {
  const { rows } = await db.query<ResyncRun>(
    `SELECT lease_until AS "leaseUntil", applied_at AS "appliedAt", plan, planned_at AS "plannedAt",
       github_requests AS "githubRequests"
     FROM resync_runs WHERE project_key = $1`,
    [key],
  );
  return rows[0];
}

/**
 * Takes the project's resync for `owner` until `until`, unless another run holds it (its lease has
 * not run out at `at`) or, for an applied run (`applying`), the last applied one started less than
 * `cooldownMs` before `at`: checked in the same statement, so a run that finished between the
 * caller's look and this one still counts. An applied run starts the cooldown at `at`. Answers
 * whether it was taken and, when the cooldown refused it, when the last applied run started.
 */
export async function takeResyncRun(
  db: Queryable,
  key: string,
  {
    owner,
    at,
    until,
    applying,
    cooldownMs,
  }: { owner: string; at: Date; until: Date; applying: boolean; cooldownMs: number },
): Promise<{ taken: true } | { taken: false; cooldownFrom: Date | null }> {
  const { rows } = await db.query(
    `INSERT INTO resync_runs (project_key, lease_owner, lease_until, applied_at)
     VALUES ($1, $2, $3, CASE WHEN $5 THEN $4::timestamptz END)
     ON CONFLICT (project_key) DO UPDATE SET lease_owner = excluded.lease_owner,
       lease_until = excluded.lease_until, applied_at = COALESCE(excluded.applied_at, resync_runs.applied_at)
     WHERE (resync_runs.lease_until IS NULL OR resync_runs.lease_until <= $4)
       AND NOT ($5 AND resync_runs.applied_at IS NOT NULL
         AND resync_runs.applied_at > $4::timestamptz - make_interval(secs => $6::double precision))
     RETURNING 1`,
    [key, owner, until, at, applying, cooldownMs / 1000],
  );
  if (rows.length === 1) return { taken: true };
  const appliedAt = applying ? (await findResyncRun(db, key))?.appliedAt : undefined;
  const cooling = appliedAt && at.getTime() - appliedAt.getTime() < cooldownMs;
  return { taken: false, cooldownFrom: cooling ? appliedAt : null };
}

/**
 * Ends `owner`'s run: keeps what it asked GitHub (`githubRequests`, when it got that far) and the
 * dry run's answer (`plan`), or forgets the kept answer when the run was applied (it is stale).
 */
export async function finishResyncRun(
  db: Queryable,
  key: string,
  owner: string,
  {
    githubRequests,
    plan,
    plannedAt,
    applied,
  }: { githubRequests: number | null; plan: unknown; plannedAt: Date | null; applied: boolean },
): Promise<void> {
  await db.query(
    `UPDATE resync_runs SET lease_owner = NULL, lease_until = NULL,
       github_requests = COALESCE($3, github_requests),
       plan = CASE WHEN $6 THEN NULL WHEN $4::jsonb IS NOT NULL THEN $4::jsonb ELSE plan END,
       planned_at = CASE WHEN $6 THEN NULL WHEN $4::jsonb IS NOT NULL THEN $5::timestamptz ELSE planned_at END
     WHERE project_key = $1 AND lease_owner = $2`,
    [key, owner, githubRequests, plan === null ? null : JSON.stringify(plan), plannedAt, applied],
  );
}
