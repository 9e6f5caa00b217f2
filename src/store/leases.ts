import { type Queryable, RELAXED_COMMIT } from "./database.ts";

/**
 * Work that one process at a time may do, whichever instance it runs in: an integration's
 * deliveries (so they leave in order and none is sent twice at once), a project's GitHub updates.
 * The holder renews its lease while it works; a holder that dies loses it when it runs out.
 * Taking and giving up a lease commit without waiting for the disk (RELAXED_COMMIT).
 */
export type LeaseTable =
  | { table: "integrations"; key: "id"; owner: "lease_owner"; until: "lease_until" }
  | { table: "github_update_leases"; key: "project_key"; owner: "owner"; until: "until"; rows: "own" }
  | { table: "background_jobs"; key: "name"; owner: "lease_owner"; until: "lease_until" };

export const INTEGRATION_LEASE: LeaseTable = {
  table: "integrations",
  key: "id",
  owner: "lease_owner",
  until: "lease_until",
};
/**
 * A project's GitHub updates: a table of its own (its rows come and go with the lease), not the
 * projects row, which an apply transaction locks until it commits.
 */
export const GITHUB_UPDATES_LEASE: LeaseTable = {
  table: "github_update_leases",
  key: "project_key",
  owner: "owner",
  until: "until",
  rows: "own",
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
  if ("rows" in lease && !renew) {
    // The lease's own row: written when free, or when its holder died or is this owner.
    const { rows } = await db.query(
      `WITH relaxed AS (${RELAXED_COMMIT})
       INSERT INTO ${lease.table} AS l (${lease.key}, ${lease.owner}, ${lease.until})
       SELECT $1, $2, now() + make_interval(secs => $3) FROM relaxed
       ON CONFLICT (${lease.key}) DO UPDATE SET ${lease.owner} = EXCLUDED.${lease.owner}, ${lease.until} = EXCLUDED.${lease.until}
       WHERE ${takeable(lease, "$2", "l.")}
       RETURNING 1`,
      [key, owner, seconds],
    );
    return rows.length === 1;
  }
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
export function takeable(lease: LeaseTable, owner: string, alias = ""): string {
  const until = `${alias}${lease.until}`;
  return `(${until} IS NULL OR ${until} < now() OR ${alias}${lease.owner} = ${owner})`;
}

export async function releaseLease(db: Queryable, lease: LeaseTable, key: string, owner: string) {
  if ("rows" in lease) {
    await db.query(
      `WITH relaxed AS (${RELAXED_COMMIT})
       DELETE FROM ${lease.table} USING relaxed WHERE ${lease.key} = $1 AND ${lease.owner} = $2`,
      [key, owner],
    );
    return;
  }
  await db.query(
    `WITH relaxed AS (${RELAXED_COMMIT})
     UPDATE ${lease.table} SET ${lease.owner} = NULL, ${lease.until} = NULL FROM relaxed
     WHERE ${lease.key} = $1 AND ${lease.owner} = $2`,
    [key, owner],
  );
}

/** Drops every lease: only for the embedded database, which no other process can be using. */
export async function releaseAllLeases(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM ${GITHUB_UPDATES_LEASE.table}`);
  for (const lease of [INTEGRATION_LEASE, BACKGROUND_JOB_LEASE]) {
    await db.query(
      `UPDATE ${lease.table} SET ${lease.owner} = NULL, ${lease.until} = NULL WHERE ${lease.owner} IS NOT NULL`,
    );
  }
}
