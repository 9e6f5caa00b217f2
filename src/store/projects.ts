import type { Queryable } from "./database.ts";

export interface Project {
  id: number;
  key: string;
  fullName: string;
  defaultBranch: string;
  /**
   * Set by `lockProject` when the event named a repository id another project has, and that
   * project was kept where it is (see `RENAME_QUIET_MS`): what happened, for the log and outcome.
   */
  conflict?: string;
  /** Set by `lockProject` when a move merged a project kept apart under the new name (`moveProject`). */
  merged?: string;
  /** Set by `lockProject` when it moved a project (this one or another): rows that name projects by key changed. */
  moved?: boolean;
}

/**
 * A rename seen only at an event (no `repository.renamed` came) moves the project only when its
 * name has had no event of its own for this long, and no project with a history holds the new name.
 * Otherwise the two names both send events with one id (a replayed or hand-made payload): the
 * project stays, the event gets a project of its own under its name, and the conflict is logged.
 * A resync shows GitHub's answer and settles it (`planIdentity`).
 */
export const RENAME_QUIET_MS = 60 * 60_000;

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
  /** GitHub's repository id (`repository.id`): the project follows it through renames and transfers. */
  repositoryId?: number | null | undefined;
  /** The event was made by `envhooks simulate` (`envhooks_simulated` in the payload). */
  simulated?: boolean | undefined;
}

/**
 * Where the ids `envhooks simulate` gives repositories start: 2^52, far above any id GitHub has
 * given (about 2^30 now). A project with such an id is a simulated repository's.
 */
export const SIMULATED_ID_BASE = 2 ** 52;

/** A simulated project is kept under its name with this suffix when a GitHub repository's project holds the name. */
const SIMULATED_SUFFIX = "~simulated";

function isSimulatedId(id: number | string | null): boolean {
  return id !== null && Number(id) >= SIMULATED_ID_BASE;
}

/** A project with a repository id GitHub gave (not a simulated one). */
function hasGithubId(row: { repositoryId: string | null }): boolean {
  return row.repositoryId !== null && !isSimulatedId(row.repositoryId);
}

/**
 * Creates or refreshes a project and locks its row until the transaction ends, so that one
 * project's events are applied one at a time even across instances. Its options are kept apart
 * (`saveOptions`), by whoever read them.
 *
 * The project is the repository's (`repositoryId`): one found under another name is moved to the
 * event's name first (a rename or transfer, `moveProject`), unless that name is one it had before:
 * an event from before a rename (a late redelivery) is applied to the project under its name now.
 * `renamed`: the event is GitHub's `repository.renamed` or `transferred`, which always moves it
 * (renaming back to a former name included). Any event reactivates a deactivated project.
 */
export async function lockProject(
  tx: Queryable,
  project: ProjectRef,
  options: { renamed?: boolean } = {},
): Promise<Project> {
  const moves = { made: false };
  const row = await lockProjectRow(tx, project, options, moves);
  return moves.made ? { ...row, moved: true } : row;
}

async function lockProjectRow(
  tx: Queryable,
  project: ProjectRef,
  { renamed = false }: { renamed?: boolean },
  moves: { made: boolean },
): Promise<Project> {
  const move: typeof moveProject = (...args) => {
    moves.made = true;
    return moveProject(...args);
  };
  const key = projectKey(project.fullName);
  const repositoryId = project.repositoryId ?? null;
  // The repository's project and the one holding the name: the same row, but for a move.
  const { rows: held } = await tx.query<{
    id: number;
    key: string;
    fullName: string;
    defaultBranch: string;
    installationId: string | null;
    repositoryId: string | null;
    status: string;
  }>(
    `SELECT id, key, full_name AS "fullName", default_branch AS "defaultBranch",
       installation_id AS "installationId", repository_id AS "repositoryId", status
     FROM projects WHERE key = $1 OR repository_id = $2 ORDER BY id FOR UPDATE`,
    [key, repositoryId],
  );
  const byName = held.find((row) => row.key === key);
  const byRepository =
    repositoryId === null ? undefined : held.find((row) => Number(row.repositoryId) === repositoryId);
  if (project.simulated || isSimulatedId(repositoryId)) {
    // A simulated event never moves or renames a GitHub repository's project: under a name one
    // holds, it is applied to a project of its own (`owner/repo~simulated`); carrying one's id
    // (`--repository-id`) under another name, it is no rename of it.
    if (byName && hasGithubId(byName) && Number(byName.repositoryId) !== repositoryId) {
      const marked = `${project.fullName}${SIMULATED_SUFFIX}`;
      const row = await lockProjectRow(tx, { ...project, fullName: marked, simulated: true }, {}, moves);
      const conflict = `name held by a GitHub repository: ${project.fullName} is repository ${byName.repositoryId}'s project, so this simulated event was applied to ${marked}`;
      return { ...row, conflict: row.conflict ? `${conflict}; ${row.conflict}` : conflict };
    }
    if (byRepository && byRepository.key !== key && hasGithubId(byRepository)) {
      const conflict = `repository id ${repositoryId} is project ${byRepository.fullName}'s, a GitHub repository's: a simulated event under ${project.fullName} does not rename it`;
      return { ...(await upsertProject(tx, key, { ...project, repositoryId: null })), conflict };
    }
  } else if (
    byName &&
    isSimulatedId(byName.repositoryId) &&
    byRepository &&
    byRepository.key === `${key}~${byRepository.repositoryId}`
  ) {
    // A simulated project took this GitHub repository's name (as envhooks did before simulated
    // events were kept apart) and the repository's project was set aside: it takes its name back.
    await move(tx, byName.id, `${byName.fullName}${SIMULATED_SUFFIX}`, { keepName: false });
    await move(tx, byRepository.id, project.fullName, { keepName: false });
    return upsertProject(tx, key, project);
  }
  if (byRepository && byRepository.key !== key) {
    if (!renamed && (await isFormerName(tx, byRepository.id, key))) {
      return refreshProject(tx, byRepository.id, project);
    }
    // A simulated project's history never makes a name "in use" against a GitHub repository's id.
    const other = byName && !isSimulatedId(byName.repositoryId) ? byName : undefined;
    if (!renamed && (await stillInUse(tx, byRepository.key, other))) {
      const conflict = `repository id ${repositoryId} is project ${byRepository.fullName}'s, whose name still gets events of its own: ${project.fullName} was not taken for a rename of it and is kept apart (a resync of either shows what GitHub says)`;
      const row = await upsertProject(tx, key, { ...project, repositoryId: null });
      return { ...row, conflict };
    }
    const moved = await move(tx, byRepository.id, project.fullName);
    if (moved?.merged) return { ...(await upsertProject(tx, key, project)), merged: moved.merged };
  } else if (
    byName &&
    byName.repositoryId !== null &&
    repositoryId !== null &&
    Number(byName.repositoryId) !== repositoryId
  ) {
    // Another repository held this name before (deleted, or renamed while envhooks missed it): its
    // project steps aside, under a name of its own, until its own events say where it went.
    const aside = isSimulatedId(byName.repositoryId) ? SIMULATED_SUFFIX : `~${byName.repositoryId}`;
    await move(tx, byName.id, `${byName.fullName}${aside}`, { keepName: false });
  }
  // Most events find their project as they name it: locked above, nothing to write.
  if (byName && !moves.made && isUpToDate(byName, project)) {
    return {
      id: byName.id,
      key: byName.key,
      fullName: byName.fullName,
      defaultBranch: byName.defaultBranch,
    };
  }
  const row = await upsertProject(tx, key, project);
  // A new project under a name another one had: the name no longer points to that one.
  if (!byName && !byRepository) await tx.query("DELETE FROM project_former_names WHERE key = $1", [key]);
  return row;
}

/** Whether `upsertProject` would leave the row as it is (but for its `updated_at`). */
function isUpToDate(
  row: {
    fullName: string;
    defaultBranch: string;
    installationId: string | null;
    repositoryId: string | null;
    status: string;
  },
  project: ProjectRef,
): boolean {
  return (
    row.status === "active" &&
    row.fullName === project.fullName &&
    row.defaultBranch === project.defaultBranch &&
    (project.installationId === null || Number(row.installationId) === project.installationId) &&
    (project.repositoryId == null || Number(row.repositoryId) === project.repositoryId)
  );
}

async function upsertProject(tx: Queryable, key: string, project: ProjectRef): Promise<Project> {
  const { rows } = await tx.query<Project>(
    `INSERT INTO projects (key, full_name, default_branch, installation_id, repository_id) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key) DO UPDATE SET full_name = excluded.full_name, default_branch = excluded.default_branch,
       installation_id = COALESCE(excluded.installation_id, projects.installation_id),
       repository_id = COALESCE(excluded.repository_id, projects.repository_id),
       ${REACTIVATE}, updated_at = now()
     RETURNING ${COLUMNS}`,
    [key, project.fullName, project.defaultBranch, project.installationId, project.repositoryId ?? null],
  );
  // INSERT … ON CONFLICT DO UPDATE holds the row lock until the transaction ends.
  const row = rows[0];
  if (!row) throw new Error(`project ${project.fullName} could not be stored`);
  return row;
}

/**
 * Whether a project's name is still in use, so an event naming its repository id under another
 * name is no rename of it: its name had an event in the last `RENAME_QUIET_MS`, or the other name
 * is a project with a history of its own (kept apart by an earlier conflict).
 */
async function stillInUse(
  tx: Queryable,
  currentKey: string,
  other: { id: number } | undefined,
): Promise<boolean> {
  const { rows } = await tx.query(
    `SELECT 1 FROM github_events WHERE project_key = $1 AND received_at > now() - make_interval(secs => $2)
     UNION ALL SELECT 1 FROM activities WHERE project_id = $3 LIMIT 1`,
    [currentKey, RENAME_QUIET_MS / 1000, other?.id ?? null],
  );
  return rows.length > 0;
}

const REACTIVATE = "status = 'active', deactivated_at = NULL, deactivated_reason = NULL";

async function isFormerName(tx: Queryable, projectId: number, key: string): Promise<boolean> {
  const { rows } = await tx.query("SELECT 1 FROM project_former_names WHERE key = $1 AND project_id = $2", [
    key,
    projectId,
  ]);
  return rows.length > 0;
}

async function refreshProject(tx: Queryable, id: number, project: ProjectRef): Promise<Project> {
  const { rows } = await tx.query<Project>(
    `UPDATE projects SET installation_id = COALESCE($2, installation_id), ${REACTIVATE}, updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, project.installationId],
  );
  const row = rows[0];
  if (!row) throw new Error(`project ${project.fullName} could not be stored`);
  return row;
}

/**
 * The tables that name a project by its key (integrations and tokens can exist before its first
 * event): a move updates each of them. Activities and environments refer to the project's id.
 */
const KEYED_TABLES = [
  "integrations",
  "api_tokens",
  "github_events",
  "github_tasks",
  "github_deployments",
  "github_comments",
  "push_commits",
  "workflow_runs",
  "check_waits",
  "commit_checks",
  "required_checks",
] as const;

/**
 * Moves a project to a new name, in the caller's transaction: its row, and every row that names it
 * (integrations, tokens, GitHub deliveries and updates, comments, check waits). The old name is remembered
 * (`keepName`), so the API can point from it to the new one. A project already under the new name
 * (another repository's) steps aside first.
 */
export async function moveProject(
  tx: Queryable,
  id: number,
  toFullName: string,
  { keepName = true }: { keepName?: boolean } = {},
): Promise<{ from: string; to: string; merged?: string } | undefined> {
  const to = projectKey(toFullName);
  const { rows } = await tx.query<{ key: string; fullName: string; repositoryId: string | null }>(
    `SELECT key, full_name AS "fullName", repository_id AS "repositoryId" FROM projects WHERE id = $1 FOR UPDATE`,
    [id],
  );
  const current = rows[0];
  if (!current || current.key === to) return undefined;
  const holder = await tx.query<{ id: number; fullName: string; repositoryId: string | null }>(
    `SELECT id, full_name AS "fullName", repository_id AS "repositoryId" FROM projects WHERE key = $1 FOR UPDATE`,
    [to],
  );
  const other = holder.rows[0];
  // A row with nothing but options read for the new name (an event under it came first) gives way.
  if (other && other.id !== id && other.repositoryId === null) {
    await tx.query(
      `DELETE FROM projects p WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM environments WHERE project_id = p.id)
         AND NOT EXISTS (SELECT 1 FROM activities WHERE project_id = p.id)`,
      [other.id],
    );
  }
  const still = other && (await tx.query("SELECT 1 FROM projects WHERE id = $1", [other.id])).rows.length > 0;
  let merged: string | undefined;
  if (other && still && other.id !== id && (await wasKeptApart(tx, to, current.repositoryId))) {
    await mergeProject(tx, other.id, { id, key: current.key }, to);
    merged = `the project kept apart under ${toFullName} (its events carried repository id ${current.repositoryId}: a rename seen before repository.renamed) was merged into it`;
  } else if (other && still && other.id !== id) {
    const aside = isSimulatedId(other.repositoryId) ? SIMULATED_SUFFIX : `~${other.repositoryId ?? other.id}`;
    await moveProject(tx, other.id, `${other.fullName}${aside}`, { keepName: false });
  }
  // Its options name the files they came from by the old name: they are read again at its next event.
  await tx.query(
    `UPDATE projects SET key = $2, full_name = $3, ${MARK_STALE}, updated_at = now() WHERE id = $1`,
    [id, to, toFullName],
  );
  for (const table of KEYED_TABLES) {
    await tx.query(`UPDATE ${table} SET project_key = $2 WHERE project_key = $1`, [current.key, to]);
  }
  // The GitHub-updates lease follows too, as it did on the projects row: nobody else takes the new
  // key's updates while the holder still sends what it read under the old one (its renewal by the
  // old key fails, so it stops after the update in flight).
  await tx.query(
    `UPDATE github_update_leases SET project_key = $2 WHERE project_key = $1
       AND NOT EXISTS (SELECT 1 FROM github_update_leases WHERE project_key = $2)`,
    [current.key, to],
  );
  await tx.query("DELETE FROM project_former_names WHERE key = $1", [to]);
  if (keepName) {
    await tx.query(
      `INSERT INTO project_former_names (key, full_name, project_id) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET full_name = excluded.full_name, project_id = excluded.project_id, moved_at = now()`,
      [current.key, current.fullName, id],
    );
  }
  return merged ? { from: current.key, to, merged } : { from: current.key, to };
}

/**
 * Whether the project without a repository id under `key` was kept apart from `repositoryId`'s
 * (`lockProject`'s conflict: an event under its name carried that id), so a move of that
 * repository's project to `key` is the rename its events showed.
 */
export async function wasKeptApart(
  tx: Queryable,
  key: string,
  repositoryId: string | number | null,
): Promise<boolean> {
  if (repositoryId === null) return false;
  const { rows } = await tx.query(
    `SELECT 1 FROM projects p WHERE p.key = $1 AND p.repository_id IS NULL
       AND EXISTS (SELECT 1 FROM github_events WHERE project_key = $1 AND payload IS NOT NULL
         AND payload::jsonb #>> '{repository,id}' = $2::text)`,
    [key, String(repositoryId)],
  );
  return rows.length > 0;
}

/**
 * Merges the project `fromId` (under `key`) into the project `into` (about to move to `key`), in
 * the caller's transaction: its environments (they replace the other's of the same name: they
 * come from the newer events), activities and former names go to `into`; rows named by key stay
 * under `key`, where `into`'s own follow (`KEYED_TABLES`), those of `into` that would clash giving
 * way. Then the project `fromId` is deleted.
 */
async function mergeProject(
  tx: Queryable,
  fromId: number,
  into: { id: number; key: string },
  key: string,
): Promise<void> {
  await tx.query(
    `DELETE FROM environments e WHERE e.project_id = $1 AND EXISTS (SELECT 1 FROM environments f
       WHERE f.project_id = $2 AND (f.name = e.name OR f.machine_name = e.machine_name))`,
    [into.id, fromId],
  );
  for (const table of ["environments", "activities", "project_former_names"]) {
    await tx.query(`UPDATE ${table} SET project_id = $1 WHERE project_id = $2`, [into.id, fromId]);
  }
  // Rows keyed by (project_key, …) that both have: the newer project's stay.
  await tx.query(
    `DELETE FROM github_comments c WHERE c.project_key = $1
       AND EXISTS (SELECT 1 FROM github_comments d WHERE d.project_key = $2 AND d.pull_request = c.pull_request)`,
    [into.key, key],
  );
  await tx.query(
    `DELETE FROM push_commits c WHERE c.project_key = $1
       AND EXISTS (SELECT 1 FROM push_commits d WHERE d.project_key = $2 AND d.head_sha = c.head_sha)`,
    [into.key, key],
  );
  await tx.query(
    `DELETE FROM commit_checks c WHERE c.project_key = $1
       AND EXISTS (SELECT 1 FROM commit_checks d WHERE d.project_key = $2 AND d.sha = c.sha AND d.key = c.key)`,
    [into.key, key],
  );
  await tx.query(
    `DELETE FROM required_checks c WHERE c.project_key = $1
       AND EXISTS (SELECT 1 FROM required_checks d WHERE d.project_key = $2 AND d.branch = c.branch)`,
    [into.key, key],
  );
  await tx.query("DELETE FROM projects WHERE id = $1", [fromId]);
}

/** The project a former name points to now (none while a project holds the name). */
export async function findMovedProject(
  db: Queryable,
  fullName: string,
): Promise<{ fullName: string } | undefined> {
  const { rows } = await db.query<{ fullName: string }>(
    `SELECT p.full_name AS "fullName" FROM project_former_names n JOIN projects p ON p.id = n.project_id
     WHERE n.key = $1 AND NOT EXISTS (SELECT 1 FROM projects WHERE key = $1)`,
    [projectKey(fullName)],
  );
  return rows[0];
}

/**
 * Gives a project stored before repository ids were kept (none yet) its repository's id, unless
 * another project has it already.
 */
export async function fillRepositoryId(db: Queryable, fullName: string, repositoryId: number): Promise<void> {
  await db.query(
    `UPDATE projects SET repository_id = $2
     WHERE key = $1 AND repository_id IS NULL AND NOT EXISTS (SELECT 1 FROM projects WHERE repository_id = $2)`,
    [projectKey(fullName), repositoryId],
  );
}

/** A project's name and repository id, found by its key or by the id. */
export async function findProjectIdentity(
  db: Queryable,
  where: { key: string } | { repositoryId: number },
): Promise<{ fullName: string; repositoryId: number | null } | undefined> {
  const { rows } = await db.query<{ fullName: string; repositoryId: string | null }>(
    `SELECT full_name AS "fullName", repository_id::text AS "repositoryId" FROM projects
     WHERE ${"key" in where ? "key = $1" : "repository_id = $1"}`,
    ["key" in where ? where.key : where.repositoryId],
  );
  const row = rows[0];
  return (
    row && {
      fullName: row.fullName,
      repositoryId: row.repositoryId === null ? null : Number(row.repositoryId),
    }
  );
}

/**
 * Gives the project `key` the repository id GitHub reports for its name (a resync's identity
 * change), taking it from another project that had it: that one keeps its name and history.
 */
export async function takeRepositoryId(tx: Queryable, key: string, repositoryId: number): Promise<void> {
  await tx.query("UPDATE projects SET repository_id = NULL WHERE repository_id = $2 AND key <> $1", [
    key,
    repositoryId,
  ]);
  await tx.query("UPDATE projects SET repository_id = $2 WHERE key = $1", [key, repositoryId]);
}

/** A project found by its repository id, or else by its name (one stored before ids were kept). */
export async function findProjectOfRepository(
  db: Queryable,
  repositoryId: number | null,
  fullName: string,
): Promise<(Project & { status: string }) | undefined> {
  const { rows } = await db.query<Project & { status: string }>(
    `SELECT ${COLUMNS}, status FROM projects
     WHERE repository_id = $1 OR (key = $2 AND (repository_id IS NULL OR $1::bigint IS NULL))
     ORDER BY repository_id = $1 DESC NULLS LAST LIMIT 1`,
    [repositoryId, projectKey(fullName)],
  );
  return rows[0];
}

/**
 * Deactivates projects (their repository was deleted or left the App's installation): nothing of
 * their history goes, and their next event reactivates them. Returns the keys deactivated.
 */
export async function deactivateProjects(
  db: Queryable,
  which: { installationId: number } | { repositoryIds: number[]; keys: string[] },
  reason: string,
): Promise<string[]> {
  const { rows } =
    "installationId" in which
      ? await db.query<{ key: string }>(
          `UPDATE projects SET status = 'inactive', deactivated_at = now(), deactivated_reason = $2
           WHERE installation_id = $1 AND status = 'active' RETURNING key`,
          [which.installationId, reason],
        )
      : await db.query<{ key: string }>(
          `UPDATE projects SET status = 'inactive', deactivated_at = now(), deactivated_reason = $3
           WHERE (repository_id = ANY($1::bigint[]) OR (repository_id IS NULL AND key = ANY($2::text[])))
             AND status = 'active' RETURNING key`,
          [which.repositoryIds, which.keys, reason],
        );
  return rows.map((row) => row.key);
}

/**
 * Records repositories an installation event lists (`installation.created`, `installation_repositories.added`)
 * as projects of `installationId`, before their first event, so they can be given integrations and
 * tokens: nothing is asked of GitHub (the default branch stays unknown, empty, until the first
 * event). A repository whose project is known by its id keeps it, under the name it has (renames
 * are the repository events' to follow), and is reactivated; a project under its name without an id
 * gets this one; a name another repository's project holds is left to that repository's next event.
 * Returns the keys of the projects recorded or refreshed.
 */
export async function recordListedRepositories(
  db: Queryable,
  installationId: number,
  repositories: Array<{ id?: number | undefined; full_name: string }>,
): Promise<string[]> {
  // Three statements for the whole list (an organisation's installation may list hundreds), each
  // repository once: by id, then by name.
  const byId = new Map<number | string, { key: string; fullName: string; id: number | null }>();
  for (const repository of repositories) {
    const key = projectKey(repository.full_name);
    byId.set(repository.id ?? key, { key, fullName: repository.full_name, id: repository.id ?? null });
  }
  const byKey = new Map([...byId.values()].map((repository) => [repository.key, repository]));
  if (byKey.size === 0) return [];
  const ids = [...byKey.values()].flatMap((repository) => (repository.id === null ? [] : [repository.id]));
  const { rows: known } = await db.query<{ key: string; repositoryId: string }>(
    `UPDATE projects SET installation_id = $2, ${REACTIVATE}, updated_at = now()
     WHERE repository_id = ANY($1::bigint[]) RETURNING key, repository_id::text AS "repositoryId"`,
    [ids, installationId],
  );
  const knownIds = new Set(known.map((row) => Number(row.repositoryId)));
  const rest = [...byKey.values()].filter(
    (repository) => repository.id === null || !knownIds.has(repository.id),
  );
  if (rest.length === 0) return known.map((row) => row.key);
  const { rows } = await db.query<{ key: string; inserted: boolean }>(
    `INSERT INTO projects (key, full_name, default_branch, installation_id, repository_id)
     SELECT l.key, l.full_name, '', $4::bigint, l.id
     FROM unnest($1::text[], $2::text[], $3::bigint[]) AS l(key, full_name, id)
     ON CONFLICT (key) DO UPDATE SET installation_id = excluded.installation_id,
       repository_id = COALESCE(projects.repository_id, excluded.repository_id), ${REACTIVATE}, updated_at = now()
     WHERE projects.repository_id IS NULL OR excluded.repository_id IS NULL
       OR projects.repository_id = excluded.repository_id
     RETURNING key, (xmax = 0) AS inserted`,
    [rest.map((r) => r.key), rest.map((r) => r.fullName), rest.map((r) => r.id), installationId],
  );
  // A new project under a name another one had: the name no longer points to that one.
  const inserted = rows.filter((row) => row.inserted).map((row) => row.key);
  if (inserted.length > 0) {
    await db.query("DELETE FROM project_former_names WHERE key = ANY($1::text[])", [inserted]);
  }
  return [...known.map((row) => row.key), ...rows.map((row) => row.key)];
}

/** A project as work not started by a GitHub event sees it: with its options and installation. */
export interface ProjectWithConfig extends Project {
  /** The last valid `.github/envhooks.yml` options, or null before the first one was read. */
  config: unknown;
  installationId: number | null;
  /** `inactive` once its repository was deleted or left the installation (until its next event). */
  status: "active" | "inactive";
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
    `SELECT ${COLUMNS}, config, installation_id AS "installationId", status FROM projects WHERE key = $1 ${lock}`,
    [key],
  );
  const row = rows[0];
  return row && { ...row, installationId: row.installationId === null ? null : Number(row.installationId) };
}

/** Active projects whose options set an `environment_ttl`. */
export async function projectsWithTtl(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ key: string }>(
    "SELECT key FROM projects WHERE (config ? 'environment_ttl' OR config ? 'stale_after') AND status = 'active' ORDER BY key",
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
     SELECT $1::text, $2::text, $3::text, $4::bigint, $5::jsonb, $6::jsonb, $7::jsonb, $8::timestamptz, false
     -- A name a project had before a rename is no new project (an event from before the rename).
     WHERE NOT EXISTS (SELECT 1 FROM project_former_names WHERE key = $1)
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
