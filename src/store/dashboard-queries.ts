import { ALERT_TYPES } from "../activity/activity.ts";
import type { Queryable } from "./database.ts";
import type { Delivery, DeliveryAttempt } from "./deliveries.ts";
import { DELIVERY_COLUMNS, listAttempts } from "./deliveries.ts";

/**
 * A project as the dashboard's list shows it: its newest activity that is no alert (the card
 * follows the environments; alerts have the integrations' counts and the activity list) and the
 * counts that need attention.
 */
export interface ProjectOverview {
  key: string;
  fullName: string;
  /** Empty while unknown: a repository listed by its installation before its first event. */
  defaultBranch: string;
  /** `inactive` once its repository was deleted or left the installation (until its next event). */
  status: string;
  /** No activity yet: a repository listed by its installation (or a resync) before its first event. */
  noEventYet: boolean;
  lastActivity: { id: string; type: string; state: string; result: string | null; createdAt: Date } | null;
  environments: number;
  activeEnvironments: number;
  integrations: number;
  failingIntegrations: number;
  disabledIntegrations: number;
  pausedIntegrations: number;
  eventsPending: number;
  eventsFailed: number;
  /** `environment_ttl` from the stored options, as written (e.g. `7d`). */
  environmentTtl: string | null;
  /** Environments by status (`active`, `inactive`, …). */
  environmentStates: Record<string, number>;
  /**
   * The project's integrations' deliveries of the last 24 hours (tests left out), per hour they
   * were created (hours since the epoch), delivered and failed: the card's sparkline.
   */
  deliveryHours: Array<{ hour: number; delivered: number; failed: number }>;
}

interface OverviewRow extends Omit<ProjectOverview, "lastActivity"> {
  activityId: string | null;
  activityType: string | null;
  activityState: string | null;
  activityResult: string | null;
  activityCreatedAt: Date | null;
}

/**
 * The projects with `keys` (every project for "all"), by name. Each count is one indexed lookup
 * per project (activities by project, environments by project, integrations by project key, the
 * pending-events index); failed GitHub events have no index of their own and are counted by scan.
 */
export async function listProjectOverviews(
  db: Queryable,
  keys: "all" | string[],
): Promise<ProjectOverview[]> {
  const { rows } = await db.query<OverviewRow>(
    `SELECT p.key, p.full_name AS "fullName", p.default_branch AS "defaultBranch", p.status,
       NOT EXISTS (SELECT 1 FROM activities n WHERE n.project_id = p.id) AS "noEventYet",
       p.config->>'environment_ttl' AS "environmentTtl",
       a.id AS "activityId", a.type AS "activityType", a.state AS "activityState",
       a.result AS "activityResult", a.created_at AS "activityCreatedAt",
       (SELECT count(*)::int FROM environments e WHERE e.project_id = p.id) AS environments,
       (SELECT count(*)::int FROM environments e WHERE e.project_id = p.id AND e.status = 'active')
         AS "activeEnvironments",
       i.total AS integrations, i.failing AS "failingIntegrations", i.disabled AS "disabledIntegrations",
       i.paused AS "pausedIntegrations",
       (SELECT count(*)::int FROM github_events g WHERE g.project_key = p.key AND g.state = 'pending')
         AS "eventsPending",
       (SELECT count(*)::int FROM github_events g WHERE g.project_key = p.key AND g.state = 'failed')
         AS "eventsFailed",
       (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb) FROM (
          SELECT e.status, count(*)::int AS n FROM environments e WHERE e.project_id = p.id GROUP BY e.status) s)
         AS "environmentStates",
       (SELECT coalesce(jsonb_agg(jsonb_build_object('hour', h.hour, 'delivered', h.delivered, 'failed', h.failed)
          ORDER BY h.hour), '[]'::jsonb) FROM (
          SELECT floor(extract(epoch FROM d.created_at) / 3600)::int AS hour,
            count(*) FILTER (WHERE d.state = 'delivered')::int AS delivered,
            count(*) FILTER (WHERE d.state = 'failed')::int AS failed
          FROM integrations ig JOIN deliveries d ON d.integration_id = ig.id
          WHERE ig.project_key = p.key AND NOT d.test AND d.created_at >= now() - interval '24 hours'
          GROUP BY 1) h)
         AS "deliveryHours"
     FROM projects p
     LEFT JOIN LATERAL (
       SELECT id, type, state, result, created_at FROM activities
       WHERE project_id = p.id AND type <> ALL($2::text[]) ORDER BY seq DESC LIMIT 1) a ON true
     CROSS JOIN LATERAL (
       SELECT count(*)::int AS total,
         count(*) FILTER (WHERE failing_since IS NOT NULL AND status = 'active')::int AS failing,
         count(*) FILTER (WHERE status = 'disabled')::int AS disabled,
         count(*) FILTER (WHERE status = 'paused')::int AS paused
       FROM integrations WHERE project_key = p.key) i
     WHERE ($1::text[] IS NULL OR p.key = ANY($1::text[]))
     ORDER BY p.full_name`,
    [keys === "all" ? null : keys, ALERT_TYPES],
  );
  return rows.map(
    ({ activityId, activityType, activityState, activityResult, activityCreatedAt, ...row }) => ({
      ...row,
      lastActivity:
        activityId && activityType && activityState && activityCreatedAt
          ? {
              id: activityId,
              type: activityType,
              state: activityState,
              result: activityResult,
              createdAt: activityCreatedAt,
            }
          : null,
    }),
  );
}

/**
 * The deliveries an activity made, one per matching integration (and per state it was relayed in),
 * with every attempt. Looked up through the project's integrations (indexed by integration).
 */
export async function listActivityDeliveries(
  db: Queryable,
  activityId: string,
  integrationIds: string[],
): Promise<Array<{ delivery: Delivery; attempts: DeliveryAttempt[] }>> {
  if (integrationIds.length === 0) return [];
  const { rows } = await db.query<Delivery>(
    `SELECT ${DELIVERY_COLUMNS} FROM deliveries
     WHERE integration_id = ANY($1::text[]) AND activity_id = $2 ORDER BY seq`,
    [integrationIds, activityId],
  );
  return Promise.all(
    rows.map(async (delivery) => ({ delivery, attempts: await listAttempts(db, delivery.id) })),
  );
}

/** An integration's deliveries created since `since` (all, when undefined), counted by state; tests are not. */
export async function countDeliveries(
  db: Queryable,
  integrationId: string,
  since: Date | undefined,
): Promise<{ pending: number; delivered: number; failed: number }> {
  const { rows } = await db.query<{ state: string; count: number }>(
    `SELECT state, count(*)::int AS count FROM deliveries
     WHERE integration_id = $1 AND NOT test AND ($2::timestamptz IS NULL OR created_at >= $2)
     GROUP BY state`,
    [integrationId, since ?? null],
  );
  const counts = { pending: 0, delivered: 0, failed: 0 };
  for (const row of rows) counts[row.state as keyof typeof counts] = row.count;
  return counts;
}

/** One GitHub delivery of a project with its payload as received. */
export async function findEventPayload(
  db: Queryable,
  projectKey: string,
  deliveryId: string,
): Promise<StoredEvent | undefined> {
  const { rows } = await db.query<StoredEvent>(
    `SELECT name, action, payload, received_at AS "receivedAt", state, attempts, last_error AS "lastError",
       outcome, processed_at AS "processedAt", request_headers AS "requestHeaders"
     FROM github_events WHERE delivery_id = $1 AND project_key = $2`,
    [deliveryId, projectKey],
  );
  return rows[0];
}

/** A GitHub delivery as kept: its payload (null once retention let it go) and what became of it. */
export interface StoredEvent {
  name: string;
  action: string | null;
  payload: string | null;
  receivedAt: Date;
  state: string;
  attempts: number;
  lastError: string | null;
  outcome: string | null;
  processedAt: Date | null;
  /** GitHub's request headers as kept (none for deliveries stored before they were). */
  requestHeaders: Record<string, string> | null;
}

/** The activities a GitHub delivery produced, oldest first. */
export async function activitiesOfGithubDelivery(
  db: Queryable,
  deliveryId: string,
): Promise<
  Array<{ id: string; type: string; state: string; result: string | null; environment: string | null }>
> {
  const { rows } = await db.query<{
    id: string;
    type: string;
    state: string;
    result: string | null;
    environment: string | null;
  }>(
    `SELECT id, type, state, result, environment FROM activities WHERE github_delivery_id = $1 ORDER BY seq`,
    [deliveryId],
  );
  return rows;
}

/** The ids of a project's integrations. */
export async function integrationIdsOf(db: Queryable, projectKey: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>("SELECT id FROM integrations WHERE project_key = $1", [
    projectKey,
  ]);
  return rows.map((row) => row.id);
}

/** The project an integration belongs to, or undefined when there is no such integration. */
export async function integrationProject(db: Queryable, id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ projectKey: string }>(
    `SELECT project_key AS "projectKey" FROM integrations WHERE id = $1`,
    [id],
  );
  return rows[0]?.projectKey;
}
