import type { Queryable } from "./database.ts";
import { type OrderedTable, projectsWithDueWork, recordOrderedFailure } from "./ordered-work.ts";

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

/** Projects whose oldest pending task is due. */
export function projectsWithDueGithubTasks(db: Queryable): Promise<string[]> {
  return projectsWithDueWork(db, UPDATES);
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
