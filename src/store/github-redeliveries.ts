import type { Queryable } from "./database.ts";

/**
 * The GUIDs (X-GitHub-Delivery) among `guids` that need no redelivery: envhooks stored the event,
 * or asked GitHub to send it again already.
 */
export async function knownDeliveryGuids(db: Queryable, guids: readonly string[]): Promise<Set<string>> {
  if (guids.length === 0) return new Set();
  const { rows } = await db.query<{ guid: string }>(
    `SELECT delivery_id AS guid FROM github_events WHERE delivery_id = ANY($1::text[])
     UNION SELECT guid FROM github_redeliveries WHERE guid = ANY($1::text[])`,
    [guids],
  );
  return new Set(rows.map((row) => row.guid));
}

export interface Redelivery {
  guid: string;
  /** GitHub's id of the failed delivery that was asked for again. */
  hookDeliveryId: number;
  event: string;
  action: string | null;
  /** What envhooks answered (or 0: GitHub got no answer) when GitHub first tried. */
  statusCode: number;
}

/** Remembers a redelivery asked for, so it is asked for once. */
export async function recordRedelivery(db: Queryable, redelivery: Redelivery, at: Date): Promise<void> {
  await db.query(
    `INSERT INTO github_redeliveries (guid, hook_delivery_id, event, action, status_code, requested_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (guid) DO NOTHING`,
    [
      redelivery.guid,
      redelivery.hookDeliveryId,
      redelivery.event,
      redelivery.action,
      redelivery.statusCode,
      at,
    ],
  );
}

/** Forgets redeliveries asked for before `before` (GitHub itself forgets deliveries after 3 days). */
export async function pruneRedeliveries(db: Queryable, before: Date): Promise<void> {
  await db.query("DELETE FROM github_redeliveries WHERE requested_at < $1", [before]);
}
