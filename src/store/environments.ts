import type { ActiveEnvironment } from "../lifecycle/cap-environments.ts";
import type { EnvironmentState, NewEnvironment } from "../lifecycle/transition.ts";
import type { Queryable } from "./database.ts";

/** An environment as stored: the lifecycle's view plus what the API and activities show. */
export interface StoredEnvironment extends EnvironmentState {
  machineName: string;
  previousCommit: string | null;
  cloneParentData: boolean;
  lastActivityId: string | null;
  /** From the environment_url template, or as a deploy runner reported it. */
  url: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `name, machine_name AS "machineName", kind, pull_request AS "pullRequest", parent,
  head_commit AS "headCommit", previous_commit AS "previousCommit", status, is_main AS "isMain",
  clone_parent_data AS "cloneParentData", last_activity_id AS "lastActivityId",
  url, created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function listEnvironments(db: Queryable, projectId: number): Promise<StoredEnvironment[]> {
  const { rows } = await db.query<StoredEnvironment>(
    `SELECT ${COLUMNS} FROM environments WHERE project_id = $1 ORDER BY is_main DESC, name`,
    [projectId],
  );
  return rows;
}

/** The named environments of a project, and with `basedOn` the pull requests based on that branch. */
export async function findEnvironments(
  db: Queryable,
  projectId: number,
  { names, basedOn }: { names: string[]; basedOn: string | null },
): Promise<StoredEnvironment[]> {
  const { rows } = await db.query<StoredEnvironment>(
    `SELECT ${COLUMNS} FROM environments
     WHERE project_id = $1 AND (name = ANY($2::text[]) OR (kind = 'pull_request' AND parent = $3))
     ORDER BY name`,
    [projectId, names, basedOn],
  );
  return rows;
}

/** Which of these machine names the project's environments use already. */
export async function takenMachineNames(
  db: Queryable,
  projectId: number,
  candidates: string[],
): Promise<Set<string>> {
  const { rows } = await db.query<{ machine_name: string }>(
    "SELECT machine_name FROM environments WHERE project_id = $1 AND machine_name = ANY($2::text[])",
    [projectId, candidates],
  );
  return new Set(rows.map((row) => row.machine_name));
}

export async function insertEnvironment(
  tx: Queryable,
  projectId: number,
  environment: NewEnvironment & { machineName: string },
  at: Date,
): Promise<StoredEnvironment> {
  const { rows } = await tx.query<StoredEnvironment>(
    `INSERT INTO environments (project_id, name, machine_name, kind, pull_request, parent, head_commit, status,
       is_main, clone_parent_data, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $10)
     RETURNING ${COLUMNS}`,
    [
      projectId,
      environment.name,
      environment.machineName,
      environment.kind,
      environment.pullRequest,
      environment.parent,
      environment.headCommit,
      environment.isMain,
      environment.cloneParentData,
      at,
    ],
  );
  return firstRow(rows, environment.name);
}

/** Moves an environment's head; the old head becomes its previous revision when the head changes. */
export async function updateEnvironment(
  tx: Queryable,
  projectId: number,
  name: string,
  change: { headCommit?: string | null; status?: "active" | "inactive" },
  /** When it changed; null keeps its time (a `paths` skip is no activity: stale_after, the cap). */
  at: Date | null,
): Promise<StoredEnvironment> {
  const { rows } = await tx.query<StoredEnvironment>(
    `UPDATE environments SET
       previous_commit = CASE WHEN $3::boolean AND head_commit IS DISTINCT FROM $4 THEN head_commit
                              ELSE previous_commit END,
       head_commit = CASE WHEN $3::boolean THEN $4 ELSE head_commit END,
       status = COALESCE($5, status),
       updated_at = COALESCE($6::timestamptz, updated_at)
     WHERE project_id = $1 AND name = $2
     RETURNING ${COLUMNS}`,
    [projectId, name, change.headCommit !== undefined, change.headCommit ?? null, change.status ?? null, at],
  );
  return firstRow(rows, name);
}

/** Sets the address a deploy runner reported. */
export async function setEnvironmentUrl(tx: Queryable, projectId: number, name: string, url: string) {
  await tx.query("UPDATE environments SET url = $3 WHERE project_id = $1 AND name = $2", [
    projectId,
    name,
    url,
  ]);
}

/** A project's environments (never the default branch's) with no activity since `before`. */
export async function staleEnvironments(
  db: Queryable,
  projectId: number,
  before: Date,
): Promise<StoredEnvironment[]> {
  const { rows } = await db.query<StoredEnvironment>(
    `SELECT ${COLUMNS} FROM environments WHERE project_id = $1 AND NOT is_main AND updated_at < $2 ORDER BY name`,
    [projectId, before],
  );
  return rows;
}

/** A project's active environments besides the default branch's, as `max_environments` counts them. */
export async function activeEnvironments(db: Queryable, projectId: number): Promise<ActiveEnvironment[]> {
  const { rows } = await db.query<ActiveEnvironment>(
    `SELECT name, kind, pull_request AS "pullRequest", updated_at AS "updatedAt" FROM environments
     WHERE project_id = $1 AND status = 'active' AND NOT is_main ORDER BY name`,
    [projectId],
  );
  return rows.map((row) => ({ ...row, updatedAt: new Date(row.updatedAt) }));
}

export async function deleteEnvironment(
  tx: Queryable,
  projectId: number,
  name: string,
): Promise<StoredEnvironment> {
  const { rows } = await tx.query<StoredEnvironment>(
    `DELETE FROM environments WHERE project_id = $1 AND name = $2 RETURNING ${COLUMNS}`,
    [projectId, name],
  );
  return firstRow(rows, name);
}

function firstRow(rows: StoredEnvironment[], name: string): StoredEnvironment {
  const row = rows[0];
  if (!row) throw new Error(`environment ${name} not found`);
  return row;
}

/**
 * The environments a batch of events concerns, read once: those named, the pull requests based on
 * the `basedOn` branches, and those holding any of `machineNames` (the names new environments may
 * take).
 */
export async function findEnvironmentsForBatch(
  db: Queryable,
  projectId: number,
  { names, basedOn, machineNames }: { names: string[]; basedOn: string[]; machineNames: string[] },
): Promise<StoredEnvironment[]> {
  const { rows } = await db.query<StoredEnvironment>(
    `SELECT ${COLUMNS} FROM environments
     WHERE project_id = $1 AND (name = ANY($2::text[]) OR (kind = 'pull_request' AND parent = ANY($3::text[]))
       OR machine_name = ANY($4::text[]))
     ORDER BY name`,
    [projectId, names, basedOn, machineNames],
  );
  return rows;
}

/** Deletes a project's environments by name, in one statement. */
export async function deleteEnvironments(tx: Queryable, projectId: number, names: string[]): Promise<void> {
  if (names.length === 0) return;
  await tx.query("DELETE FROM environments WHERE project_id = $1 AND name = ANY($2::text[])", [
    projectId,
    names,
  ]);
}

/**
 * Writes environments as a batch left them, in one statement: new ones inserted; existing ones get
 * their head, status, newest activity and time (what `updateEnvironment` and `insertActivity`
 * change). `url` is the address the batch set (null: none), so an existing environment keeps the
 * one a deploy runner reported meanwhile. Existing ones first: they free no machine name.
 */
export async function writeEnvironments(
  tx: Queryable,
  projectId: number,
  environments: StoredEnvironment[],
): Promise<void> {
  if (environments.length === 0) return;
  await tx.query(
    `INSERT INTO environments (project_id, name, machine_name, kind, pull_request, parent, head_commit,
       previous_commit, status, is_main, clone_parent_data, last_activity_id, url, created_at, updated_at)
     SELECT $1, e.name, e.machine_name, e.kind, e.pull_request, e.parent, e.head_commit, e.previous_commit,
       e.status, e.is_main, e.clone_parent_data, e.last_activity_id, e.url, e.created_at, e.updated_at
     FROM jsonb_to_recordset($2::jsonb) AS e(n integer, name text, machine_name text, kind text,
       pull_request integer, parent text, head_commit text, previous_commit text, status text, is_main boolean,
       clone_parent_data boolean, last_activity_id text, url text, created_at timestamptz, updated_at timestamptz)
     ORDER BY e.n
     ON CONFLICT (project_id, name) DO UPDATE SET head_commit = excluded.head_commit,
       previous_commit = excluded.previous_commit, status = excluded.status,
       last_activity_id = excluded.last_activity_id, url = COALESCE(excluded.url, environments.url),
       updated_at = excluded.updated_at`,
    [
      projectId,
      JSON.stringify(
        environments.map((environment, n) => ({
          n,
          name: environment.name,
          machine_name: environment.machineName,
          kind: environment.kind,
          pull_request: environment.pullRequest,
          parent: environment.parent,
          head_commit: environment.headCommit,
          previous_commit: environment.previousCommit,
          status: environment.status,
          is_main: environment.isMain,
          clone_parent_data: environment.cloneParentData,
          last_activity_id: environment.lastActivityId,
          url: environment.url,
          created_at: new Date(environment.createdAt).toISOString(),
          updated_at: new Date(environment.updatedAt).toISOString(),
        })),
      ),
    ],
  );
}
