import { type ChatConfig, DEFAULT_CONCURRENCY, type WebhookConfig } from "../relay/integration.schema.ts";
import type { Integration, IntegrationStatus } from "../relay/integration.ts";
import { type Queryable, RELAXED_COMMIT } from "./database.ts";
import { deliveryDueSql, parseSendable, type SendableDelivery, sendableDeliveriesSql } from "./deliveries.ts";
import { openIntegration, sealConfig, sealSecret } from "./integration-secrets.ts";
import { INTEGRATION_LEASE, takeable } from "./leases.ts";
import type { SecretBox } from "./secret-box.ts";

const COLUMNS = `id, project_key AS "projectKey", owner, name, type, config, secret, previous_secret AS "previousSecret",
  previous_secret_until AS "previousSecretUntil", status, disabled_reason AS "disabledReason",
  failing_since AS "failingSince", last_datetime AS "lastDatetime", last_status AS "lastStatus",
  last_reason AS "lastReason", last_context AS "lastContext", created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function insertIntegration(
  db: Queryable,
  secrets: SecretBox,
  integration: {
    id: string;
    projectKey: string;
    /** An owner-wide integration's owner (lower case); its projectKey is `owner/*`. */
    owner?: string | undefined;
    type: Integration["type"];
    config: WebhookConfig | ChatConfig;
    secret: string;
    /** What people call it; unset, `type → host`. */
    name?: string | null | undefined;
  },
): Promise<Integration> {
  const { rows } = await db.query<Integration>(
    `INSERT INTO integrations (id, project_key, type, config, secret, owner, name) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [
      integration.id,
      integration.projectKey,
      integration.type,
      JSON.stringify(sealConfig(secrets, integration.config)),
      sealSecret(secrets, integration.secret),
      integration.owner ?? null,
      integration.name ?? null,
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
 * Integrations that collect a project's deliveries: active and paused ones (paused ones send them on
 * resume), the project's own and its owner's (whose `projects` filter is the caller's to apply).
 * For matching and formatting only: their secrets, URL and header values stay as stored
 * (encrypted), since neither needs them; getIntegration opens one for sending.
 */
export async function listReceivingIntegrations(db: Queryable, projectKey: string): Promise<Integration[]> {
  const { rows } = await db.query<Integration>(
    `SELECT ${COLUMNS} FROM integrations
     WHERE (project_key = $1 OR (owner = split_part($1, '/', 1) AND owner IS NOT NULL))
       AND status IN ('active', 'paused') ORDER BY id`,
    [projectKey],
  );
  return rows;
}

/** An owner's owner-wide integrations, oldest first. */
export async function listOwnerIntegrations(
  db: Queryable,
  secrets: SecretBox,
  owner: string,
): Promise<Integration[]> {
  const { rows } = await db.query<Integration>(
    `SELECT ${COLUMNS} FROM integrations WHERE owner = $1 ORDER BY created_at, id`,
    [owner],
  );
  return rows.map((row) => openIntegration(secrets, row));
}

/**
 * Changes an integration's settings. With `rotate`, a new secret starts a rotation: the old one
 * keeps signing alongside it for 24 hours, so receivers can switch without missing a delivery.
 */
export async function updateIntegration(
  db: Queryable,
  secrets: SecretBox,
  current: Integration,
  change: {
    config: WebhookConfig | ChatConfig;
    secret?: string | undefined;
    rotate: boolean;
    /** A new name; null goes back to `type → host`; undefined keeps it. */
    name?: string | null | undefined;
  },
): Promise<Integration | undefined> {
  // Encrypted secrets cannot be compared in SQL (each encryption differs): `current` says whether
  // the secret changes, and the statement moves the stored one aside as it is.
  const rotating = change.rotate && change.secret !== undefined && change.secret !== current.secret;
  const { rows } = await db.query<Integration>(
    `UPDATE integrations SET config = $2,
       previous_secret = CASE WHEN $4 THEN secret ELSE previous_secret END,
       previous_secret_until = CASE WHEN $4 THEN now() + interval '24 hours' ELSE previous_secret_until END,
       secret = COALESCE($3, secret),
       name = CASE WHEN $5 THEN $6 ELSE name END,
       updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      current.id,
      JSON.stringify(sealConfig(secrets, change.config)),
      sealSecret(secrets, change.secret),
      rotating,
      change.name !== undefined,
      change.name ?? null,
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

/** SQL: integration `g`'s concurrency, as deliveryOrder() says. */
const CONCURRENCY = (g: string) =>
  `CASE WHEN ${g}.config->>'ordering' = 'integration' THEN 1
     ELSE COALESCE((${g}.config->>'concurrency')::int, CASE ${g}.type ${Object.entries(DEFAULT_CONCURRENCY)
       .map(([type, n]) => `WHEN '${type}' THEN ${n}`)
       .join(" ")} ELSE 1 END) END`;

/**
 * Takes (or renews) the lease for sending an active integration's deliveries — only when one of
 * its deliveries may be sent now (deliveryDueSql) — and returns the integration with what it may
 * send now (sendableDeliveriesSql: up to its `concurrency` lanes, at most `perLane` deliveries
 * each); undefined when another live holder has the lease, the integration is not active, or
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
  perLane: number,
): Promise<{ integration: Integration; deliveries: SendableDelivery[] } | undefined> {
  const taken = (await takeIntegrationLeases(db, secrets, [id], owner, seconds, perLane)).get(id);
  if (taken instanceof Error) throw taken;
  return taken;
}

/**
 * takeIntegrationLease for several integrations in one statement (their ids sorted, so that two
 * instances asking for the same ones lock them alike along the primary key): those taken, by id,
 * each with what it may send now, or the error met opening it (its secrets), its own drain's alone.
 */
export async function takeIntegrationLeases(
  db: Queryable,
  secrets: SecretBox,
  ids: readonly string[],
  owner: string,
  seconds: number,
  perLane: number,
): Promise<Map<string, { integration: Integration; deliveries: SendableDelivery[] } | Error>> {
  const { rows } = await db.query<Integration & { pending: SendableDelivery[] }>(
    `WITH relaxed AS (${RELAXED_COMMIT}),
     taken AS (
       UPDATE integrations SET lease_owner = $2, lease_until = now() + make_interval(secs => $3) FROM relaxed
       WHERE id = ANY($1::text[]) AND status = 'active' AND ${takeable(INTEGRATION_LEASE, "$2")}
         AND ${deliveryDueSql("integrations")}
       RETURNING ${COLUMNS})
     SELECT taken.*, ${sendableDeliveriesSql("taken", {
       busy: "'{}'::text[]",
       lanes: CONCURRENCY("taken"),
       perLane: "$4",
       lock: true,
     })} AS pending
     FROM taken`,
    [[...new Set(ids)].sort(), owner, seconds, perLane],
  );
  type Taken = { integration: Integration; deliveries: SendableDelivery[] } | Error;
  return new Map(
    rows.map(({ pending, ...integration }): [string, Taken] => {
      try {
        const opened = openIntegration(secrets, integration as Integration);
        return [integration.id, { integration: opened, deliveries: parseSendable(pending) }];
      } catch (error) {
        return [integration.id, error instanceof Error ? error : new Error(String(error))];
      }
    }),
  );
}

/**
 * The integration as it is now, with what it may send now besides the lanes in flight (`busy`):
 * at most `lanes` lanes of at most `perLane` deliveries each (see sendableDeliveriesSql). For the
 * lease holder, between sends; undefined when the integration is gone.
 */
export async function readSendable(
  db: Queryable,
  secrets: SecretBox,
  id: string,
  { busy, lanes, perLane }: { busy: string[]; lanes: number; perLane: number },
): Promise<{ integration: Integration; deliveries: SendableDelivery[] } | undefined> {
  const { rows } = await db.query<Integration & { pending: SendableDelivery[] }>(
    `SELECT ${COLUMNS}, ${sendableDeliveriesSql("integrations", {
      busy: "$2::text[]",
      lanes: "$3::int",
      perLane: "$4::int",
      lock: false,
    })} AS pending
     FROM integrations WHERE id = $1`,
    [id, busy, lanes, perLane],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { pending, ...integration } = row;
  return {
    integration: openIntegration(secrets, integration as Integration),
    deliveries: parseSendable(pending),
  };
}

/**
 * Gives the lease up; true when a delivery is due after all — written by another instance while
 * the lease turned its wake-up away — so that the holder drains once more.
 */
export async function releaseIntegrationLease(db: Queryable, id: string, owner: string): Promise<boolean> {
  const { rows } = await db.query<{ due: boolean | null }>(
    `WITH relaxed AS (${RELAXED_COMMIT})
     UPDATE integrations SET lease_owner = NULL, lease_until = NULL FROM relaxed WHERE id = $1 AND lease_owner = $2
     RETURNING status = 'active' AND ${deliveryDueSql("integrations")} AS due`,
    [id, owner],
  );
  return rows[0]?.due === true;
}

/**
 * Active integrations with a delivery they may send now and that nobody is sending: what a sweep
 * wakes up. A delivery waiting for its retry holds back what must follow it (deliveryDueSql).
 */
export async function integrationsWithDueDeliveries(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM integrations
     WHERE status = 'active' AND (lease_until IS NULL OR lease_until < now()) AND ${deliveryDueSql("integrations")}`,
  );
  return rows.map((row) => row.id);
}
