import type { Queryable } from "./database.ts";

/** One thing a search term names. `project` is the `owner/repo` it belongs to, as GitHub spells it. */
export interface SearchMatch {
  kind: "activity" | "delivery" | "github_event" | "integration" | "commit" | "branch";
  /** The activity's, delivery's, GitHub delivery's or integration's id; a commit's activity id; a branch's name. */
  id: string;
  project: string | null;
  /** For an owner-wide integration: its owner. */
  owner?: string | null;
  /** What the match is, in a few words ("environment.push on main", "webhook delivery, failed"). */
  label: string;
  /** A branch: its latest activity, if any. */
  activity_id?: string | null;
}

/** At most this many matches of each kind. */
const LIMIT = 20;

/**
 * What a search term names, among the projects the caller may see (`keys`: lower-case `owner/repo`,
 * or "all"): an activity, integration, delivery (webhook-id) or GitHub delivery by its exact id, a
 * commit by a prefix of its sha (7+ hex digits), a branch by its exact name. Each lookup is one
 * index probe (or a range on activities_by_new_commit).
 */
export async function searchDashboard(
  db: Queryable,
  term: string,
  keys: "all" | readonly string[],
): Promise<SearchMatch[]> {
  const q = term.trim();
  if (!q) return [];
  const all = keys === "all";
  const visible = all ? [] : [...keys];
  const matches: SearchMatch[] = [];
  const inScope = (column: string, n: number) => `($${n}::boolean OR ${column} = ANY($${n + 1}::text[]))`;

  const activities = await db.query<{
    id: string;
    type: string;
    environment: string | null;
    project: string;
  }>(
    `SELECT a.id, a.type, a.environment, p.full_name AS project FROM activities a
     JOIN projects p ON p.id = a.project_id WHERE a.id = $1 AND ${inScope("p.key", 2)}`,
    [q, all, visible],
  );
  for (const row of activities.rows)
    matches.push({
      kind: "activity",
      id: row.id,
      project: row.project,
      label: `${row.type}${row.environment ? ` on ${row.environment}` : ""}`,
    });

  const integrations = await db.query<{
    id: string;
    type: string;
    name: string | null;
    projectKey: string;
    owner: string | null;
  }>(
    `SELECT id, type, name, project_key AS "projectKey", owner FROM integrations
     WHERE id = $1 AND ($2::boolean OR project_key = ANY($3::text[]))`,
    [q, all, visible],
  );
  for (const row of integrations.rows) {
    const project = await db.query<{ fullName: string }>(
      `SELECT full_name AS "fullName" FROM projects WHERE key = $1`,
      [row.projectKey],
    );
    matches.push({
      kind: "integration",
      id: row.id,
      project: project.rows[0]?.fullName ?? (row.owner ? null : row.projectKey),
      owner: row.owner,
      label: `${row.name ?? row.type} integration`,
    });
  }

  const deliveries = await db.query<{
    id: string;
    event: string;
    state: string;
    project: string | null;
    integrationProject: string;
  }>(
    `SELECT d.id, d.event, d.state, p.full_name AS project, i.project_key AS "integrationProject"
     FROM deliveries d JOIN integrations i ON i.id = d.integration_id
     LEFT JOIN activities a ON a.id = d.activity_id LEFT JOIN projects p ON p.id = a.project_id
     WHERE d.id = $1 AND ($2::boolean OR COALESCE(p.key, i.project_key) = ANY($3::text[]))`,
    [q, all, visible],
  );
  for (const row of deliveries.rows)
    matches.push({
      kind: "delivery",
      id: row.id,
      project: row.project ?? row.integrationProject,
      label: `delivery of ${row.event}, ${row.state}`,
    });

  const events = await db.query<{ deliveryId: string; name: string; action: string | null; project: string }>(
    `SELECT e.delivery_id AS "deliveryId", e.name, e.action, COALESCE(p.full_name, e.project_key) AS project
     FROM github_events e LEFT JOIN projects p ON p.key = e.project_key
     WHERE e.delivery_id = $1 AND ${inScope("e.project_key", 2)}`,
    [q, all, visible],
  );
  for (const row of events.rows)
    matches.push({
      kind: "github_event",
      id: row.deliveryId,
      project: row.project,
      label: `GitHub ${row.name}${row.action ? `.${row.action}` : ""} delivery`,
    });

  if (/^[0-9a-f]{7,40}$/i.test(q)) {
    const sha = q.toLowerCase();
    const commits = await db.query<{
      id: string;
      type: string;
      environment: string | null;
      project: string;
      sha: string;
    }>(
      `SELECT a.id, a.type, a.environment, p.full_name AS project, a.body -> 'parameters' ->> 'new_commit' AS sha
       FROM activities a JOIN projects p ON p.id = a.project_id
       WHERE a.body -> 'parameters' ->> 'new_commit' >= $1 AND a.body -> 'parameters' ->> 'new_commit' < $2
         AND ${inScope("p.key", 3)}
       ORDER BY a.seq DESC LIMIT ${LIMIT}`,
      [sha, `${sha}g`, all, visible],
    );
    for (const row of commits.rows)
      matches.push({
        kind: "commit",
        id: row.id,
        project: row.project,
        label: `${row.sha.slice(0, 7)}: ${row.type}${row.environment ? ` on ${row.environment}` : ""}`,
      });
  }

  const branches = await db.query<{ name: string; project: string; lastActivityId: string | null }>(
    `SELECT e.name, p.full_name AS project, e.last_activity_id AS "lastActivityId"
     FROM environments e JOIN projects p ON p.id = e.project_id
     WHERE (e.name = $1 OR e.machine_name = $1) AND ${inScope("p.key", 2)}
     ORDER BY e.updated_at DESC LIMIT ${LIMIT}`,
    [q, all, visible],
  );
  for (const row of branches.rows)
    matches.push({
      kind: "branch",
      id: row.name,
      project: row.project,
      activity_id: row.lastActivityId,
      label: `environment ${row.name}`,
    });
  return matches;
}
