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
 * project's events are applied one at a time even across instances.
 */
export async function lockProject(
  tx: Queryable,
  project: { fullName: string; defaultBranch: string; installationId: number | null },
): Promise<Project> {
  const { rows } = await tx.query<Project>(
    `INSERT INTO projects (key, full_name, default_branch, installation_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (key) DO UPDATE SET full_name = excluded.full_name, default_branch = excluded.default_branch,
       installation_id = COALESCE(excluded.installation_id, projects.installation_id), updated_at = now()
     RETURNING ${COLUMNS}`,
    [projectKey(project.fullName), project.fullName, project.defaultBranch, project.installationId],
  );
  // INSERT … ON CONFLICT DO UPDATE holds the row lock until the transaction ends.
  const row = rows[0];
  if (!row) throw new Error(`project ${project.fullName} could not be stored`);
  return row;
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
