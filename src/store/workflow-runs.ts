import type { Queryable } from "./database.ts";

/** A job of a workflow run, as its `workflow_job` events showed it. */
export interface RunJob {
  name: string;
  status: string;
  conclusion: string | null;
}

/** The workflow run an activity started (`runner: github-actions`), as last seen. */
export interface WorkflowRun {
  runId: number;
  activityId: string;
  projectKey: string;
  htmlUrl: string | null;
  /** The branch the run was dispatched on; null when not known. */
  ref: string | null;
  status: string | null;
  jobs: Record<string, RunJob>;
  etag: string | null;
  changedAt: Date;
}

/** The columns of `workflow_runs` (aliased `r`) as a `WorkflowRun`. */
const COLUMNS = `r.run_id AS "runId", r.activity_id AS "activityId", r.project_key AS "projectKey",
  r.html_url AS "htmlUrl", r.ref, r.status, r.jobs, r.etag, r.changed_at AS "changedAt"`;

function toRun(row: WorkflowRun): WorkflowRun {
  return { ...row, runId: Number(row.runId), changedAt: new Date(row.changedAt) };
}

/** Records the run an activity started; a run recorded already (its event came first) is kept. */
export async function recordWorkflowRun(
  db: Queryable,
  run: { runId: number; activityId: string; projectKey: string; htmlUrl: string | null; ref: string | null },
  at: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO workflow_runs (run_id, activity_id, project_key, html_url, ref, changed_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id) DO NOTHING`,
    [run.runId, run.activityId, run.projectKey, run.htmlUrl, run.ref, at.toISOString()],
  );
}

/** The run, locked until the transaction ends, so that its events apply one at a time. */
export async function lockWorkflowRun(tx: Queryable, runId: number): Promise<WorkflowRun | undefined> {
  const { rows } = await tx.query<WorkflowRun>(
    `SELECT ${COLUMNS} FROM workflow_runs r WHERE r.run_id = $1 FOR UPDATE`,
    [runId],
  );
  return rows[0] && toRun(rows[0]);
}

/** The runs an activity started, newest first (a dispatch retried after a lost answer may start two). */
export async function runsOfActivity(db: Queryable, activityId: string): Promise<WorkflowRun[]> {
  const { rows } = await db.query<WorkflowRun>(
    `SELECT ${COLUMNS} FROM workflow_runs r WHERE r.activity_id = $1 ORDER BY r.run_id DESC`,
    [activityId],
  );
  return rows.map(toRun);
}

/** Stores what was seen of a run; `changed`: something about it changed (its quiet time starts again). */
export async function saveWorkflowRun(
  tx: Queryable,
  run: Pick<WorkflowRun, "runId" | "htmlUrl" | "status" | "jobs" | "etag">,
  changedAt: Date | null,
): Promise<void> {
  await tx.query(
    `UPDATE workflow_runs SET html_url = COALESCE($2, html_url), status = $3, jobs = $4, etag = $5,
       changed_at = COALESCE($6, changed_at)
     WHERE run_id = $1`,
    [
      run.runId,
      run.htmlUrl,
      run.status,
      JSON.stringify(run.jobs),
      run.etag,
      changedAt?.toISOString() ?? null,
    ],
  );
}

/**
 * Runs not seen to complete whose activity is not finished either, that have shown no change since
 * `quietSince` (every one such, with the epoch): to be read from GitHub in case an event was missed.
 */
export async function quietWorkflowRuns(
  db: Queryable,
  quietSince: Date,
  limit = 100,
): Promise<WorkflowRun[]> {
  const { rows } = await db.query<WorkflowRun>(
    `SELECT ${COLUMNS}
     FROM workflow_runs r JOIN activities a ON a.id = r.activity_id
     WHERE r.status IS DISTINCT FROM 'completed' AND r.changed_at <= $1
       AND a.state IN ('pending', 'in_progress')
     ORDER BY r.changed_at LIMIT $2`,
    [quietSince.toISOString(), limit],
  );
  return rows.map(toRun);
}

/** A read of the run found it unchanged (304): its quiet time starts again. */
export async function markWorkflowRunSeen(db: Queryable, runId: number, at: Date): Promise<void> {
  await db.query("UPDATE workflow_runs SET changed_at = $2 WHERE run_id = $1", [runId, at.toISOString()]);
}
