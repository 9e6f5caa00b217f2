import type { CheckWait, CommitCheck } from "../lifecycle/decide-checks.ts";
import type { Queryable } from "./database.ts";

/** An activity waiting for its head commit's checks (migration 027). */
export interface StoredCheckWait extends CheckWait {
  activityId: string;
  projectKey: string;
  sha: string;
  branch: string;
}

/** Records a wait, in the transaction that stores its activity. */
export async function insertCheckWaits(tx: Queryable, waits: readonly StoredCheckWait[]): Promise<void> {
  if (waits.length === 0) return;
  await tx.query(
    `INSERT INTO check_waits (activity_id, project_key, sha, branch, mode, ignore, started_at, grace_until, timeout_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(activity_id text, project_key text, sha text,
       branch text, mode text, ignore jsonb, started_at timestamptz, grace_until timestamptz, timeout_at timestamptz)
     ON CONFLICT (activity_id) DO NOTHING`,
    [
      JSON.stringify(
        waits.map((wait) => ({
          activity_id: wait.activityId,
          project_key: wait.projectKey,
          sha: wait.sha,
          branch: wait.branch,
          mode: wait.mode,
          ignore: wait.ignore,
          started_at: wait.startedAt.toISOString(),
          grace_until: wait.graceUntil.toISOString(),
          timeout_at: wait.timeoutAt.toISOString(),
        })),
      ),
    ],
  );
}

const WAIT_COLUMNS = `activity_id AS "activityId", project_key AS "projectKey", sha, branch, mode, ignore,
  started_at AS "startedAt", grace_until AS "graceUntil", timeout_at AS "timeoutAt"`;

/** The waits on a commit, locked (oldest first): whoever settles them holds them until it commits. */
export async function lockCheckWaits(
  tx: Queryable,
  projectKey: string,
  sha: string,
): Promise<StoredCheckWait[]> {
  const { rows } = await tx.query<StoredCheckWait>(
    `SELECT ${WAIT_COLUMNS} FROM check_waits WHERE project_key = $1 AND sha = $2
     ORDER BY started_at, activity_id FOR UPDATE`,
    [projectKey, sha],
  );
  return rows.map(asWait);
}

/** Whether any activity of the project waits on the commit (a check event of it is worth storing). */
export async function hasCheckWait(db: Queryable, projectKey: string, sha: string): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM check_waits WHERE project_key = $1 AND sha = $2 LIMIT 1", [
    projectKey,
    sha,
  ]);
  return rows.length > 0;
}

/** Whether a project's stored options wait for checks: its check events are stored then. */
export async function waitsForChecks(db: Queryable, projectKey: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM projects WHERE key = $1 AND COALESCE(config->>'wait_for_checks', 'none') <> 'none'
     UNION ALL SELECT 1 FROM check_waits WHERE project_key = $1 LIMIT 1`,
    [projectKey],
  );
  return rows.length > 0;
}

/**
 * The commits with a wait that time decides: past its timeout, or past its grace and not decided
 * since (no check seen, or a suite that never started stops counting); and those whose activity
 * waits no more (superseded). Oldest
 * first, 100 at a time: a wait that stays due cannot keep older ones out.
 */
export async function dueCheckWaits(
  db: Queryable,
  now: Date,
): Promise<Array<{ projectKey: string; sha: string }>> {
  const { rows } = await db.query<{ projectKey: string; sha: string }>(
    `SELECT w.project_key AS "projectKey", w.sha FROM check_waits w
     LEFT JOIN activities a ON a.id = w.activity_id
     WHERE w.timeout_at <= $1 OR a.id IS NULL OR a.state <> 'pending'
       OR (w.grace_until <= $1 AND NOT w.graced)
     GROUP BY w.project_key, w.sha ORDER BY MIN(w.started_at), w.project_key, w.sha
     LIMIT 100`,
    [now],
  );
  return rows;
}

/** The commit's waits still there past their grace were decided there: the sweep leaves them to events. */
export async function markCheckWaitsGraced(tx: Queryable, projectKey: string, sha: string, now: Date) {
  await tx.query(
    `UPDATE check_waits SET graced = true
     WHERE project_key = $1 AND sha = $2 AND grace_until <= $3 AND NOT graced`,
    [projectKey, sha, now.toISOString()],
  );
}

/** Every commit an activity waits on (read again from GitHub after a restart). */
export async function waitedCommits(
  db: Queryable,
): Promise<Array<{ projectKey: string; sha: string; branch: string; mode: "all" | "required" }>> {
  const { rows } = await db.query<{
    projectKey: string;
    sha: string;
    branch: string;
    mode: "all" | "required";
  }>(
    `SELECT DISTINCT ON (project_key, sha) project_key AS "projectKey", sha, branch, mode
     FROM check_waits ORDER BY project_key, sha, started_at`,
  );
  return rows;
}

/** Ends waits; a commit no activity waits on any more forgets its checks. */
export async function deleteCheckWaits(
  tx: Queryable,
  projectKey: string,
  sha: string,
  activityIds: readonly string[],
): Promise<void> {
  if (activityIds.length > 0) {
    await tx.query("DELETE FROM check_waits WHERE activity_id = ANY($1::text[])", [activityIds]);
  }
  await tx.query(
    `DELETE FROM commit_checks c WHERE c.project_key = $1 AND c.sha = $2
     AND NOT EXISTS (SELECT 1 FROM check_waits w WHERE w.project_key = $1 AND w.sha = $2)`,
    [projectKey, sha],
  );
}

/** A commit's checks as last seen. */
export async function commitChecks(tx: Queryable, projectKey: string, sha: string): Promise<CommitCheck[]> {
  const { rows } = await tx.query<CommitCheck & { suiteId: string | null }>(
    `SELECT kind, key, name, suite_id AS "suiteId", status, conclusion, html_url AS "htmlUrl"
     FROM commit_checks WHERE project_key = $1 AND sha = $2 ORDER BY key`,
    [projectKey, sha],
  );
  return rows.map((row) => ({ ...row, suiteId: row.suiteId === null ? null : Number(row.suiteId) }));
}

/**
 * Records what GitHub said of checks of a commit. A completed check goes back to queued only
 * when `rerun` (a re-requested suite or run): a read that answered before an event came cannot
 * undo what the event said.
 */
export async function saveCommitChecks(
  tx: Queryable,
  projectKey: string,
  sha: string,
  checks: readonly CommitCheck[],
  at: Date,
  { rerun = false }: { rerun?: boolean } = {},
): Promise<void> {
  if (checks.length === 0) return;
  await tx.query(
    `INSERT INTO commit_checks (project_key, sha, key, kind, name, suite_id, status, conclusion, html_url, updated_at)
     SELECT $1, $2, x.key, x.kind, x.name, x.suite_id, x.status, x.conclusion, x.html_url, $3
     FROM jsonb_to_recordset($4::jsonb) AS x(key text, kind text, name text, suite_id bigint,
       status text, conclusion text, html_url text)
     ON CONFLICT (project_key, sha, key) DO UPDATE SET
       name = excluded.name, suite_id = COALESCE(excluded.suite_id, commit_checks.suite_id),
       status = excluded.status, conclusion = excluded.conclusion,
       html_url = COALESCE(excluded.html_url, commit_checks.html_url), updated_at = excluded.updated_at
     WHERE $5 OR commit_checks.status <> 'completed' OR excluded.status = 'completed'`,
    [
      projectKey,
      sha,
      at.toISOString(),
      JSON.stringify(
        checks.map((check) => ({
          key: check.key,
          kind: check.kind,
          name: check.name,
          suite_id: check.suiteId,
          status: check.status,
          conclusion: check.conclusion,
          html_url: check.htmlUrl,
        })),
      ),
      rerun,
    ],
  );
}

/** A re-requested suite: it and its runs are queued again, to be waited for anew. */
export async function requeueSuite(tx: Queryable, projectKey: string, sha: string, suiteId: number) {
  await tx.query(
    `UPDATE commit_checks SET status = 'queued', conclusion = NULL
     WHERE project_key = $1 AND sha = $2 AND (key = $3 OR suite_id = $4)`,
    [projectKey, sha, `suite:${suiteId}`, suiteId],
  );
}

/** The checks a branch requires, when read since `since`. */
export async function findRequiredChecks(
  db: Queryable,
  projectKey: string,
  branch: string,
  since: Date,
): Promise<string[] | undefined> {
  const { rows } = await db.query<{ checks: string[] }>(
    "SELECT checks FROM required_checks WHERE project_key = $1 AND branch = $2 AND read_at >= $3",
    [projectKey, branch, since.toISOString()],
  );
  return rows[0]?.checks;
}

export async function saveRequiredChecks(
  db: Queryable,
  projectKey: string,
  branch: string,
  checks: readonly string[],
  at: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO required_checks (project_key, branch, checks, read_at) VALUES ($1, $2, $3::jsonb, $4)
     ON CONFLICT (project_key, branch) DO UPDATE SET checks = excluded.checks, read_at = excluded.read_at`,
    [projectKey, branch, JSON.stringify(checks), at.toISOString()],
  );
}

function asWait(row: StoredCheckWait): StoredCheckWait {
  return {
    ...row,
    startedAt: new Date(row.startedAt),
    graceUntil: new Date(row.graceUntil),
    timeoutAt: new Date(row.timeoutAt),
  };
}
