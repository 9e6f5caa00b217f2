import type { PgBoss } from "pg-boss";
import { enqueueKey } from "../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../queue/queues.ts";
import { type Delivery, nextPendingDelivery } from "../store/deliveries.ts";
import { leaseIntegration, releaseIntegration } from "../store/integrations.ts";
import { type AttemptDeps, attemptDelivery } from "./attempt-delivery.ts";

export interface DrainIntegrationDeps extends AttemptDeps {
  boss: PgBoss;
  /** This process, as a lease holder. */
  owner: string;
}

/**
 * Sends an integration's pending deliveries oldest first, one at a time, while it holds the
 * integration's lease. A delivery waiting for its retry holds back the ones after it (order is
 * kept): the drain then stops, without taking the lease, and a job wakes it when the retry is due.
 */
export async function drainIntegration(deps: DrainIntegrationDeps, integrationId: string): Promise<number> {
  let sent = 0;
  let delivery = await nextPendingDelivery(deps.db, integrationId);
  if (!delivery || (await waitForRetry(deps, integrationId, delivery))) return sent;
  // The lease also reads the integration afresh each time: paused, new URL, new secret.
  let integration = await leaseIntegration(deps.db, integrationId, deps.owner);
  if (!integration) return sent;
  try {
    for (;;) {
      const outcome = await attemptDelivery(deps, integration, delivery);
      sent++;
      if (outcome.disabled) return sent;
      delivery = await nextPendingDelivery(deps.db, integrationId);
      if (!delivery || (await waitForRetry(deps, integrationId, delivery))) return sent;
      integration = await leaseIntegration(deps.db, integrationId, deps.owner);
      if (!integration) return sent;
    }
  } finally {
    await releaseIntegration(deps.db, integrationId, deps.owner);
    // A delivery written while we held the lease had its job turned away: wake the integration again.
    const waiting = await nextPendingDelivery(deps.db, integrationId);
    if (waiting && new Date(waiting.nextAttemptAt).getTime() <= Date.now()) {
      await enqueueKey(deps.boss, DELIVERIES_QUEUE, integrationId);
    }
  }
}

/** True when `delivery` waits for its retry; a job then wakes the integration when it is due. */
async function waitForRetry(deps: DrainIntegrationDeps, integrationId: string, delivery: Delivery) {
  const due = new Date(delivery.nextAttemptAt);
  if (due.getTime() <= Date.now()) return false;
  await enqueueKey(deps.boss, DELIVERIES_QUEUE, integrationId, { startAfter: due });
  return true;
}
