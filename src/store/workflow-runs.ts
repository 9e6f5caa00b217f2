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

/** A dispatch GitHub answered without its run's id (204), waiting for a run to claim it. */
export interface UnidentifiedDispatch {
  activityId: string;
  projectKey: string;
  /** A file name in `.github/workflows`, or the workflow's numeric id (as text). */
  workflow: string;
  /** The branch it was dispatched on. */
  ref: string;
}

/** Records a dispatch answered without its run's id (once: a second record keeps the first). */
export async function recordUnidentifiedDispatch(
  db: Queryable,
  dispatch: UnidentifiedDispatch,
  at: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO unidentified_dispatches (activity_id, project_key, workflow, ref, sent_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (activity_id) DO NOTHING`,
    [dispatch.activityId, dispatch.projectKey, dispatch.workflow, dispatch.ref, at.toISOString()],
  );
}

/** The activity's dispatch still waiting for its run, locked until the transaction ends. */
export async function lockUnidentifiedDispatch(
  tx: Queryable,
  activityId: string,
): Promise<UnidentifiedDispatch | undefined> {
  const { rows } = await tx.query<UnidentifiedDispatch>(
    `SELECT activity_id AS "activityId", project_key AS "projectKey", workflow, ref
     FROM unidentified_dispatches WHERE activity_id = $1 FOR UPDATE`,
    [activityId],
  );
  return rows[0];
}

/** A run claimed the dispatch: no other may. */
export async function deleteUnidentifiedDispatch(tx: Queryable, activityId: string): Promise<void> {
  await tx.query("DELETE FROM unidentified_dispatches WHERE activity_id = $1", [activityId]);
}

/** Whether the activity's dispatch was answered without its run's id and no run has claimed it yet. */
export async function awaitsUnidentifiedRun(db: Queryable, activityId: string): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM unidentified_dispatches WHERE activity_id = $1", [
    activityId,
  ]);
  return rows.length > 0;
}

/**
 * How long after a dispatch answered without its run's id the repository's run events are stored in
 * case one is its run's (its first event comes within seconds; a day covers GitHub's outages).
 */
export const AWAITED_RUN_MS = 24 * 60 * 60_000;

/**
 * Whether a `workflow_run`/`workflow_job` event of run `runId` in the project may concern envhooks:
 * the run is one it started, or the project has a dispatch sent since `since` still waiting for
 * its run (whose id it does not know).
 */
export async function mayConcernEnvhooks(
  db: Queryable,
  projectKey: string,
  runId: number,
  since: Date,
): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM workflow_runs WHERE run_id = $1
     UNION ALL
     SELECT 1 FROM unidentified_dispatches WHERE project_key = $2 AND sent_at >= $3
     LIMIT 1`,
    [runId, projectKey, since.toISOString()],
  );
  return rows.length > 0;
}
