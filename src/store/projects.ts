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

/** A project as a GitHub event names it. */
export interface ProjectRef {
  fullName: string;
  defaultBranch: string;
  installationId: number | null;
}

/**
 * Creates or refreshes a project and locks its row until the transaction ends, so that one
 * project's events are applied one at a time even across instances. Its options are kept apart
 * (`saveOptions`), by whoever read them.
 */
export async function lockProject(tx: Queryable, project: ProjectRef): Promise<Project> {
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

/** One file a repository's options were read from, as it was read. */
export interface OptionsSource {
  /** `owner/repo`, lower case. */
  repo: string;
  path: string;
  /** GitHub's ETag for the file: the next read is conditional on it. Null when the file was missing. */
  etag: string | null;
  /** The file's blob sha: which version was read. */
  sha: string | null;
  /** The file's parsed content (null: missing, or could not be used). */
  config: unknown;
  /** GitHub answered 404: there is no such file (Probot then reads the owner's `.github` one). */
  missing?: boolean;
  /** Why the file could not be used, reported again while it does not change. */
  problem?: string;
}

/** A project's stored options and what they were read from. */
export interface StoredOptions {
  defaultBranch: string;
  installationId: number | null;
  /** The last valid options (null before any were read). */
  config: unknown;
  /** Why the current file is invalid; null when it is valid. */
  problems: string[] | null;
  sources: OptionsSource[] | null;
  checkedAt: Date | null;
  /** The options may have changed since they were read: read them again before the next event. */
  stale: boolean;
  /** How many times they were marked stale: a read saves with the count it began with. */
  generation: number;
}

export async function findStoredOptions(db: Queryable, key: string): Promise<StoredOptions | undefined> {
  const { rows } = await db.query<StoredOptions>(
    `SELECT default_branch AS "defaultBranch", installation_id AS "installationId", config,
       config_problems AS problems, config_sources AS sources, config_checked_at AS "checkedAt",
       config_stale AS stale, config_generation AS generation
     FROM projects WHERE key = $1`,
    [key],
  );
  const row = rows[0];
  return row && { ...row, installationId: row.installationId === null ? null : Number(row.installationId) };
}

/**
 * Keeps the options just read from GitHub, creating the project if it is new. Invalid options keep
 * the last valid ones (for work not started by an event) beside the problems. `checkedAt` is when
 * the read began: a read that began earlier than the stored one changes nothing, and one that began
 * before the options were marked stale again (`generation`) leaves them stale.
 */
export async function saveOptions(
  db: Queryable,
  project: ProjectRef,
  options: {
    config: unknown;
    problems: string[] | null;
    sources: OptionsSource[];
    checkedAt: Date;
    generation: number;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO projects (key, full_name, default_branch, installation_id, config, config_problems,
       config_sources, config_checked_at, config_stale)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false)
     ON CONFLICT (key) DO UPDATE SET config = COALESCE(excluded.config, projects.config),
       config_problems = excluded.config_problems, config_sources = excluded.config_sources,
       config_checked_at = excluded.config_checked_at, config_stale = projects.config_generation <> $9,
       installation_id = COALESCE(excluded.installation_id, projects.installation_id)
     WHERE projects.config_checked_at IS NULL OR projects.config_checked_at <= excluded.config_checked_at`,
    [
      projectKey(project.fullName),
      project.fullName,
      project.defaultBranch,
      project.installationId,
      options.config === null ? null : JSON.stringify(options.config),
      options.problems === null ? null : JSON.stringify(options.problems),
      JSON.stringify(options.sources),
      options.checkedAt,
      options.generation,
    ],
  );
}

/** GitHub answered that nothing changed (304): the stored options hold for another while (see `saveOptions`). */
export async function markOptionsChecked(
  db: Queryable,
  key: string,
  { checkedAt, generation }: { checkedAt: Date; generation: number },
): Promise<void> {
  await db.query(
    `UPDATE projects SET config_checked_at = $2, config_stale = config_generation <> $3
     WHERE key = $1 AND (config_checked_at IS NULL OR config_checked_at <= $2)`,
    [key, checkedAt, generation],
  );
}

/**
 * Marks options that may have changed, so the projects' next events read them again: every project of
 * an installation, the named projects, or those whose options come from a file of `sourceRepo`
 * (any of its files, or only `paths`). Returns the projects marked.
 */
export async function markOptionsStale(
  db: Queryable,
  which: { installationId: number } | { keys: string[] } | { sourceRepo: string; paths: string[] | null },
): Promise<string[]> {
  if ("installationId" in which) {
    return keysOf(
      await db.query<{ key: string }>(
        `UPDATE projects SET ${MARK_STALE} WHERE installation_id = $1 RETURNING key`,
        [which.installationId],
      ),
    );
  }
  if ("keys" in which) {
    return keysOf(
      await db.query<{ key: string }>(
        `UPDATE projects SET ${MARK_STALE} WHERE key = ANY($1::text[]) RETURNING key`,
        [which.keys],
      ),
    );
  }
  const sources =
    which.paths === null
      ? [JSON.stringify([{ repo: which.sourceRepo.toLowerCase() }])]
      : which.paths.map((path) => JSON.stringify([{ repo: which.sourceRepo.toLowerCase(), path }]));
  return keysOf(
    await db.query<{ key: string }>(
      `UPDATE projects SET ${MARK_STALE} WHERE config_sources @> ANY($1::jsonb[]) RETURNING key`,
      [sources],
    ),
  );
}

const MARK_STALE = "config_stale = true, config_generation = config_generation + 1";

function keysOf(result: { rows: Array<{ key: string }> }): string[] {
  return result.rows.map((row) => row.key);
}
