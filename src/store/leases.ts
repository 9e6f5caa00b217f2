import { type Queryable, RELAXED_COMMIT } from "./database.ts";

/**
 * Work that one process at a time may do, whichever instance it runs in: an integration's
 * deliveries (so they leave in order and none is sent twice at once), a project's GitHub updates.
 * The holder renews its lease while it works; a holder that dies loses it when it runs out.
 * Taking and giving up a lease commit without waiting for the disk (RELAXED_COMMIT).
 */
export type LeaseTable =
  | { table: "integrations"; key: "id"; owner: "lease_owner"; until: "lease_until" }
  | { table: "projects"; key: "key"; owner: "github_lease_owner"; until: "github_lease_until" }
  | { table: "background_jobs"; key: "name"; owner: "lease_owner"; until: "lease_until" };

export const INTEGRATION_LEASE: LeaseTable = {
  table: "integrations",
  key: "id",
  owner: "lease_owner",
  until: "lease_until",
};
export const GITHUB_UPDATES_LEASE: LeaseTable = {
  table: "projects",
  key: "key",
  owner: "github_lease_owner",
  until: "github_lease_until",
};

/** Work on a timer that one instance at a time runs: recovering GitHub deliveries, retention. */
export const BACKGROUND_JOB_LEASE: LeaseTable = {
  table: "background_jobs",
  key: "name",
  owner: "lease_owner",
  until: "lease_until",
};

/**
 * Takes the lease for `seconds` (or extends it, when this owner has it); false when another live
 * holder has it. With `renew`, only extends a lease this owner holds: false when it holds it no
 * more (it ran out and was taken, or was given up).
 */
export async function takeLease(
  db: Queryable,
  lease: LeaseTable,
  key: string,
  owner: string,
  seconds: number,
  { renew = false }: { renew?: boolean } = {},
): Promise<boolean> {
  const { rows } = await db.query(
    `WITH relaxed AS (${RELAXED_COMMIT})
     UPDATE ${lease.table} SET ${lease.owner} = $2, ${lease.until} = now() + make_interval(secs => $3) FROM relaxed
     WHERE ${lease.key} = $1 AND ${renew ? `${lease.owner} = $2` : takeable(lease, "$2")}
     RETURNING 1`,
    [key, owner, seconds],
  );
  return rows.length === 1;
}

/** SQL: nobody holds the lease, its holder died (it ran out), or `owner` (a parameter) holds it. */
export function takeable(lease: LeaseTable, owner: string): string {
  return `(${lease.until} IS NULL OR ${lease.until} < now() OR ${lease.owner} = ${owner})`;
}

export async function releaseLease(db: Queryable, lease: LeaseTable, key: string, owner: string) {
  await db.query(
    `WITH relaxed AS (${RELAXED_COMMIT})
     UPDATE ${lease.table} SET ${lease.owner} = NULL, ${lease.until} = NULL FROM relaxed
     WHERE ${lease.key} = $1 AND ${lease.owner} = $2`,
    [key, owner],
  );
}

/** Drops every lease: only for the embedded database, which no other process can be using. */
export async function releaseAllLeases(db: Queryable): Promise<void> {
  for (const lease of [INTEGRATION_LEASE, GITHUB_UPDATES_LEASE, BACKGROUND_JOB_LEASE]) {
    await db.query(
      `UPDATE ${lease.table} SET ${lease.owner} = NULL, ${lease.until} = NULL WHERE ${lease.owner} IS NOT NULL`,
    );
  }
}
