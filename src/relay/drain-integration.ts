import type { PgBoss } from "pg-boss";
import { enqueueKey } from "../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../queue/queues.ts";
import { withLease } from "../queue/with-lease.ts";
import { type Delivery, nextPendingDelivery } from "../store/deliveries.ts";
import { getIntegration } from "../store/integrations.ts";
import { INTEGRATION_LEASE } from "../store/leases.ts";
import { type AttemptDeps, attemptDelivery } from "./attempt-delivery.ts";

export interface DrainIntegrationDeps extends AttemptDeps {
  boss: PgBoss;
  /** This process, as a lease holder. */
  owner: string;
  /** Aborted when the process is shutting down: the drain stops after the attempt in flight. */
  signal?: AbortSignal;
}

/**
 * Sends an integration's pending deliveries oldest first, one at a time, while it holds the
 * integration's lease (in whichever instance). A delivery waiting for its retry holds back the
 * ones after it (order is kept): the drain then stops, and a job wakes it when the retry is due.
 */
export async function drainIntegration(deps: DrainIntegrationDeps, integrationId: string): Promise<number> {
  // No lease for work that is waiting for a retry.
  const first = await nextPendingDelivery(deps.db, integrationId);
  if (!first || (await waitForRetry(deps, integrationId, first))) return 0;
  let sent = 0;
  let emptied = false;
  await withLease(deps.db, INTEGRATION_LEASE, integrationId, deps.owner, async (lease) => {
    while (lease.held && !deps.signal?.aborted) {
      // Read afresh before each attempt: paused, new URL, new secret.
      const integration = await getIntegration(deps.db, integrationId);
      if (integration?.status !== "active") return;
      // Read again under the lease, not reused from before it: another instance may have sent it meanwhile.
      const delivery = await nextPendingDelivery(deps.db, integrationId);
      if (!delivery) {
        emptied = true;
        return;
      }
      if (await waitForRetry(deps, integrationId, delivery)) return;
      const outcome = await attemptDelivery(deps, integration, delivery);
      sent++;
      if (outcome.disabled) return;
    }
  });
  if (!emptied) return sent;
  // A delivery written (in another instance) between our last look and the release had its
  // wake-up turned away by the lease: wake the integration again.
  const waiting = await nextPendingDelivery(deps.db, integrationId);
  if (waiting && new Date(waiting.nextAttemptAt).getTime() <= Date.now()) {
    await enqueueKey(deps.boss, DELIVERIES_QUEUE, integrationId);
  }
  return sent;
}

/** True when `delivery` waits for its retry; a job then wakes the integration when it is due. */
async function waitForRetry(deps: DrainIntegrationDeps, integrationId: string, delivery: Delivery) {
  const due = new Date(delivery.nextAttemptAt);
  if (due.getTime() <= Date.now()) return false;
  await enqueueKey(deps.boss, DELIVERIES_QUEUE, integrationId, { startAfter: due });
  return true;
}
