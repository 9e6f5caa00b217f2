import type { Queryable } from "./database.ts";

export interface Project {
  id: number;
  key: string;
  fullName: string;
  defaultBranch: string;
}

const COLUMNS = `id, key, full_name AS "fullName", default_branch AS "defaultBranch"`;

/** GitHub compares owner/repo case-insensitively; so does envhooks. */
export function projectKey(fullName: string): string {
  return fullName.toLowerCase();
}

/**
 * Creates or refreshes a project and locks its row until the transaction ends, so that one
 * project's events are applied one at a time even across instances. `config`, the options just
 * read from `.github/envhooks.yml`, is kept for work not started by an event; null (an invalid
 * file) keeps the last valid ones.
 */
export async function lockProject(
  tx: Queryable,
  project: { fullName: string; defaultBranch: string; installationId: number | null; config: unknown },
): Promise<Project> {
  const { rows } = await tx.query<Project>(
    `INSERT INTO projects (key, full_name, default_branch, installation_id, config) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key) DO UPDATE SET full_name = excluded.full_name, default_branch = excluded.default_branch,
       installation_id = COALESCE(excluded.installation_id, projects.installation_id),
       config = COALESCE(excluded.config, projects.config), updated_at = now()
     RETURNING ${COLUMNS}`,
    [
      projectKey(project.fullName),
      project.fullName,
      project.defaultBranch,
      project.installationId,
      project.config === null ? null : JSON.stringify(project.config),
    ],
  );
  // INSERT … ON CONFLICT DO UPDATE holds the row lock until the transaction ends.
  const row = rows[0];
  if (!row) throw new Error(`project ${project.fullName} could not be stored`);
  return row;
}

/** A project as work not started by a GitHub event sees it: with its options and installation. */
export interface ProjectWithConfig extends Project {
  /** The last valid `.github/envhooks.yml` options, or null before the first one was read. */
  config: unknown;
  installationId: number | null;
}

/** Locks an existing project's row, like `lockProject`, and returns its stored options. */
export function lockProjectByKey(tx: Queryable, key: string): Promise<ProjectWithConfig | undefined> {
  return projectWithConfig(tx, key, "FOR UPDATE");
}

export function findProjectByKey(db: Queryable, key: string): Promise<ProjectWithConfig | undefined> {
  return projectWithConfig(db, key, "");
}

async function projectWithConfig(
  db: Queryable,
  key: string,
  lock: "FOR UPDATE" | "",
): Promise<ProjectWithConfig | undefined> {
  const { rows } = await db.query<ProjectWithConfig>(
    `SELECT ${COLUMNS}, config, installation_id AS "installationId" FROM projects WHERE key = $1 ${lock}`,
    [key],
  );
  const row = rows[0];
  return row && { ...row, installationId: row.installationId === null ? null : Number(row.installationId) };
}

/** Projects whose options set an `environment_ttl`. */
export async function projectsWithTtl(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ key: string }>(
    "SELECT key FROM projects WHERE config ? 'environment_ttl' ORDER BY key",
  );
  return rows.map((row) => row.key);
}

export async function findProject(db: Queryable, fullName: string): Promise<Project | undefined> {
  const { rows } = await db.query<Project>(`SELECT ${COLUMNS} FROM projects WHERE key = $1`, [
    projectKey(fullName),
  ]);
  return rows[0];
}

export async function listProjects(db: Queryable): Promise<Project[]> {
  const { rows } = await db.query<Project>(`SELECT ${COLUMNS} FROM projects ORDER BY key`);
  return rows;
}
