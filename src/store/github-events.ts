import type { Queryable } from "./database.ts";
import { type OrderedTable, projectsWithDueWork, recordOrderedFailure } from "./ordered-work.ts";

export interface StoredEvent {
  id: number;
  deliveryId: string;
  name: string;
  action: string | null;
  projectKey: string;
  payload: string;
  attempts: number;
  /** Not to be tried before this (after a failure). */
  nextAttemptAt: Date;
}

export interface NewEvent {
  deliveryId: string;
  name: string;
  action: string | null;
  projectKey: string;
  payload: string;
  /** GitHub's request headers, as kept for the delivery's page (`keptHeaders`). */
  headers?: Record<string, string> | undefined;
}

/**
 * Stores an accepted delivery in the inbox. Returns false when the delivery id is known already
 * (GitHub's redelivery), in which case nothing changes.
 *
 * The per-project advisory lock makes concurrent deliveries of one repository commit in the order
 * of their ids, so "oldest pending first" is the order they were received in.
 */
export async function insertEvent(db: Queryable, event: NewEvent): Promise<{ id: number } | undefined> {
  // One statement (its own transaction): the lock is taken before the id is drawn, held until commit.
  const { rows } = await db.query<{ id: number }>(
    `WITH locked AS (SELECT pg_advisory_xact_lock(hashtext($6)))
     INSERT INTO github_events (delivery_id, name, action, project_key, payload, request_headers)
     SELECT $1, $2, $3, $4, $5, $7::jsonb FROM locked
     ON CONFLICT (delivery_id) DO NOTHING
     RETURNING id`,
    [
      event.deliveryId,
      event.name,
      event.action,
      event.projectKey,
      event.payload,
      `envhooks:inbox:${event.projectKey}`,
      event.headers ? JSON.stringify(event.headers) : null,
    ],
  );
  return rows[0];
}

/**
 * Stores several accepted deliveries in one statement (one transaction, one commit), in the order
 * given; one result per delivery, undefined for a delivery id known already. Each project's inbox
 * lock is taken first, in the order of the locks' keys (so two of these never wait for each other
 * in a circle), and the ids are drawn in the order given: a project's deliveries keep the order
 * they were received in, as with `insertEvent`. The delivery ids must be distinct.
 */
export async function insertEvents(
  db: Queryable,
  events: readonly NewEvent[],
): Promise<Array<{ id: number } | undefined>> {
  const { rows } = await db.query<{ id: number; deliveryId: string }>(
    `WITH locked AS (
       SELECT count(pg_advisory_xact_lock(h)) AS n
       FROM (SELECT DISTINCT hashtext('envhooks:inbox:' || k) AS h FROM unnest($4::text[]) AS k ORDER BY 1) AS keys
     )
     INSERT INTO github_events (delivery_id, name, action, project_key, payload, request_headers)
     SELECT d.delivery_id, d.name, NULLIF(d.action, ''), d.project_key, d.payload, NULLIF(d.headers, '')::jsonb
     FROM locked, unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
       AS d(delivery_id, name, action, project_key, payload, headers, n)
     ORDER BY d.n
     ON CONFLICT (delivery_id) DO NOTHING
     RETURNING id, delivery_id AS "deliveryId"`,
    [
      events.map((event) => event.deliveryId),
      events.map((event) => event.name),
      // '' for none: GitHub's actions are never empty.
      events.map((event) => event.action ?? ""),
      events.map((event) => event.projectKey),
      events.map((event) => event.payload),
      events.map((event) => (event.headers ? JSON.stringify(event.headers) : "")),
    ],
  );
  const stored = new Map(rows.map((row) => [row.deliveryId, { id: Number(row.id) }]));
  return events.map((event) => stored.get(event.deliveryId));
}

/** A project's oldest events still waiting to be applied, at most `limit`, oldest first. */
export async function nextPendingEvents(
  db: Queryable,
  projectKey: string,
  limit: number,
): Promise<StoredEvent[]> {
  const { rows } = await db.query<StoredEvent>(
    `SELECT id, delivery_id AS "deliveryId", name, action, project_key AS "projectKey", payload, attempts,
       next_attempt_at AS "nextAttemptAt"
     FROM github_events WHERE project_key = $1 AND state = 'pending' ORDER BY id LIMIT $2`,
    [projectKey, limit],
  );
  return rows;
}

/**
 * Marks an event applied (by its row or its GitHub delivery id), in the transaction that applied
 * it. Returns false when it was not pending any more (another worker applied it first, or it was
 * never stored), so the caller must roll back its work.
 */
export async function markEventProcessed(
  tx: Queryable,
  event: { id: number } | { deliveryId: string },
  outcome: string,
): Promise<boolean> {
  const [column, value] = "id" in event ? ["id", event.id] : ["delivery_id", event.deliveryId];
  const { rows } = await tx.query(
    `UPDATE github_events SET state = 'processed', outcome = $2, processed_at = now()
     WHERE ${column} = $1 AND state = 'pending' RETURNING id`,
    [value, outcome],
  );
  return rows.length === 1;
}

/**
 * Marks events applied together, in the transaction that applied them, in one statement. Returns
 * how many were still pending: fewer than given means another worker applied some first, and the
 * caller must roll back its work.
 */
export async function markEventsProcessed(
  tx: Queryable,
  events: ReadonlyArray<{ id: number; outcome: string }>,
): Promise<number> {
  if (events.length === 0) return 0;
  const { rows } = await tx.query(
    `UPDATE github_events e SET state = 'processed', outcome = x.outcome, processed_at = now()
     FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, outcome text)
     WHERE e.id = x.id AND e.state = 'pending' RETURNING e.id`,
    [JSON.stringify(events.map(({ id, outcome }) => ({ id, outcome })))],
  );
  return rows.length;
}

const INBOX: OrderedTable = { name: "github_events", finishedAt: "processed_at" };

/** Counts a failed attempt at an event (see `recordOrderedFailure`). */
export function recordEventFailure(
  db: Queryable,
  id: number,
  error: string,
  options: { maxAttempts: number; retryAt: Date },
): Promise<{ attempts: number; failed: boolean }> {
  return recordOrderedFailure(db, INBOX, id, error, options);
}

/** Projects whose oldest pending event is due. */
export function projectsWithPendingEvents(db: Queryable): Promise<string[]> {
  return projectsWithDueWork(db, INBOX);
}

export interface EventRecord {
  deliveryId: string;
  name: string;
  action: string | null;
  state: "pending" | "processed" | "failed";
  attempts: number;
  lastError: string | null;
  outcome: string | null;
}

/** One stored delivery, by its X-GitHub-Delivery id. */
export async function findEvent(db: Queryable, deliveryId: string): Promise<EventRecord | undefined> {
  const { rows } = await db.query<EventRecord>(
    `SELECT delivery_id AS "deliveryId", name, action, state, attempts, last_error AS "lastError", outcome
     FROM github_events WHERE delivery_id = $1`,
    [deliveryId],
  );
  return rows[0];
}

export interface EventListing extends EventRecord {
  receivedAt: Date;
  processedAt: Date | null;
}

/** A project's deliveries, newest first, with what became of each; `next` pages on as in activities. */
export async function listEvents(
  db: Queryable,
  projectKey: string,
  { limit, before }: { limit: number; before?: number | undefined },
): Promise<{ events: EventListing[]; next: number | undefined }> {
  const { rows } = await db.query<EventListing & { id: number }>(
    `SELECT id, delivery_id AS "deliveryId", name, action, state, attempts, last_error AS "lastError", outcome,
       received_at AS "receivedAt", processed_at AS "processedAt"
     FROM github_events WHERE project_key = $1 AND ($2::bigint IS NULL OR id < $2)
     ORDER BY id DESC LIMIT $3`,
    [projectKey, before ?? null, limit + 1],
  );
  const page = rows.slice(0, limit);
  return {
    events: page.map(({ id: _id, ...event }) => event),
    next: rows.length > limit ? page.at(-1)?.id : undefined,
  };
}
