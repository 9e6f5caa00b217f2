import type { PgBoss } from "pg-boss";
import type { Activity } from "../activity/activity.ts";
import { enqueueKey } from "../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../queue/queues.ts";
import type { Queryable } from "../store/database.ts";
import { insertDelivery } from "../store/deliveries.ts";
import { listReceivingIntegrations } from "../store/integrations.ts";
import { newDeliveryId } from "./delivery-id.ts";
import { formatDelivery } from "./dialects/format-delivery.ts";
import { matchesIntegration } from "./match-integration.ts";

/** Writes an activity's deliveries into the outbox, inside the transaction that stores the activity. */
export type WriteDeliveries = (
  tx: Queryable,
  projectKey: string,
  activity: Activity,
  sequence: number,
) => Promise<number>;

/**
 * The outbox: one delivery per matching integration, formatted in its dialect now so that every
 * attempt sends the same bytes, and a job for each active integration, all in the caller's
 * transaction. Paused integrations collect deliveries and send them on resume.
 */
export function outboxWriter(boss: PgBoss): WriteDeliveries {
  return async function writeDeliveries(tx, projectKey, activity, sequence) {
    let written = 0;
    for (const integration of await listReceivingIntegrations(tx, projectKey)) {
      if (!matchesIntegration(integration.config, activity)) continue;
      const formatted = formatDelivery(integration.config.format, activity, { sequence });
      if (!formatted) continue;
      await insertDelivery(tx, {
        id: newDeliveryId(),
        integrationId: integration.id,
        activityId: activity.id,
        event: formatted.event,
        body: JSON.stringify(formatted.body),
      });
      written++;
      if (integration.status === "active") await enqueueKey(boss, DELIVERIES_QUEUE, integration.id, { tx });
    }
    return written;
  };
}
