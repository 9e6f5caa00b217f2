import type { Queryable } from "./database.ts";

/** A delivery is asked for again at most this many times (its redelivery may fail too). */
export const MAX_ASKS = 3;

/**
 * The GUIDs (X-GitHub-Delivery) among `guids` to leave alone: envhooks stored the event, or asked
 * GitHub to send it again since `askedSince`, or `MAX_ASKS` times already.
 */
export async function knownDeliveryGuids(
  db: Queryable,
  guids: readonly string[],
  askedSince: Date,
): Promise<Set<string>> {
  if (guids.length === 0) return new Set();
  const { rows } = await db.query<{ guid: string }>(
    `SELECT delivery_id AS guid FROM github_events WHERE delivery_id = ANY($1::text[])
     UNION SELECT guid FROM github_redeliveries
     WHERE guid = ANY($1::text[]) AND (asks >= $3 OR requested_at >= $2)`,
    [guids, askedSince, MAX_ASKS],
  );
  return new Set(rows.map((row) => row.guid));
}

export interface Redelivery {
  guid: string;
  /** GitHub's id of the failed delivery that was asked for again. */
  hookDeliveryId: number;
  event: string;
  action: string | null;
  /** What envhooks answered (or 0: GitHub got no answer) when GitHub tried. */
  statusCode: number;
}

/**
 * Remembers a redelivery asked for and counts the asks; `final` (GitHub refused it, and would
 * again) counts as the last.
 */
export async function recordRedelivery(
  db: Queryable,
  redelivery: Redelivery,
  at: Date,
  { final = false }: { final?: boolean } = {},
): Promise<void> {
  await db.query(
    `INSERT INTO github_redeliveries (guid, hook_delivery_id, event, action, status_code, requested_at, asks)
     VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::boolean THEN $8::int ELSE 1 END)
     ON CONFLICT (guid) DO UPDATE SET hook_delivery_id = excluded.hook_delivery_id,
       status_code = excluded.status_code, requested_at = excluded.requested_at,
       asks = CASE WHEN $7::boolean THEN $8::int ELSE github_redeliveries.asks + 1 END`,
    [
      redelivery.guid,
      redelivery.hookDeliveryId,
      redelivery.event,
      redelivery.action,
      redelivery.statusCode,
      at,
      final,
      MAX_ASKS,
    ],
  );
}

/** Forgets redeliveries asked for before `before` (GitHub itself forgets deliveries after 3 days). */
export async function pruneRedeliveries(db: Queryable, before: Date): Promise<void> {
  await db.query("DELETE FROM github_redeliveries WHERE requested_at < $1", [before]);
}
