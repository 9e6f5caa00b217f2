import type { Queryable } from "./database.ts";

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
  task: { projectKey: string; kind: string; body: unknown },
): Promise<void> {
  await tx.query("INSERT INTO github_tasks (project_key, kind, body) VALUES ($1, $2, $3)", [
    task.projectKey,
    task.kind,
    JSON.stringify(task.body),
  ]);
}

/** The oldest task of a project still to do. */
export async function nextGithubTask(db: Queryable, projectKey: string): Promise<GithubTask | undefined> {
  const { rows } = await db.query<GithubTask>(
    `SELECT id, project_key AS "projectKey", kind, body, attempts, next_attempt_at AS "nextAttemptAt"
     FROM github_tasks WHERE project_key = $1 AND state = 'pending' ORDER BY id LIMIT 1`,
    [projectKey],
  );
  return rows[0];
}

export async function markGithubTaskDone(db: Queryable, id: number): Promise<void> {
  await db.query("UPDATE github_tasks SET state = 'done', done_at = now() WHERE id = $1", [id]);
}

/** Counts a failed attempt; after `maxAttempts` the task is set aside as failed so later ones go on. */
export async function recordGithubTaskFailure(
  db: Queryable,
  id: number,
  error: string,
  { maxAttempts, retryAt }: { maxAttempts: number; retryAt: Date },
): Promise<{ attempts: number; failed: boolean }> {
  const { rows } = await db.query<{ attempts: number; state: string }>(
    `UPDATE github_tasks
     SET attempts = attempts + 1, last_error = $2, next_attempt_at = $4,
         state = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE state END,
         done_at = CASE WHEN attempts + 1 >= $3 THEN now() ELSE done_at END
     WHERE id = $1 AND state = 'pending'
     RETURNING attempts, state`,
    [id, error.slice(0, 2000), maxAttempts, retryAt],
  );
  const row = rows[0];
  return { attempts: row?.attempts ?? maxAttempts, failed: row?.state === "failed" };
}

/** Projects whose oldest pending task is due (after a restart, or a lost wake-up). */
export async function projectsWithDueGithubTasks(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ project_key: string }>(
    `SELECT t.project_key FROM github_tasks t
     WHERE t.id IN (SELECT min(id) FROM github_tasks WHERE state = 'pending' GROUP BY project_key)
       AND t.next_attempt_at <= now()`,
  );
  return rows.map((row) => row.project_key);
}

export async function findDeploymentId(db: Queryable, activityId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ deployment_id: string }>(
    "SELECT deployment_id FROM github_deployments WHERE activity_id = $1",
    [activityId],
  );
  return rows[0] ? Number(rows[0].deployment_id) : undefined;
}

export async function saveDeploymentId(
  db: Queryable,
  deployment: { activityId: string; projectKey: string; environment: string; deploymentId: number },
): Promise<void> {
  await db.query(
    `INSERT INTO github_deployments (activity_id, project_key, environment, deployment_id)
     VALUES ($1, $2, $3, $4) ON CONFLICT (activity_id) DO NOTHING`,
    [deployment.activityId, deployment.projectKey, deployment.environment, deployment.deploymentId],
  );
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
