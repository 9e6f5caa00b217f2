import type { AttemptResult } from "../relay/send-delivery.ts";
import type { Queryable } from "./database.ts";

export type DeliveryState = "pending" | "delivered" | "failed";

export interface Delivery {
  id: string;
  integrationId: string;
  activityId: string;
  event: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  failures: number;
  nextAttemptAt: Date;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface DeliveryAttempt {
  attempt: number;
  startedAt: Date;
  durationMs: number;
  url: string;
  requestHeaders: Record<string, string>;
  statusCode: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  error: string | null;
  succeeded: boolean;
}

const COLUMNS = `id, integration_id AS "integrationId", activity_id AS "activityId", event, body, state, attempts,
  failures, next_attempt_at AS "nextAttemptAt", last_status AS "lastStatus", last_error AS "lastError",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function insertDelivery(
  tx: Queryable,
  delivery: { id: string; integrationId: string; activityId: string; event: string; body: string },
): Promise<void> {
  await tx.query(
    "INSERT INTO deliveries (id, integration_id, activity_id, event, body) VALUES ($1, $2, $3, $4, $5)",
    [delivery.id, delivery.integrationId, delivery.activityId, delivery.event, delivery.body],
  );
}

/** The integration's oldest pending delivery: deliveries leave in the order they were written. */
export async function nextPendingDelivery(
  db: Queryable,
  integrationId: string,
): Promise<Delivery | undefined> {
  const { rows } = await db.query<Delivery>(
    `SELECT ${COLUMNS} FROM deliveries WHERE integration_id = $1 AND state = 'pending' ORDER BY seq LIMIT 1`,
    [integrationId],
  );
  return rows[0];
}

export async function getDelivery(db: Queryable, id: string): Promise<Delivery | undefined> {
  const { rows } = await db.query<Delivery>(`SELECT ${COLUMNS} FROM deliveries WHERE id = $1`, [id]);
  return rows[0];
}

export async function listAttempts(db: Queryable, deliveryId: string): Promise<DeliveryAttempt[]> {
  const { rows } = await db.query<DeliveryAttempt>(
    `SELECT attempt, started_at AS "startedAt", duration_ms AS "durationMs", url, request_headers AS "requestHeaders",
       status_code AS "statusCode", response_headers AS "responseHeaders", response_body AS "responseBody", error,
       succeeded
     FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt`,
    [deliveryId],
  );
  return rows;
}

/**
 * Records one attempt and what follows from it: delivered, retried at `retryAt`, or failed for
 * good (`retryAt` undefined after a failure).
 */
export async function recordAttempt(
  tx: Queryable,
  delivery: Pick<Delivery, "id" | "attempts">,
  attempt: {
    startedAt: Date;
    url: string;
    requestHeaders: Record<string, string>;
    result: AttemptResult;
    /** Answered 429: retried at `retryAt` without moving along the schedule. */
    rateLimited?: boolean;
  },
  retryAt: Date | undefined,
): Promise<DeliveryState> {
  const { result } = attempt;
  await tx.query(
    `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, url, request_headers, status_code,
       response_headers, response_body, error, succeeded)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      delivery.id,
      delivery.attempts + 1,
      attempt.startedAt,
      result.durationMs,
      attempt.url,
      JSON.stringify(attempt.requestHeaders),
      result.statusCode,
      result.responseHeaders ? JSON.stringify(result.responseHeaders) : null,
      result.responseBody,
      result.error,
      result.ok,
    ],
  );
  const state: DeliveryState = result.ok ? "delivered" : retryAt ? "pending" : "failed";
  await tx.query(
    `UPDATE deliveries SET state = $2, attempts = attempts + 1,
       failures = CASE WHEN $3::boolean THEN failures ELSE failures + 1 END,
       next_attempt_at = COALESCE($4, next_attempt_at), last_status = $5, last_error = $6, updated_at = now()
     WHERE id = $1`,
    [
      delivery.id,
      state,
      result.ok || Boolean(attempt.rateLimited),
      retryAt ?? null,
      result.statusCode,
      result.error,
    ],
  );
  return state;
}

export interface DeliveryFilter {
  limit: number;
  before?: number | undefined;
  state?: DeliveryState | undefined;
}

/** An integration's deliveries, newest first; `next` pages on. */
export async function listDeliveries(
  db: Queryable,
  integrationId: string,
  filter: DeliveryFilter,
): Promise<{ deliveries: Delivery[]; next: number | undefined }> {
  const { rows } = await db.query<Delivery & { seq: number }>(
    `SELECT seq, ${COLUMNS} FROM deliveries
     WHERE integration_id = $1 AND ($2::bigint IS NULL OR seq < $2) AND ($3::text IS NULL OR state = $3)
     ORDER BY seq DESC LIMIT $4`,
    [integrationId, filter.before ?? null, filter.state ?? null, filter.limit + 1],
  );
  const page = rows.slice(0, filter.limit);
  return {
    deliveries: page.map(({ seq: _seq, ...delivery }) => delivery),
    next: rows.length > filter.limit ? page.at(-1)?.seq : undefined,
  };
}

/**
 * Sends deliveries again, from the start of the retry schedule and with the same webhook-id.
 * One by id, or in bulk by integration, state and age. Returns the ids reset.
 */
export async function redeliver(
  db: Queryable,
  where:
    | { id: string }
    | { integrationId: string; state?: DeliveryState | undefined; since?: Date | undefined },
): Promise<Array<{ id: string; integrationId: string }>> {
  const { rows } =
    "id" in where
      ? await db.query<{ id: string; integrationId: string }>(
          `UPDATE deliveries SET state = 'pending', failures = 0, next_attempt_at = now(), updated_at = now()
           WHERE id = $1 RETURNING id, integration_id AS "integrationId"`,
          [where.id],
        )
      : await db.query<{ id: string; integrationId: string }>(
          `UPDATE deliveries SET state = 'pending', failures = 0, next_attempt_at = now(), updated_at = now()
           WHERE integration_id = $1 AND state <> 'pending' AND ($2::text IS NULL OR state = $2)
             AND ($3::timestamptz IS NULL OR created_at >= $3)
           RETURNING id, integration_id AS "integrationId"`,
          [where.integrationId, where.state ?? null, where.since ?? null],
        );
  return rows;
}
