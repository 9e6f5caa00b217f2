import type { AttemptResult } from "../relay/send-delivery.ts";
import { type Queryable, RELAXED_COMMIT } from "./database.ts";

export type DeliveryState = "pending" | "delivered" | "failed";

export interface Delivery {
  id: string;
  integrationId: string;
  activityId: string;
  /** Deliveries of one key leave in order (the environment's name; '' for activities about none). */
  orderKey: string;
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

export const DELIVERY_COLUMNS = `id, integration_id AS "integrationId", activity_id AS "activityId", order_key AS "orderKey",
  event, body, state, attempts,
  failures, next_attempt_at AS "nextAttemptAt", last_status AS "lastStatus", last_error AS "lastError",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/**
 * Writes deliveries in one statement; those of one integration and order key are sent in the
 * order given (`orderKey`: the activity's environment, '' when it has none).
 */
export async function insertDeliveries(
  tx: Queryable,
  deliveries: Array<{
    id: string;
    integrationId: string;
    activityId: string;
    orderKey?: string | null | undefined;
    event: string;
    body: string;
  }>,
): Promise<void> {
  if (deliveries.length === 0) return;
  await tx.query(
    `INSERT INTO deliveries (id, integration_id, activity_id, order_key, event, body)
     SELECT id, integration_id, activity_id, order_key, event, body
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
       AS d(id, integration_id, activity_id, order_key, event, body, n)
     ORDER BY n`,
    [
      deliveries.map((d) => d.id),
      deliveries.map((d) => d.integrationId),
      deliveries.map((d) => d.activityId),
      deliveries.map((d) => d.orderKey ?? ""),
      deliveries.map((d) => d.event),
      deliveries.map((d) => d.body),
    ],
  );
}

/** The integration's oldest pending deliveries, at most `limit`: deliveries leave in the order they were written. */
export async function nextPendingDeliveries(
  db: Queryable,
  integrationId: string,
  limit: number,
): Promise<Delivery[]> {
  const { rows } = await db.query<Delivery>(
    `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE integration_id = $1 AND state = 'pending' ORDER BY seq LIMIT $2`,
    [integrationId, limit],
  );
  return rows;
}

export async function getDelivery(db: Queryable, id: string): Promise<Delivery | undefined> {
  const { rows } = await db.query<Delivery>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = $1`, [id]);
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

/** One attempt to record, with what follows from it. */
export interface AttemptRecord {
  delivery: Pick<Delivery, "id" | "attempts" | "integrationId" | "body">;
  startedAt: Date;
  url: string;
  requestHeaders: Record<string, string>;
  result: AttemptResult;
  /** Answered 429: retried at `retryAt` without moving along the schedule, and not a failure. */
  rateLimited: boolean;
  /** Kudu's words for the attempt (`HTTP 200`, the error). */
  reason: string;
  /** Retried then; undefined after a success, or a failure that ends the delivery. */
  retryAt: Date | undefined;
  /** Gives up the integration's lease held by this owner, in the same statement. */
  releaseLeaseOf?: string | undefined;
}

export interface RecordedAttempt {
  state: DeliveryState;
  /** Since when the integration has been failing (null: its last attempt did not fail). */
  failingSince: Date | null;
  /** The lease was given up (`releaseLeaseOf`) and the integration has a delivery due after all. */
  dueAfterRelease: boolean;
}

/**
 * Records attempts — at most one per integration — and what follows from each: the delivery
 * delivered, retried at `retryAt` or failed for good; the integration's summary of its last
 * attempt (Kudu's) and its failing spell; its lease given up when asked. One statement for all,
 * whose commit does not wait for the disk (RELAXED_COMMIT).
 */
export async function recordAttempts(db: Queryable, records: AttemptRecord[]): Promise<RecordedAttempt[]> {
  const states = records.map(
    ({ result, retryAt }): DeliveryState => (result.ok ? "delivered" : retryAt ? "pending" : "failed"),
  );
  const column = <T>(value: (record: AttemptRecord, n: number) => T) => records.map(value);
  // A rate-limited attempt neither starts nor ends the integration's failing spell; an interrupted
  // one (the sender cut short by a shutdown) is no failure either, and leaves the integration's
  // summary as it was: the receiver said nothing. After a release, the delivery just recorded is
  // not seen as sent yet (one snapshot): it is left out.
  const { rows } = await db.query<{
    integrationId: string;
    failingSince: Date | null;
    dueAfterRelease: boolean;
  }>(
    `WITH relaxed AS (${RELAXED_COMMIT}),
     input AS (
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::text[], $6::jsonb[],
         $7::int[], $8::jsonb[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::boolean[],
         $14::timestamptz[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
         $20::boolean[])
       AS i(delivery_id, attempt, started_at, duration_ms, url, request_headers, status_code, response_headers,
         response_body, error, ok, state, rate_limited, retry_at, integration_id, summary, reason, context,
         release_owner, interrupted)),
     logged AS (
       INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, url, request_headers,
         status_code, response_headers, response_body, error, succeeded)
       SELECT delivery_id, attempt, started_at, duration_ms, url, request_headers, status_code, response_headers,
         response_body, error, ok
       FROM input),
     moved AS (
       UPDATE deliveries d SET state = i.state, attempts = d.attempts + 1,
         failures = CASE WHEN i.ok OR i.rate_limited OR i.interrupted THEN d.failures ELSE d.failures + 1 END,
         next_attempt_at = COALESCE(i.retry_at, d.next_attempt_at), last_status = i.status_code,
         last_error = i.error, updated_at = now()
       FROM input i WHERE d.id = i.delivery_id),
     summed AS (
       UPDATE integrations g
       SET last_datetime = CASE WHEN i.interrupted THEN g.last_datetime ELSE now() END,
         last_status = CASE WHEN i.interrupted THEN g.last_status ELSE i.summary END,
         last_reason = CASE WHEN i.interrupted THEN g.last_reason ELSE i.reason END,
         last_context = CASE WHEN i.interrupted THEN g.last_context ELSE i.context END,
         failing_since = CASE WHEN i.rate_limited OR i.interrupted THEN g.failing_since
                              WHEN i.ok THEN NULL ELSE COALESCE(g.failing_since, now()) END,
         lease_owner = CASE WHEN g.lease_owner = i.release_owner THEN NULL ELSE g.lease_owner END,
         lease_until = CASE WHEN g.lease_owner = i.release_owner THEN NULL ELSE g.lease_until END
       FROM input i WHERE g.id = i.integration_id
       RETURNING g.id, g.failing_since,
         i.release_owner IS NOT NULL AND g.lease_owner IS NULL AND g.status = 'active' AND i.state <> 'pending'
           AND COALESCE((SELECT d.next_attempt_at <= now() FROM deliveries d
                         WHERE d.integration_id = g.id AND d.state = 'pending' AND d.id <> i.delivery_id
                         ORDER BY d.seq LIMIT 1), false) AS due)
     SELECT id AS "integrationId", failing_since AS "failingSince", due AS "dueAfterRelease"
     FROM summed, relaxed`,
    [
      column((r) => r.delivery.id),
      column((r) => r.delivery.attempts + 1),
      column((r) => r.startedAt),
      column((r) => r.result.durationMs),
      column((r) => r.url),
      column((r) => JSON.stringify(r.requestHeaders)),
      column((r) => r.result.statusCode),
      column((r) => (r.result.responseHeaders ? JSON.stringify(r.result.responseHeaders) : null)),
      column((r) => r.result.responseBody),
      column((r) => r.result.error),
      column((r) => r.result.ok),
      states,
      column((r) => r.rateLimited),
      column((r) => r.retryAt ?? null),
      column((r) => r.delivery.integrationId),
      column((r) => (r.result.ok ? "OK" : r.rateLimited ? "RateLimited" : "Failed")),
      column((r) => r.reason),
      column((r) => r.delivery.body.slice(0, 4096)),
      column((r) => r.releaseLeaseOf ?? null),
      column((r) => r.result.interrupted === true),
    ],
  );
  const byIntegration = new Map(rows.map((row) => [row.integrationId, row]));
  return records.map((record, n) => {
    const row = byIntegration.get(record.delivery.integrationId);
    return {
      state: states[n] as DeliveryState,
      failingSince: row?.failingSince ?? null,
      dueAfterRelease: row?.dueAfterRelease === true,
    };
  });
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
    `SELECT seq, ${DELIVERY_COLUMNS} FROM deliveries
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
