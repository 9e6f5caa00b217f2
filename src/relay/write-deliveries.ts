import type { Activity } from "../activity/activity.ts";
import type { Queryable } from "../store/database.ts";
import { insertDeliveries } from "../store/deliveries.ts";
import { listReceivingIntegrations } from "../store/integrations.ts";
import { newDeliveryId } from "./delivery-id.ts";
import { formatForIntegration } from "./dialects/format-delivery.ts";
import { deliveryOrder, type Integration } from "./integration.ts";
import { matchesIntegration, matchesProjects } from "./match-integration.ts";

/** An activity as stored, with its position in the project's activities (`seq`). */
export interface StoredActivity {
  activity: Activity;
  sequence: number;
}

/**
 * Writes activities' deliveries into the outbox, inside the transaction that stores the activities.
 * Returns the active integrations that have something new to send, to be woken once it commits.
 */
/** Told of each integration and lane a delivery is written to (before the transaction commits). */
export type LaneWritten = (integrationId: string, lane: string) => void;

export type WriteDeliveries = (
  tx: Queryable,
  projectKey: string,
  activities: readonly StoredActivity[],
  /**
   * `except`: an integration an alert is about, which never receives it. `integrations`: the
   * project's receiving integrations, when the caller has them (read in the transaction otherwise).
   */
  options?: { except?: string; integrations?: readonly Integration[]; lanes?: LaneWritten },
) => Promise<string[]>;

/**
 * The outbox: one delivery per activity and matching integration, formatted in its dialect now so
 * that every attempt sends the same bytes, in the caller's transaction; the project's integrations
 * are read once and the deliveries written in one statement, in the activities' order. Paused
 * integrations collect deliveries and send them on resume.
 */
export const writeDeliveries: WriteDeliveries = async (tx, projectKey, activities, options = {}) => {
  if (activities.length === 0) return [];
  const toWake = new Set<string>();
  const deliveries = [];
  const integrations = (options.integrations ?? (await listReceivingIntegrations(tx, projectKey))).filter(
    (integration) => integration.owner === null || matchesProjects(integration.config.projects, projectKey),
  );
  for (const { activity, sequence } of activities) {
    for (const integration of integrations) {
      if (integration.id === options.except) continue;
      if (!matchesIntegration(integration.config, activity)) continue;
      const formatted = formatForIntegration(integration, activity, { sequence });
      if (!formatted) continue;
      const id = newDeliveryId();
      deliveries.push({
        id,
        integrationId: integration.id,
        activityId: activity.id,
        // An owner-wide integration keeps each project's environments apart.
        orderKey:
          integration.owner === null
            ? activity.parameters.environment
            : `${projectKey}:${activity.parameters.environment ?? ""}`,
        event: formatted.event,
        body: JSON.stringify(formatted.body),
      });
      if (integration.status === "active") {
        toWake.add(integration.id);
        options.lanes?.(integration.id, laneOf(integration, id, deliveries.at(-1)?.orderKey));
      }
    }
  }
  await insertDeliveries(tx, deliveries);
  return [...toWake];
};

/** The lane a delivery leaves in, as the drain names it (see sendableDeliveriesSql). */
function laneOf(integration: Integration, deliveryId: string, orderKey: string | null | undefined): string {
  switch (deliveryOrder(integration).ordering) {
    case "integration":
      return "";
    case "none":
      return deliveryId;
    default:
      // No environment: a lane the drain never holds, so the nudge reads at once.
      return orderKey ?? `\u0000${deliveryId}`;
  }
}
