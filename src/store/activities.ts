import { type Activity, ALERT_TYPES } from "../activity/activity.ts";
import type { Queryable } from "./database.ts";

export async function insertActivity(
  tx: Queryable,
  projectId: number,
  activity: Activity,
  githubDeliveryId: string | null,
  runnerDeadline: Date | null = null,
  /** The environment whose newest activity this is, and its address when one is known. */
  latestOf: { environment: string; url: string | null } | null = null,
): Promise<{ sequence: number }> {
  const { rows } = await tx.query<{ sequence: number }>(
    `WITH inserted AS (
       INSERT INTO activities (id, project_id, environment, type, state, result, body, github_delivery_id,
         created_at, updated_at, runner_deadline)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       RETURNING seq),
     latest AS (
       UPDATE environments SET last_activity_id = $1, url = COALESCE($13::text, url)
       WHERE project_id = $2 AND name = $12::text)
     SELECT seq AS sequence FROM inserted`,
    [
      activity.id,
      projectId,
      activity.parameters.environment,
      activity.type,
      activity.state,
      activity.result,
      JSON.stringify(activity),
      githubDeliveryId,
      activity.created_at,
      activity.updated_at,
      runnerDeadline,
      latestOf?.environment ?? null,
      latestOf?.url ?? null,
    ],
  );
  return rows[0] ?? { sequence: 0 };
}

/** An activity to store, with the GitHub delivery that caused it and when its runner must report by. */
export interface NewActivity {
  activity: Activity;
  githubDeliveryId: string | null;
  runnerDeadline: Date | null;
}

/**
 * Stores activities in one statement, in the order given; returns their positions (`seq`), in the
 * same order. The environments' newest activity is the caller's to write (`writeEnvironments`).
 */
export async function insertActivities(
  tx: Queryable,
  projectId: number,
  activities: readonly NewActivity[],
): Promise<number[]> {
  if (activities.length === 0) return [];
  const { rows } = await tx.query<{ id: string; seq: number }>(
    `INSERT INTO activities (id, project_id, environment, type, state, result, body, github_delivery_id,
       created_at, updated_at, runner_deadline)
     SELECT a.id, $1, a.environment, a.type, a.state, a.result, a.body, a.github_delivery_id, a.created_at,
       a.updated_at, a.runner_deadline
     FROM jsonb_to_recordset($2::jsonb) AS a(n integer, id text, environment text, type text, state text,
       result text, body jsonb, github_delivery_id text, created_at timestamptz, updated_at timestamptz,
       runner_deadline timestamptz)
     ORDER BY a.n
     RETURNING id, seq`,
    [
      projectId,
      JSON.stringify(
        activities.map(({ activity, githubDeliveryId, runnerDeadline }, n) => ({
          n,
          id: activity.id,
          environment: activity.parameters.environment,
          type: activity.type,
          state: activity.state,
          result: activity.result,
          body: activity,
          github_delivery_id: githubDeliveryId,
          created_at: activity.created_at,
          updated_at: activity.updated_at,
          runner_deadline: runnerDeadline?.toISOString() ?? null,
        })),
      ),
    ],
  );
  const sequences = new Map(rows.map((row) => [row.id, Number(row.seq)]));
  return activities.map(({ activity }) => sequences.get(activity.id) ?? 0);
}

export interface ActivityFilter {
  limit: number;
  /** Only activities older than this position (from a previous page's `next`). */
  before?: number | undefined;
  type?: string | undefined;
  state?: string | undefined;
  environment?: string | undefined;
  /** `only`: alerts alone; `exclude`: everything but alerts. */
  alerts?: "only" | "exclude" | undefined;
}

/** A project's activities, newest first; `next` is the position to pass as `before` for the next page. */
export async function listActivities(
  db: Queryable,
  projectId: number,
  filter: ActivityFilter,
): Promise<{ activities: Activity[]; next: number | undefined }> {
  const { rows } = await db.query<{ seq: number; body: Activity }>(
    `SELECT seq, body FROM activities
     WHERE project_id = $1 AND ($2::bigint IS NULL OR seq < $2) AND ($3::text IS NULL OR type = $3)
       AND ($4::text IS NULL OR state = $4) AND ($5::text IS NULL OR environment = $5)
       AND ($7::text IS NULL OR (type = ANY($8::text[])) = ($7 = 'only'))
     ORDER BY seq DESC LIMIT $6`,
    [
      projectId,
      filter.before ?? null,
      filter.type ?? null,
      filter.state ?? null,
      filter.environment ?? null,
      filter.limit + 1,
      filter.alerts ?? null,
      ALERT_TYPES,
    ],
  );
  const page = rows.slice(0, filter.limit);
  return {
    activities: page.map((row) => row.body),
    next: rows.length > filter.limit ? page.at(-1)?.seq : undefined,
  };
}

export async function getActivity(db: Queryable, id: string): Promise<Activity | undefined> {
  const { rows } = await db.query<{ body: Activity }>("SELECT body FROM activities WHERE id = $1", [id]);
  return rows[0]?.body;
}

/**
 * The newest activity of each environment of a project that is no alert, by environment name: an
 * integration's failed delivery says nothing of the environment (a timed-out runner's activity is
 * failed itself).
 */
export async function latestActivityByEnvironment(
  db: Queryable,
  projectId: number,
): Promise<Map<string, Activity>> {
  const { rows } = await db.query<{ environment: string; body: Activity }>(
    `SELECT DISTINCT ON (environment) environment, body FROM activities
     WHERE project_id = $1 AND environment IS NOT NULL AND type <> ALL($2::text[])
     ORDER BY environment, seq DESC`,
    [projectId, ALERT_TYPES],
  );
  return new Map(rows.map((row) => [row.environment, row.body]));
}

/**
 * Which of the named environments' newest activity that is no alert completed with success (a
 * `paths` skip needs it: the environment is as built from its head).
 */
export async function environmentsLastBuiltOk(
  db: Queryable,
  projectId: number,
  names: readonly string[],
): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const { rows } = await db.query<{ environment: string; state: string; result: string | null }>(
    `SELECT DISTINCT ON (environment) environment, state, result FROM activities
     WHERE project_id = $1 AND environment = ANY($2::text[]) AND type <> ALL($3::text[])
     ORDER BY environment, seq DESC`,
    [projectId, names, ALERT_TYPES],
  );
  return new Set(
    rows.filter((row) => row.state === "complete" && row.result === "success").map((row) => row.environment),
  );
}

/** An activity locked for a change, with where it belongs. */
export interface LockedActivity {
  sequence: number;
  projectId: number;
  projectKey: string;
  activity: Activity;
  runnerDeadline: Date | null;
}

/** Locks an activity's row until the transaction ends, so reports about it apply one at a time. */
export async function lockActivity(tx: Queryable, id: string): Promise<LockedActivity | undefined> {
  const { rows } = await tx.query<{
    sequence: string;
    projectId: string;
    projectKey: string;
    body: Activity;
    runnerDeadline: Date | null;
  }>(
    `SELECT a.seq AS sequence, a.project_id AS "projectId", p.key AS "projectKey", a.body,
       a.runner_deadline AS "runnerDeadline"
     FROM activities a JOIN projects p ON p.id = a.project_id WHERE a.id = $1 FOR UPDATE OF a`,
    [id],
  );
  const row = rows[0];
  return (
    row && {
      sequence: Number(row.sequence),
      projectId: Number(row.projectId),
      projectKey: row.projectKey,
      activity: row.body,
      runnerDeadline: row.runnerDeadline && new Date(row.runnerDeadline),
    }
  );
}

/** Stores an activity's new state; `runnerDeadline` null once no report is awaited any more. */
export async function updateActivity(
  tx: Queryable,
  activity: Activity,
  runnerDeadline: Date | null,
): Promise<void> {
  await tx.query(
    `UPDATE activities SET state = $2, result = $3, body = $4, updated_at = $5, runner_deadline = $6
     WHERE id = $1`,
    [
      activity.id,
      activity.state,
      activity.result,
      JSON.stringify(activity),
      activity.updated_at,
      runnerDeadline,
    ],
  );
}

/**
 * Stores activities' new states in one statement, as `updateActivity` does each (`runner_deadline`
 * null: no report is awaited any more).
 */
export async function updateActivitiesAwaitingNothing(
  tx: Queryable,
  activities: readonly Activity[],
): Promise<void> {
  if (activities.length === 0) return;
  await tx.query(
    `UPDATE activities a SET state = x.state, result = x.result, body = x.body, updated_at = x.updated_at,
       runner_deadline = NULL
     FROM jsonb_to_recordset($1::jsonb) AS x(id text, state text, result text, body jsonb, updated_at timestamptz)
     WHERE a.id = x.id`,
    [
      JSON.stringify(
        activities.map((activity) => ({
          id: activity.id,
          state: activity.state,
          result: activity.result,
          body: activity,
          updated_at: activity.updated_at,
        })),
      ),
    ],
  );
}

/** Activities whose deploy runner has not reported by its deadline. */
export async function activitiesPastRunnerDeadline(db: Queryable, now: Date): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM activities WHERE runner_deadline <= $1 ORDER BY runner_deadline LIMIT 100",
    [now],
  );
  return rows.map((row) => row.id);
}

/**
 * A project's `pending` activities of these environments, oldest first, locked until the
 * transaction ends (a runner's report about one waits, then finds it cancelled).
 */
export async function lockPendingActivities(
  tx: Queryable,
  projectId: number,
  environments: readonly string[],
): Promise<Array<{ sequence: number; activity: Activity }>> {
  if (environments.length === 0) return [];
  const { rows } = await tx.query<{ sequence: string; body: Activity }>(
    `SELECT seq AS sequence, body FROM activities
     WHERE project_id = $1 AND environment = ANY($2::text[]) AND state = 'pending'
     ORDER BY seq FOR UPDATE`,
    [projectId, environments],
  );
  return rows.map((row) => ({ sequence: Number(row.sequence), activity: row.body }));
}
