import type { Activity } from "../activity/activity.ts";
import type { Queryable } from "./database.ts";

/** The newest alert of an integration and type: the window a new alert may count into. */
export interface AlertWindowRow {
  id: string;
  /** Set for an owner-wide integration's alert (kept here only); null for a project's activity. */
  owner: string | null;
  firstAt: Date;
  body: Activity;
}

/**
 * The newest alert of an integration and type, after taking a lock on the pair until the
 * transaction ends: alerts raised at once (parallel lanes, several workers) count one after the
 * other, so two never open one window each. The lock comes first, in a statement of its own, so the
 * read sees what the previous holder committed.
 */
export async function lockNewestAlert(
  tx: Queryable,
  integrationId: string,
  type: string,
): Promise<AlertWindowRow | undefined> {
  // Two keys (a class of its own, 18 for this migration) keep clear of the one-key locks elsewhere.
  await tx.query("SELECT pg_advisory_xact_lock(18, hashtext($1))", [`${integrationId} ${type}`]);
  const { rows } = await tx.query<{ id: string; owner: string | null; firstAt: Date; body: Activity | null }>(
    `SELECT w.id, w.owner, w.first_at AS "firstAt", COALESCE(w.body, a.body) AS body
     FROM integration_alerts w LEFT JOIN activities a ON a.id = w.id
     WHERE w.integration_id = $1 AND w.type = $2
     ORDER BY w.first_at DESC, w.seq DESC LIMIT 1`,
    [integrationId, type],
  );
  const row = rows[0];
  // A project's alert whose activity was purged opens no window.
  return row?.body ? { ...row, firstAt: new Date(row.firstAt), body: row.body } : undefined;
}

/** Opens an alert's window; an owner-wide integration's alert keeps its body here (it is no activity). */
export async function insertAlert(
  tx: Queryable,
  alert: { activity: Activity; integrationId: string; owner: string | null },
): Promise<void> {
  const { activity, integrationId, owner } = alert;
  await tx.query(
    `INSERT INTO integration_alerts (id, integration_id, type, owner, body, count, first_at, last_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      activity.id,
      integrationId,
      activity.type,
      owner,
      owner === null ? null : JSON.stringify(activity),
      activity.alert?.count ?? 1,
      activity.alert?.first_at ?? activity.created_at,
      activity.alert?.last_at ?? activity.created_at,
    ],
  );
}

/** Counts an alert into its window: the count, the span and (owner-wide) the body. */
export async function updateAlert(tx: Queryable, activity: Activity, owner: string | null): Promise<void> {
  await tx.query(`UPDATE integration_alerts SET count = $2, last_at = $3, body = $4 WHERE id = $1`, [
    activity.id,
    activity.alert?.count ?? 1,
    activity.alert?.last_at ?? activity.updated_at,
    owner === null ? null : JSON.stringify(activity),
  ]);
}

/** An owner-wide integration's alert, as the operator reads it. */
export type OwnerAlert = Activity & { owner: string };

/** Owner-wide integrations' alerts, newest first (one owner's, or every owner's). */
export async function listOwnerAlerts(
  db: Queryable,
  filter: { owner?: string | undefined; limit: number; before?: number | undefined },
): Promise<{ alerts: OwnerAlert[]; next: number | undefined }> {
  const { rows } = await db.query<{ seq: string; owner: string; body: Activity }>(
    `SELECT seq, owner, body FROM integration_alerts
     WHERE owner IS NOT NULL AND ($1::text IS NULL OR owner = $1) AND ($2::bigint IS NULL OR seq < $2)
     ORDER BY seq DESC LIMIT $3`,
    [filter.owner?.toLowerCase() ?? null, filter.before ?? null, filter.limit + 1],
  );
  const page = rows.slice(0, filter.limit);
  return {
    alerts: page.map((row) => ({ ...row.body, owner: row.owner })),
    next: rows.length > filter.limit ? Number(page.at(-1)?.seq) : undefined,
  };
}
