import type { PgBoss } from "pg-boss";
import { enqueueKey } from "../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../queue/queues.ts";
import { LEASE_SECONDS, withLease } from "../queue/with-lease.ts";
import { type Delivery, nextPendingDeliveries } from "../store/deliveries.ts";
import { getIntegration, releaseIntegrationLease, takeIntegrationLease } from "../store/integrations.ts";
import { INTEGRATION_LEASE } from "../store/leases.ts";
import type { SecretBox } from "../store/secret-box.ts";
import { type AttemptDeps, attemptDelivery } from "./attempt-delivery.ts";
import type { Integration } from "./integration.ts";

export interface DrainIntegrationDeps extends AttemptDeps {
  boss: PgBoss;
  /** Decrypts the integration's secrets, once per batch. */
  secrets: SecretBox;
  /** This process, as a lease holder. */
  owner: string;
  /** Drains the integration again in this process once the drain in flight has finished. */
  again(integrationId: string): void;
  /** Aborted when the process is shutting down: the drain stops after the attempt in flight. */
  signal?: AbortSignal;
}

/**
 * Pending deliveries read at once. The integration is read afresh between batches (paused, a new
 * URL, a new secret): a change reaches at most this many deliveries already read.
 */
const BATCH = 16;

/**
 * Sends an integration's pending deliveries oldest first, one at a time, while it holds the
 * integration's lease (in whichever instance). The lease is taken only when the oldest pending
 * delivery is due: one waiting for its retry holds back the ones after it (order is kept), and a
 * job wakes the integration when the retry is due.
 */
export async function drainIntegration(deps: DrainIntegrationDeps, integrationId: string): Promise<number> {
  let integration: Integration | undefined;
  // The first batch comes with the lease.
  let batch: Delivery[] = [];
  let sent = 0;
  let released = false;
  let dueAfterRelease = false;
  await withLease(
    deps.db,
    INTEGRATION_LEASE,
    integrationId,
    deps.owner,
    async (lease) => {
      const stopped = () => !lease.held || Boolean(deps.signal?.aborted);
      while (integration?.status === "active" && !stopped()) {
        for (const [n, delivery] of batch.entries()) {
          if (stopped()) return;
          const due = new Date(delivery.nextAttemptAt);
          if (due.getTime() > Date.now()) {
            await retryLater(deps, integrationId, due);
            return;
          }
          // The last of a short batch is all there is: its record gives the lease up too, and
          // says whether something was written meanwhile.
          const last = batch.length < BATCH && n === batch.length - 1;
          const outcome = await attemptDelivery(deps, integration, delivery, {
            ...(last ? { releaseLeaseOf: deps.owner } : {}),
          });
          sent++;
          if (last) {
            released = true;
            dueAfterRelease = outcome.dueAfterRelease;
            if (outcome.retryAt) await retryLater(deps, integrationId, outcome.retryAt);
            return;
          }
          // Stopping: an attempt cut short is recorded; the rest waits for the next process.
          if (outcome.disabled || stopped()) return;
          // Read again: a delivery to retry now holds back the rest of the batch.
          if (!outcome.ok) break;
        }
        if (batch.length === 0) return;
        integration = await getIntegration(deps.db, deps.secrets, integrationId);
        batch = await nextPendingDeliveries(deps.db, integrationId, BATCH);
      }
    },
    {
      take: async () => {
        const taken = await takeIntegrationLease(
          deps.db,
          deps.secrets,
          integrationId,
          deps.owner,
          LEASE_SECONDS,
          BATCH,
        );
        integration = taken?.integration;
        batch = taken?.deliveries ?? [];
        return taken !== undefined;
      },
      release: async () => {
        if (!released) dueAfterRelease = await releaseIntegrationLease(deps.db, integrationId, deps.owner);
      },
    },
  );
  // Written (in another instance) while the lease turned its wake-up away, or left by a stop.
  if (dueAfterRelease && !deps.signal?.aborted) deps.again(integrationId);
  return sent;
}

/** A job wakes the integration when its first pending delivery is due. */
async function retryLater(deps: DrainIntegrationDeps, integrationId: string, due: Date): Promise<void> {
  await enqueueKey(deps.boss, DELIVERIES_QUEUE, integrationId, { startAfter: due });
}
