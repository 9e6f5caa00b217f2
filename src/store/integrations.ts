import type { ChatConfig, WebhookConfig } from "../relay/integration.schema.ts";
import type { Integration, IntegrationStatus } from "../relay/integration.ts";
import { type Queryable, RELAXED_COMMIT } from "./database.ts";
import { DELIVERY_COLUMNS, type Delivery } from "./deliveries.ts";
import { openIntegration, sealConfig, sealSecret } from "./integration-secrets.ts";
import { INTEGRATION_LEASE, takeable } from "./leases.ts";
import type { SecretBox } from "./secret-box.ts";

const COLUMNS = `id, project_key AS "projectKey", type, config, secret, previous_secret AS "previousSecret",
  previous_secret_until AS "previousSecretUntil", status, disabled_reason AS "disabledReason",
  failing_since AS "failingSince", last_datetime AS "lastDatetime", last_status AS "lastStatus",
  last_reason AS "lastReason", last_context AS "lastContext", created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function insertIntegration(
  db: Queryable,
  secrets: SecretBox,
  integration: {
    id: string;
    projectKey: string;
    type: Integration["type"];
    config: WebhookConfig | ChatConfig;
    secret: string;
  },
): Promise<Integration> {
  const { rows } = await db.query<Integration>(
    `INSERT INTO integrations (id, project_key, type, config, secret) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [
      integration.id,
      integration.projectKey,
      integration.type,
      JSON.stringify(sealConfig(secrets, integration.config)),
      sealSecret(secrets, integration.secret),
    ],
  );
  return openIntegration(secrets, rows[0] as Integration);
}

export async function getIntegration(
  db: Queryable,
  secrets: SecretBox,
  id: string,
): Promise<Integration | undefined> {
  const { rows } = await db.query<Integration>(`SELECT ${COLUMNS} FROM integrations WHERE id = $1`, [id]);
  return rows[0] && openIntegration(secrets, rows[0]);
}

/** A project's integrations, oldest first. */
export async function listIntegrations(
  db: Queryable,
  secrets: SecretBox,
  projectKey: string,
): Promise<Integration[]> {
  const { rows } = await db.query<Integration>(
    `SELECT ${COLUMNS} FROM integrations WHERE project_key = $1 ORDER BY created_at, id`,
    [projectKey],
  );
  return rows.map((row) => openIntegration(secrets, row));
}

/**
 * Integrations that collect deliveries: active and paused ones (paused ones send them on resume).
 * For matching and formatting only: their secrets, URL and header values stay as stored
 * (encrypted), since neither needs them; getIntegration opens one for sending.
 */
export async function listReceivingIntegrations(db: Queryable, projectKey: string): Promise<Integration[]> {
  const { rows } = await db.query<Integration>(
    `SELECT ${COLUMNS} FROM integrations WHERE project_key = $1 AND status IN ('active', 'paused') ORDER BY id`,
    [projectKey],
  );
  return rows;
}

/**
 * Changes an integration's settings. With `rotate`, a new secret starts a rotation: the old one
 * keeps signing alongside it for 24 hours, so receivers can switch without missing a delivery.
 */
export async function updateIntegration(
  db: Queryable,
  secrets: SecretBox,
  current: Integration,
  change: { config: WebhookConfig | ChatConfig; secret?: string | undefined; rotate: boolean },
): Promise<Integration | undefined> {
  // Encrypted secrets cannot be compared in SQL (each encryption differs): `current` says whether
  // the secret changes, and the statement moves the stored one aside as it is.
  const rotating = change.rotate && change.secret !== undefined && change.secret !== current.secret;
  const { rows } = await db.query<Integration>(
    `UPDATE integrations SET config = $2,
       previous_secret = CASE WHEN $4 THEN secret ELSE previous_secret END,
       previous_secret_until = CASE WHEN $4 THEN now() + interval '24 hours' ELSE previous_secret_until END,
       secret = COALESCE($3, secret),
       updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      current.id,
      JSON.stringify(sealConfig(secrets, change.config)),
      sealSecret(secrets, change.secret),
      rotating,
    ],
  );
  return rows[0] && openIntegration(secrets, rows[0]);
}

/** Pauses, resumes or disables an integration; false when it is gone. */
export async function setIntegrationStatus(
  db: Queryable,
  id: string,
  status: IntegrationStatus,
  reason: string | null = null,
): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE integrations SET status = $2, disabled_reason = $3,
       failing_since = CASE WHEN $2 = 'active' THEN NULL ELSE failing_since END, updated_at = now()
     WHERE id = $1 RETURNING id`,
    [id, status, status === "disabled" ? reason : null],
  );
  return rows.length === 1;
}

export async function deleteIntegration(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query("DELETE FROM integrations WHERE id = $1 RETURNING id", [id]);
  return rows.length === 1;
}

/** Whether the integration's oldest pending delivery is due (one waiting for its retry holds back the rest). */
const FIRST_PENDING_DUE = `(SELECT d.next_attempt_at <= now() FROM deliveries d
  WHERE d.integration_id = integrations.id AND d.state = 'pending' ORDER BY d.seq LIMIT 1)`;

/**
 * Takes (or renews) the lease for sending an active integration's deliveries — only when its oldest
 * pending delivery is due — and returns the integration with its oldest pending deliveries (at most
 * `limit`); undefined when another live holder has the lease, the integration is not active, or
 * nothing is due.
 *
 * The deliveries are read in the same statement with FOR UPDATE: a locking read checks each row
 * again as it is now, so those another instance sent before giving the lease up are left out, though
 * the statement's snapshot predates that instance's commit.
 */
export async function takeIntegrationLease(
  db: Queryable,
  secrets: SecretBox,
  id: string,
  owner: string,
  seconds: number,
  limit: number,
): Promise<{ integration: Integration; deliveries: Delivery[] } | undefined> {
  const { rows } = await db.query<Integration & { pending: Delivery[] }>(
    `WITH relaxed AS (${RELAXED_COMMIT}),
     taken AS (
       UPDATE integrations SET lease_owner = $2, lease_until = now() + make_interval(secs => $3) FROM relaxed
       WHERE id = $1 AND status = 'active' AND ${takeable(INTEGRATION_LEASE, "$2")} AND ${FIRST_PENDING_DUE}
       RETURNING ${COLUMNS})
     SELECT taken.*, (
       SELECT COALESCE(json_agg(d ORDER BY d.seq), '[]') FROM (
         SELECT seq, ${DELIVERY_COLUMNS} FROM deliveries
         WHERE integration_id = taken.id AND state = 'pending' ORDER BY seq LIMIT $4 FOR UPDATE) d
     ) AS pending
     FROM taken`,
    [id, owner, seconds, limit],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { pending, ...integration } = row;
  // JSON brings the times as text.
  const deliveries = pending.map(({ seq: _seq, ...delivery }: Delivery & { seq?: number }) => ({
    ...delivery,
    nextAttemptAt: new Date(delivery.nextAttemptAt),
    createdAt: new Date(delivery.createdAt),
    updatedAt: new Date(delivery.updatedAt),
  }));
  return { integration: openIntegration(secrets, integration as Integration), deliveries };
}

/**
 * Gives the lease up; true when a delivery is due after all — written by another instance while
 * the lease turned its wake-up away — so that the holder drains once more.
 */
export async function releaseIntegrationLease(db: Queryable, id: string, owner: string): Promise<boolean> {
  const { rows } = await db.query<{ due: boolean | null }>(
    `WITH relaxed AS (${RELAXED_COMMIT})
     UPDATE integrations SET lease_owner = NULL, lease_until = NULL FROM relaxed WHERE id = $1 AND lease_owner = $2
     RETURNING status = 'active' AND ${FIRST_PENDING_DUE} AS due`,
    [id, owner],
  );
  return rows[0]?.due === true;
}

/**
 * Active integrations whose oldest pending delivery is due and that nobody is sending: what a sweep
 * wakes up. Only the oldest counts: one waiting for its retry holds back the rest.
 */
export async function integrationsWithDueDeliveries(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM integrations
     WHERE status = 'active' AND (lease_until IS NULL OR lease_until < now()) AND ${FIRST_PENDING_DUE}`,
  );
  return rows.map((row) => row.id);
}
