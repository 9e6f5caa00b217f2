import type { PgBoss } from "pg-boss";
import { enqueueKey } from "../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../queue/queues.ts";
import { nextPendingDelivery } from "../store/deliveries.ts";
import { getIntegration, leaseIntegration, releaseIntegration } from "../store/integrations.ts";
import { type AttemptDeps, attemptDelivery } from "./attempt-delivery.ts";

export interface DrainIntegrationDeps extends AttemptDeps {
  boss: PgBoss;
  /** This process, as a lease holder. */
  owner: string;
}

/**
 * Sends an integration's pending deliveries oldest first, one at a time, while it holds the
 * integration's lease. A delivery waiting for its retry holds back the ones after it (order is
 * kept); the drain then stops and a job is scheduled for when the retry is due.
 */
export async function drainIntegration(deps: DrainIntegrationDeps, integrationId: string): Promise<number> {
  let sent = 0;
  const current = await getIntegration(deps.db, integrationId);
  if (!current) return sent;
  let integration = await lease(deps, integrationId, current.config.timeout_ms / 1000);
  if (!integration) return sent;
  try {
    for (;;) {
      const delivery = await nextPendingDelivery(deps.db, integrationId);
      if (!delivery) return sent;
      const due = new Date(delivery.nextAttemptAt);
      if (due.getTime() > Date.now()) {
        await enqueueKey(deps.boss, DELIVERIES_QUEUE, integrationId, { startAfter: due });
        return sent;
      }
      const outcome = await attemptDelivery(deps, integration, delivery);
      sent++;
      if (outcome.disabled) return sent;
      // Renew the lease and see changes made meanwhile (paused, new URL, new secret).
      integration = await lease(deps, integrationId, integration.config.timeout_ms / 1000);
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

/** A lease outlives one attempt by a margin, and is renewed before every attempt. */
function lease(deps: DrainIntegrationDeps, integrationId: string, attemptSeconds: number) {
  // One statement on its own: a transaction around it would cost two more round trips than the
  // disk wait it saves.
  return leaseIntegration(deps.db, integrationId, deps.owner, Math.ceil(attemptSeconds) + 10);
}
