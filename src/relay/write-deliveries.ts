import type { Activity } from "../activity/activity.ts";
import type { Queryable } from "../store/database.ts";
import { insertDeliveries } from "../store/deliveries.ts";
import { listReceivingIntegrations } from "../store/integrations.ts";
import { newDeliveryId } from "./delivery-id.ts";
import { formatForIntegration } from "./dialects/format-delivery.ts";
import { matchesIntegration } from "./match-integration.ts";

/**
 * Writes an activity's deliveries into the outbox, inside the transaction that stores the activity.
 * Returns the active integrations that have something new to send, to be woken once it commits.
 */
export type WriteDeliveries = (
  tx: Queryable,
  projectKey: string,
  activity: Activity,
  sequence: number,
) => Promise<string[]>;

/**
 * The outbox: one delivery per matching integration, formatted in its dialect now so that every
 * attempt sends the same bytes, in the caller's transaction. Paused integrations collect
 * deliveries and send them on resume.
 */
export const writeDeliveries: WriteDeliveries = async (tx, projectKey, activity, sequence) => {
  const toWake: string[] = [];
  const deliveries = [];
  for (const integration of await listReceivingIntegrations(tx, projectKey)) {
    if (!matchesIntegration(integration.config, activity)) continue;
    const formatted = formatForIntegration(integration, activity, { sequence });
    if (!formatted) continue;
    deliveries.push({
      id: newDeliveryId(),
      integrationId: integration.id,
      activityId: activity.id,
      orderKey: activity.parameters.environment,
      event: formatted.event,
      body: JSON.stringify(formatted.body),
    });
    if (integration.status === "active") toWake.push(integration.id);
  }
  await insertDeliveries(tx, deliveries);
  return toWake;
};
