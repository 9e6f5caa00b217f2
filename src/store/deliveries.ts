import type { Activity } from "../activity/activity.ts";
import type { AttemptResult } from "../relay/send-delivery.ts";
import { attemptMayHoldFullUrlSql } from "./attempt-urls.ts";
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
  /** A test (`…/test`, Kudu's publish): kept in the log, counted nowhere, never redelivered in bulk. */
  test: boolean;
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
  /**
   * Logged before the log kept a webhook's URL as its origin, and not rewritten yet (migration
   * 019's background step): the URL may be a capability, shown to nobody.
   */
  mayHoldFullUrl?: boolean;
}

export const DELIVERY_COLUMNS = `id, integration_id AS "integrationId", activity_id AS "activityId", order_key AS "orderKey",
  event, body, state, attempts,
  failures, next_attempt_at AS "nextAttemptAt", last_status AS "lastStatus", last_error AS "lastError",
  created_at AS "createdAt", updated_at AS "updatedAt", test`;

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

/**
 * Writes a test delivery (a sample activity sent at once by `…/test`): in the log like any
 * other, marked as a test so that no count and no bulk redeliver takes it. It is written settled
 * (failed, until its attempt says otherwise), never pending: the integration's drains take pending
 * deliveries, and would send it again, with retries, while the test waits for the receiver.
 */
export async function insertTestDelivery(
  db: Queryable,
  delivery: { id: string; integrationId: string; activityId: string; event: string; body: string },
): Promise<void> {
  await db.query(
    `INSERT INTO deliveries (id, integration_id, activity_id, order_key, event, body, test, state, last_error)
     VALUES ($1, $2, $3, '', $4, $5, true, 'failed', 'a test: sent once, its answer not recorded')`,
    [delivery.id, delivery.integrationId, delivery.activityId, delivery.event, delivery.body],
  );
}

/** SQL: how integration `g` (an alias of integrations) orders its deliveries. */
const ordering = (g: string) => `COALESCE(${g}.config->>'ordering', 'environment')`;

/**
 * SQL: the heads of integration `g`'s order keys — each key's oldest pending delivery, but those
 * in `excluded` (SQL text[]) — as rows (order_key, seq, next_attempt_at), one index probe per key
 * (a loose index scan on deliveries_pending_by_key).
 */
const laneHeads = (g: string, excluded: string) => `WITH RECURSIVE lanes AS (
    (SELECT order_key, seq, next_attempt_at FROM deliveries
     WHERE integration_id = ${g}.id AND state = 'pending' AND id <> ALL(${excluded})
     ORDER BY order_key, seq LIMIT 1)
    UNION ALL
    SELECT next.* FROM lanes l CROSS JOIN LATERAL (
      SELECT order_key, seq, next_attempt_at FROM deliveries
      WHERE integration_id = ${g}.id AND state = 'pending' AND order_key > l.order_key AND id <> ALL(${excluded})
      ORDER BY order_key, seq LIMIT 1) next)`;

/**
 * SQL: whether integration `g` has a delivery it may send now, as its ordering allows, leaving out
 * those in `excluded` (SQL text[], deliveries just sent): `integration`, when its oldest pending
 * one is due; `environment`, when some key's oldest is due; `none`, when any is due. A delivery
 * waiting for its retry holds back only what must follow it.
 */
export function deliveryDueSql(g: string, excluded = "'{}'::text[]"): string {
  return `(CASE ${ordering(g)}
    WHEN 'integration' THEN COALESCE((SELECT d.next_attempt_at <= now() FROM deliveries d
      WHERE d.integration_id = ${g}.id AND d.state = 'pending' AND d.id <> ALL(${excluded})
      ORDER BY d.seq LIMIT 1), false)
    WHEN 'none' THEN EXISTS (SELECT 1 FROM deliveries d
      WHERE d.integration_id = ${g}.id AND d.state = 'pending' AND d.next_attempt_at <= now()
        AND d.id <> ALL(${excluded}))
    ELSE EXISTS (${laneHeads(g, excluded)} SELECT 1 FROM lanes WHERE next_attempt_at <= now())
  END)`;
}

/**
 * SQL: a JSON array of integration `g`'s deliveries to send now, each with `lane` (deliveries of
 * one lane leave in turn), oldest lane first. `busy` (SQL text[]) names the lanes in flight, left
 * out; at most `lanes` lanes (SQL int), with up to `perLane` deliveries each (SQL int):
 * - `integration`: one lane, the oldest pending deliveries, only when none is in flight;
 * - `environment`: a lane per order key whose oldest pending delivery is due;
 * - `none`: a lane per due delivery.
 * With `lock`, the rows are read FOR UPDATE: a locking read sees each row as it is now, so those
 * sent by another instance that committed after this statement's snapshot are left out.
 */
export function sendableDeliveriesSql(
  g: string,
  { busy, lanes, perLane, lock }: { busy: string; lanes: string; perLane: string; lock: boolean },
): string {
  const locked = lock ? " FOR UPDATE" : "";
  return `COALESCE((SELECT json_agg(s ORDER BY s.head, s.seq) FROM (
    SELECT * FROM (SELECT 0::bigint AS head, '' AS lane, seq, ${DELIVERY_COLUMNS} FROM deliveries
      WHERE ${ordering(g)} = 'integration' AND cardinality(${busy}) = 0
        AND integration_id = ${g}.id AND state = 'pending'
      ORDER BY seq LIMIT ${perLane}${locked}) one_lane
    UNION ALL
    SELECT * FROM (SELECT seq AS head, id AS lane, seq, ${DELIVERY_COLUMNS} FROM deliveries
      WHERE ${ordering(g)} = 'none' AND integration_id = ${g}.id AND state = 'pending'
        AND next_attempt_at <= now() AND id <> ALL(${busy})
      ORDER BY seq LIMIT ${lanes}${locked}) each_alone
    UNION ALL
    (${laneHeads(g, "'{}'::text[]")}
     SELECT open.seq AS head, open.order_key AS lane, d.* FROM (
       SELECT order_key, seq FROM lanes
       WHERE ${ordering(g)} NOT IN ('integration', 'none') AND next_attempt_at <= now()
         AND order_key <> ALL(${busy})
       ORDER BY seq LIMIT ${lanes}) open
     CROSS JOIN LATERAL (
       SELECT seq, ${DELIVERY_COLUMNS} FROM deliveries
       WHERE integration_id = ${g}.id AND state = 'pending' AND order_key = open.order_key
       ORDER BY seq LIMIT ${perLane}${locked}) d)
  ) s), '[]')`;
}

/** A delivery to send, and the lane it leaves in (in turn with the lane's others). */
export type SendableDelivery = Delivery & { lane: string };

/** Deliveries as sendableDeliveriesSql's JSON brings them (times as text). */
export function parseSendable(rows: Array<SendableDelivery & { head?: unknown; seq?: unknown }>) {
  return rows.map(
    ({ head: _head, seq: _seq, ...delivery }): SendableDelivery => ({
      ...delivery,
      nextAttemptAt: new Date(delivery.nextAttemptAt),
      createdAt: new Date(delivery.createdAt),
      updatedAt: new Date(delivery.updatedAt),
    }),
  );
}

export async function getDelivery(db: Queryable, id: string): Promise<Delivery | undefined> {
  const { rows } = await db.query<Delivery>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = $1`, [id]);
  return rows[0];
}

export async function listAttempts(db: Queryable, deliveryId: string): Promise<DeliveryAttempt[]> {
  const { rows } = await db.query<DeliveryAttempt>(
    `SELECT attempt, started_at AS "startedAt", duration_ms AS "durationMs", url, request_headers AS "requestHeaders",
       status_code AS "statusCode", response_headers AS "responseHeaders", response_body AS "responseBody", error,
       succeeded, ${attemptMayHoldFullUrlSql("a")} AS "mayHoldFullUrl"
     FROM delivery_attempts a WHERE delivery_id = $1 ORDER BY attempt`,
    [deliveryId],
  );
  return rows;
}

/** One attempt to record, with what follows from it. */
export interface AttemptRecord {
  /** With `test`, a test delivery: its attempt leaves the integration's summary and failing spell alone. */
  delivery: Pick<Delivery, "id" | "attempts" | "integrationId" | "body"> & { test?: boolean };
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
  /** The lease was given up (`releaseLeaseOf`; kept while the delivery waits for a retry). */
  released: boolean;
  /** The lease was given up and the integration has a delivery it may send after all. */
  dueAfterRelease: boolean;
}

/**
 * Records attempts — several of one integration as well — and what follows from each: the
 * delivery delivered, retried at `retryAt` or failed for good; the integration's summary of its
 * last attempt (Kudu's) and its failing spell; its lease given up when asked, unless the delivery
 * waits for a retry (the holder then decides what else may go). A test delivery's attempt is
 * logged and settles its delivery, but says nothing about the integration's health (its summary,
 * its failing spell and so the five-day clock). One statement for all, whose
 * commit does not wait for the disk (RELAXED_COMMIT).
 */
export async function recordAttempts(db: Queryable, records: AttemptRecord[]): Promise<RecordedAttempt[]> {
  records = records.map(storable);
  const states = records.map(
    ({ result, retryAt }): DeliveryState => (result.ok ? "delivered" : retryAt ? "pending" : "failed"),
  );
  const column = <T>(value: (record: AttemptRecord, n: number) => T) => records.map(value);
  // Several attempts of one integration are summed up first (an UPDATE joined to several rows of
  // one target applies only one of them), in the order given:
  // - the summary is the last attempt's, but for interrupted ones (the sender cut short by a
  //   shutdown: the receiver said nothing);
  // - the failing spell follows the last attempt that was neither rate-limited nor interrupted
  //   (those neither start nor end it): it ends with a success, and a failure after a success in
  //   the same statement starts a new one;
  // - after a release, deliveries settled here are not seen as settled yet (one snapshot): they are
  //   left out of what is due.
  const { rows } = await db.query<{
    integrationId: string;
    failingSince: Date | null;
    released: boolean;
    dueAfterRelease: boolean;
  }>(
    `WITH relaxed AS (${RELAXED_COMMIT}),
     input AS (
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::text[], $6::jsonb[],
         $7::int[], $8::jsonb[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::boolean[],
         $14::timestamptz[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
         $20::boolean[], $21::boolean[]) WITH ORDINALITY
       AS i(delivery_id, attempt, started_at, duration_ms, url, request_headers, status_code, response_headers,
         response_body, error, ok, state, rate_limited, retry_at, integration_id, summary, reason, context,
         release_owner, interrupted, test, n)),
     logged AS (
       INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, url, request_headers,
         status_code, response_headers, response_body, error, succeeded)
       SELECT delivery_id, attempt, started_at, duration_ms, url, request_headers, status_code, response_headers,
         response_body, error, ok
       FROM input ORDER BY n),
     moved AS (
       UPDATE deliveries d SET state = i.state, attempts = d.attempts + 1,
         failures = CASE WHEN i.ok OR i.rate_limited OR i.interrupted THEN d.failures ELSE d.failures + 1 END,
         next_attempt_at = COALESCE(i.retry_at, d.next_attempt_at), last_status = i.status_code,
         last_error = i.error, updated_at = now()
       FROM input i WHERE d.id = i.delivery_id),
     per_integration AS (
       SELECT integration_id,
         (array_agg(summary ORDER BY n DESC) FILTER (WHERE NOT interrupted AND NOT test))[1] AS summary,
         (array_agg(reason ORDER BY n DESC) FILTER (WHERE NOT interrupted AND NOT test))[1] AS reason,
         (array_agg(context ORDER BY n DESC) FILTER (WHERE NOT interrupted AND NOT test))[1] AS context,
         (array_agg(ok ORDER BY n DESC) FILTER (WHERE NOT rate_limited AND NOT interrupted AND NOT test))[1]
           AS last_ok,
         COALESCE(bool_or(ok) FILTER (WHERE NOT rate_limited AND NOT interrupted AND NOT test), false) AS any_ok,
         max(release_owner) AS release_owner,
         bool_or(release_owner IS NOT NULL AND state = 'pending') AS keep_lease,
         COALESCE(array_agg(delivery_id) FILTER (WHERE state <> 'pending'), '{}') AS settled
       FROM input GROUP BY integration_id),
     summed AS (
       UPDATE integrations g
       SET last_datetime = CASE WHEN p.summary IS NULL THEN g.last_datetime ELSE now() END,
         last_status = COALESCE(p.summary, g.last_status),
         last_reason = CASE WHEN p.summary IS NULL THEN g.last_reason ELSE p.reason END,
         last_context = CASE WHEN p.summary IS NULL THEN g.last_context ELSE p.context END,
         failing_since = CASE WHEN p.last_ok IS NULL THEN g.failing_since
                              WHEN p.last_ok THEN NULL
                              WHEN p.any_ok THEN now()
                              ELSE COALESCE(g.failing_since, now()) END,
         lease_owner = CASE WHEN g.lease_owner = p.release_owner AND NOT p.keep_lease THEN NULL ELSE g.lease_owner END,
         lease_until = CASE WHEN g.lease_owner = p.release_owner AND NOT p.keep_lease THEN NULL ELSE g.lease_until END
       FROM per_integration p WHERE g.id = p.integration_id
       RETURNING g.id, g.failing_since,
         p.release_owner IS NOT NULL AND NOT p.keep_lease AND g.lease_owner IS NULL AS released,
         p.release_owner IS NOT NULL AND NOT p.keep_lease AND g.lease_owner IS NULL AND g.status = 'active'
           AND ${deliveryDueSql("g", "p.settled")} AS due)
     SELECT id AS "integrationId", failing_since AS "failingSince", released, due AS "dueAfterRelease"
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
      column((r) => r.delivery.test === true),
    ],
  );
  const byIntegration = new Map(rows.map((row) => [row.integrationId, row]));
  return records.map((record, n) => {
    const row = byIntegration.get(record.delivery.integrationId);
    const released = record.releaseLeaseOf !== undefined && row?.released === true;
    return {
      state: states[n] as DeliveryState,
      failingSince: row?.failingSince ?? null,
      released,
      dueAfterRelease: released && row?.dueAfterRelease === true,
    };
  });
}

/**
 * PostgreSQL's text and jsonb refuse U+0000, which a receiver may answer with: it is left out of
 * everything an attempt brings from outside (the answer, the error, headers, the URL).
 */
const withoutNul = (text: string) => text.replaceAll("\u0000", "");
const headersWithoutNul = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [withoutNul(name), withoutNul(value)]));

function storable(record: AttemptRecord): AttemptRecord {
  const { result } = record;
  return {
    ...record,
    url: withoutNul(record.url),
    requestHeaders: headersWithoutNul(record.requestHeaders),
    reason: withoutNul(record.reason),
    result: {
      ...result,
      responseHeaders: result.responseHeaders && headersWithoutNul(result.responseHeaders),
      responseBody: result.responseBody === null ? null : withoutNul(result.responseBody),
      error: result.error === null ? null : withoutNul(result.error),
    },
  };
}

/**
 * What follows from an attempt the log refused (recordAttempts failed): the delivery delivered,
 * retried at `retryAt` or failed for good, as recordAttempts would have it, with `why` as its last
 * error; no attempt row, the integration's summary and lease untouched. Without it, the delivery
 * would stay due and go again at once.
 */
export async function settleUnrecordedAttempt(
  db: Queryable,
  record: AttemptRecord,
  why: string,
): Promise<RecordedAttempt> {
  const { result, retryAt, rateLimited } = record;
  const state: DeliveryState = result.ok ? "delivered" : retryAt ? "pending" : "failed";
  const failed = !result.ok && !rateLimited && result.interrupted !== true;
  await db.query(
    `UPDATE deliveries SET state = $2, attempts = attempts + 1,
       failures = failures + CASE WHEN $3::boolean THEN 1 ELSE 0 END,
       next_attempt_at = COALESCE($4::timestamptz, next_attempt_at), last_status = $5, last_error = $6,
       updated_at = now()
     WHERE id = $1`,
    [record.delivery.id, state, failed, retryAt ?? null, result.statusCode, withoutNul(why).slice(0, 2000)],
  );
  return { state, failingSince: null, released: false, dueAfterRelease: false };
}

export interface DeliveryFilter {
  limit: number;
  before?: number | undefined;
  state?: DeliveryState | undefined;
  /** The activity type sent (`environment.push`), exactly. */
  event?: string | undefined;
  /** The last answer's HTTP status; 0: no answer (a connection error, a timeout). */
  statusCode?: number | undefined;
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
       AND ($5::text IS NULL OR event = $5)
       AND ($6::int IS NULL OR ($6 = 0 AND attempts > 0 AND last_status IS NULL) OR last_status = $6)
     ORDER BY seq DESC LIMIT $4`,
    [
      integrationId,
      filter.before ?? null,
      filter.state ?? null,
      filter.limit + 1,
      filter.event ?? null,
      filter.statusCode ?? null,
    ],
  );
  const page = rows.slice(0, filter.limit);
  return {
    deliveries: page.map(({ seq: _seq, ...delivery }) => delivery),
    next: rows.length > filter.limit ? page.at(-1)?.seq : undefined,
  };
}

/**
 * Sends deliveries again, from the start of the retry schedule and with the same webhook-id.
 * One by id, or in bulk by integration, state and age (tests left out). Returns the ids reset.
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
           WHERE integration_id = $1 AND state <> 'pending' AND NOT test AND ($2::text IS NULL OR state = $2)
             AND ($3::timestamptz IS NULL OR created_at >= $3)
           RETURNING id, integration_id AS "integrationId"`,
          [where.integrationId, where.state ?? null, where.since ?? null],
        );
  return rows;
}

/** Where a delivery's activity belongs, for an alert about the delivery. */
export interface DeliverySubject {
  projectId: number;
  projectKey: string;
  /** The activity as stored. */
  activity: Activity;
}

/** The project and activity a delivery was written for; undefined when the activity is gone. */
export async function findDeliverySubject(
  db: Queryable,
  activityId: string,
): Promise<DeliverySubject | undefined> {
  const { rows } = await db.query<{ projectId: string; projectKey: string; body: Activity }>(
    `SELECT a.project_id AS "projectId", p.key AS "projectKey", a.body
     FROM activities a JOIN projects p ON p.id = a.project_id WHERE a.id = $1`,
    [activityId],
  );
  const row = rows[0];
  return row && { projectId: Number(row.projectId), projectKey: row.projectKey, activity: row.body };
}
