import type { Queryable } from "../store/database.ts";
import { type LeaseTable, releaseLease, takeLease } from "../store/leases.ts";

/** How long a lease lasts without renewal: a dead holder's work is taken over this much later (plus a sweep). */
export const LEASE_SECONDS = 30;
/** The holder renews this often, so a lease held by a live process never runs out. */
const RENEW_EVERY_MS = 10_000;

export interface Held {
  /** False once a renewal failed: the holder stops after what it is doing. */
  readonly held: boolean;
}

/**
 * Runs `work` while this process holds the lease on `key`, renewing it in the background, and
 * releases it afterwards. Resolves to false, without running `work`, when another holder has it.
 * `take` and `release` replace the plain statements (to read or check something in the same one).
 */
export async function withLease(
  db: Queryable,
  lease: LeaseTable,
  key: string,
  owner: string,
  work: (lease: Held) => Promise<void>,
  {
    take = () => takeLease(db, lease, key, owner, LEASE_SECONDS),
    release = () => releaseLease(db, lease, key, owner),
  }: { take?: () => Promise<boolean>; release?: () => Promise<void> } = {},
): Promise<boolean> {
  if (!(await take())) return false;
  const state = { held: true };
  const renewer = setInterval(() => {
    takeLease(db, lease, key, owner, LEASE_SECONDS, { renew: true }).then(
      (renewed) => {
        if (!renewed) state.held = false;
      },
      () => {
        state.held = false;
      },
    );
  }, RENEW_EVERY_MS);
  renewer.unref();
  try {
    await work(state);
    return true;
  } finally {
    clearInterval(renewer);
    await release();
  }
}
