import { type Queryable, RELAXED_COMMIT } from "./database.ts";
import { type OrderedTable, recordOrderedFailure } from "./ordered-work.ts";

/** Something to tell GitHub, kept until GitHub has it. */
export interface GithubTask {
  id: number;
  projectKey: string;
  kind: string;
  body: unknown;
  attempts: number;
  nextAttemptAt: Date;
}

export async function insertGithubTask(
  tx: Queryable,
  task: { projectKey: string; kind: string; body: unknown; environment?: string | null },
): Promise<void> {
  await tx.query("INSERT INTO github_tasks (project_key, kind, body, environment) VALUES ($1, $2, $3, $4)", [
    task.projectKey,
    task.kind,
    JSON.stringify(task.body),
    task.environment ?? null,
  ]);
}

/** Writes tasks in one statement; their ids follow the order given. */
export async function insertGithubTasks(
  tx: Queryable,
  projectKey: string,
  tasks: ReadonlyArray<{ kind: string; body: unknown; environment: string | null }>,
): Promise<void> {
  if (tasks.length === 0) return;
  await tx.query(
    `INSERT INTO github_tasks (project_key, kind, body, environment)
     SELECT $1, t.kind, t.body, t.environment
     FROM jsonb_to_recordset($2::jsonb) AS t(n integer, kind text, body jsonb, environment text) ORDER BY t.n`,
    [projectKey, JSON.stringify(tasks.map((task, n) => ({ n, ...task })))],
  );
}

/** A task still to send, and whether a newer activity of its environment supersedes its activity. */
export interface PendingGithubTask extends Omit<GithubTask, "body"> {
  environment: string | null;
  /** The activity an `activity` task shows a state of. */
  activityId: string | null;
  /** Null for an activity's older states: only its newest one in the batch is sent. */
  body: unknown;
  superseded: boolean;
}

/**
 * A project's tasks still to do, oldest first, at most `limit`. An activity's task is `superseded`
 * when its environment has a newer activity (the environment's newest activity, or, once it is
 * deleted, a newer one of its name): GitHub need not show its intermediate states. Only the newest
 * state of each activity comes with its body: the older ones are merged into it, never sent.
 */
export async function pendingGithubTasks(
  db: Queryable,
  projectKey: string,
  limit: number,
): Promise<PendingGithubTask[]> {
  const { rows } = await db.query<PendingGithubTask>(
    `WITH batch AS (
       SELECT id, project_key, kind, body, attempts, environment, next_attempt_at,
         body->'activity'->>'id' AS activity_id
       FROM github_tasks WHERE project_key = $1 AND state = 'pending' ORDER BY id LIMIT $2)
     SELECT b.id, b.project_key AS "projectKey", b.kind, b.attempts, b.environment,
       b.next_attempt_at AS "nextAttemptAt", b.activity_id AS "activityId",
       CASE WHEN b.activity_id IS NULL OR b.id = max(b.id) OVER (PARTITION BY b.activity_id) THEN b.body END
         AS body,
       (b.activity_id IS NOT NULL AND COALESCE(
         (SELECT e.last_activity_id <> a.id FROM activities a
            JOIN environments e ON e.project_id = a.project_id AND e.name = a.environment
          WHERE a.id = b.activity_id),
         EXISTS (SELECT 1 FROM activities a JOIN activities newer
             ON newer.project_id = a.project_id AND newer.environment = a.environment AND newer.seq > a.seq
           WHERE a.id = b.activity_id))) AS superseded
     FROM batch b ORDER BY b.id`,
    [projectKey, limit],
  );
  return rows.map((row) => ({ ...row, id: Number(row.id), nextAttemptAt: new Date(row.nextAttemptAt) }));
}

/**
 * Whether a task newer than `afterId` waits for the environment with a newer state of `activityId`
 * or of a newer activity: what is being sent is out of date. A late report on an older activity is not.
 */
export async function hasNewerGithubTask(
  db: Queryable,
  projectKey: string,
  environment: string,
  activityId: string,
  afterId: number,
): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM github_tasks t JOIN activities a ON a.id = t.body->'activity'->>'id'
     WHERE t.project_key = $1 AND t.state = 'pending' AND t.environment = $2 AND t.id > $4
       AND a.seq >= (SELECT seq FROM activities WHERE id = $3)
     LIMIT 1`,
    [projectKey, environment, activityId, afterId],
  );
  return rows.length > 0;
}

/** How an environment's updates arrive: how many in the last `windowSeconds`, and the ages of the newest and oldest pending. */
export interface EnvironmentPace {
  recent: number;
  newestAgeMs: number;
  oldestPendingAgeMs: number;
}

export async function environmentPace(
  db: Queryable,
  projectKey: string,
  environment: string,
  windowSeconds: number,
): Promise<EnvironmentPace> {
  // The window bounds what is read of the environment's history; pending tasks are few.
  const { rows } = await db.query<EnvironmentPace>(
    `SELECT count(*)::int AS recent,
       COALESCE(extract(epoch FROM now() - max(created_at)) * 1000, 1e9)::float8 AS "newestAgeMs",
       COALESCE((SELECT extract(epoch FROM now() - min(created_at)) * 1000 FROM github_tasks
         WHERE project_key = $1 AND environment = $2 AND state = 'pending'), 0)::float8 AS "oldestPendingAgeMs"
     FROM github_tasks
     WHERE project_key = $1 AND environment = $2 AND created_at > now() - make_interval(secs => $3)`,
    [projectKey, environment, windowSeconds],
  );
  return rows[0] ?? { recent: 0, newestAgeMs: 1e9, oldestPendingAgeMs: 0 };
}

/**
 * Marks tasks done: `outcome` says whether they were sent or superseded by a newer state. Unless
 * `durable`, its commit does not wait for the disk: lost in a database crash, such a task is sent
 * again and GitHub is shown the same state twice, and GitHub bookkeeping never queues the commits
 * GitHub's deliveries wait for. What GitHub would do twice (a reply, a dispatch) is marked durably.
 */
export async function markGithubTasksDone(
  db: Queryable,
  ids: number[],
  outcome: string,
  { durable = false }: { durable?: boolean } = {},
): Promise<void> {
  await db.query(
    durable
      ? `UPDATE github_tasks SET state = 'done', done_at = now(), outcome = $2
         WHERE id = ANY($1::bigint[]) AND state = 'pending'`
      : `WITH relaxed AS (${RELAXED_COMMIT})
         UPDATE github_tasks SET state = 'done', done_at = now(), outcome = $2 FROM relaxed
         WHERE id = ANY($1::bigint[]) AND state = 'pending'`,
    [ids, outcome],
  );
}

/** Holds tasks until `at` without counting an attempt (rate limits, a burst settling); relaxed as above. */
export async function postponeGithubTasks(db: Queryable, ids: number[], at: Date): Promise<void> {
  await db.query(
    `WITH relaxed AS (${RELAXED_COMMIT})
     UPDATE github_tasks SET next_attempt_at = GREATEST(next_attempt_at, $2) FROM relaxed
     WHERE id = ANY($1::bigint[]) AND state = 'pending'`,
    [ids, at],
  );
}

const UPDATES: OrderedTable = { name: "github_tasks", finishedAt: "done_at" };

/** Counts a failed attempt at a task (see `recordOrderedFailure`). */
export function recordGithubTaskFailure(
  db: Queryable,
  id: number,
  error: string,
  options: { maxAttempts: number; retryAt: Date },
): Promise<{ attempts: number; failed: boolean }> {
  return recordOrderedFailure(db, UPDATES, id, error, options);
}

/**
 * Projects with a pending task that is due. Any task counts, not only the oldest: updates are
 * coalesced and postponed per environment, so an older one may wait while a newer one is due.
 */
export async function projectsWithDueGithubTasks(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ project_key: string }>(
    "SELECT DISTINCT project_key FROM github_tasks WHERE state = 'pending' AND next_attempt_at <= now()",
  );
  return rows.map((row) => row.project_key);
}

/** What GitHub shows of an activity: its deployment and the last states sent. */
export interface ShownActivity {
  deploymentId: number | null;
  deploymentState: string | null;
  commitState: string | null;
}

/** What GitHub shows of each of `activityIds` (those GitHub shows nothing of are absent): one read for a plan. */
export async function findShownActivities(
  db: Queryable,
  activityIds: readonly string[],
): Promise<Map<string, ShownActivity>> {
  const { rows } = await db.query<{
    activity_id: string;
    deployment_id: string | null;
    deployment_state: string | null;
    commit_state: string | null;
  }>(
    "SELECT activity_id, deployment_id, deployment_state, commit_state FROM github_deployments WHERE activity_id = ANY($1::text[])",
    [activityIds],
  );
  return new Map(
    rows.map((row) => [
      row.activity_id,
      {
        deploymentId: row.deployment_id === null ? null : Number(row.deployment_id),
        deploymentState: row.deployment_state,
        commitState: row.commit_state,
      },
    ]),
  );
}

export async function findShownActivity(
  db: Queryable,
  activityId: string,
): Promise<ShownActivity | undefined> {
  const { rows } = await db.query<{
    deployment_id: string | null;
    deployment_state: string | null;
    commit_state: string | null;
  }>("SELECT deployment_id, deployment_state, commit_state FROM github_deployments WHERE activity_id = $1", [
    activityId,
  ]);
  const row = rows[0];
  return (
    row && {
      deploymentId: row.deployment_id === null ? null : Number(row.deployment_id),
      deploymentState: row.deployment_state,
      commitState: row.commit_state,
    }
  );
}

/** Records what was just sent to GitHub for an activity (fields left undefined keep their value). */
export async function saveShownActivity(
  db: Queryable,
  shown: {
    activityId: string;
    projectKey: string;
    environment: string;
    deploymentId?: number;
    deploymentState?: string;
    commitState?: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO github_deployments (activity_id, project_key, environment, deployment_id, deployment_state, commit_state)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (activity_id) DO UPDATE SET
       deployment_id = COALESCE(excluded.deployment_id, github_deployments.deployment_id),
       deployment_state = COALESCE(excluded.deployment_state, github_deployments.deployment_state),
       commit_state = COALESCE(excluded.commit_state, github_deployments.commit_state)`,
    [
      shown.activityId,
      shown.projectKey,
      shown.environment,
      shown.deploymentId ?? null,
      shown.deploymentState ?? null,
      shown.commitState ?? null,
    ],
  );
}

/** The deployments envhooks made for an environment, oldest first, with the state last sent to each. */
export async function environmentDeployments(
  db: Queryable,
  projectKey: string,
  environment: string,
): Promise<Array<{ activityId: string; deploymentId: number; state: string | null }>> {
  const { rows } = await db.query<{
    activity_id: string;
    deployment_id: string;
    deployment_state: string | null;
  }>(
    `SELECT activity_id, deployment_id, deployment_state FROM github_deployments
     WHERE project_key = $1 AND environment = $2 AND deployment_id IS NOT NULL ORDER BY created_at`,
    [projectKey, environment],
  );
  return rows.map((row) => ({
    activityId: row.activity_id,
    deploymentId: Number(row.deployment_id),
    state: row.deployment_state,
  }));
}

export async function findCommentId(
  db: Queryable,
  projectKey: string,
  pullRequest: number,
): Promise<number | undefined> {
  const { rows } = await db.query<{ comment_id: string }>(
    "SELECT comment_id FROM github_comments WHERE project_key = $1 AND pull_request = $2",
    [projectKey, pullRequest],
  );
  return rows[0] ? Number(rows[0].comment_id) : undefined;
}

export async function saveCommentId(
  db: Queryable,
  projectKey: string,
  pullRequest: number,
  commentId: number | null,
): Promise<void> {
  if (commentId === null) {
    await db.query("DELETE FROM github_comments WHERE project_key = $1 AND pull_request = $2", [
      projectKey,
      pullRequest,
    ]);
    return;
  }
  await db.query(
    `INSERT INTO github_comments (project_key, pull_request, comment_id) VALUES ($1, $2, $3)
     ON CONFLICT (project_key, pull_request) DO UPDATE SET comment_id = excluded.comment_id`,
    [projectKey, pullRequest, commentId],
  );
}
