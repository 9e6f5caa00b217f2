import type { PgBoss } from "pg-boss";
import type { Activity } from "../activity/activity.ts";
import type { Metrics } from "../metrics.ts";
import { enqueueKey } from "../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../queue/queues.ts";
import { insertActivity } from "../store/activities.ts";
import type { Database } from "../store/database.ts";
import { findDeliverySubject } from "../store/deliveries.ts";
import { alertActivity, isAlert } from "./alert-activity.ts";
import type { Integration } from "./integration.ts";
import { writeDeliveries } from "./write-deliveries.ts";

/** What an attempt may have to alert about. */
export type DeliveryAlert =
  | { kind: "disabled"; integration: Integration; activityId: string; reason: string }
  | {
      kind: "failed";
      integration: Integration;
      deliveryId: string;
      activityId: string;
      attempts: number;
      error: string;
    };

/** Records an alert about an integration's delivery (and relays it); the drain's collaborator. */
export type RaiseDeliveryAlert = (alert: DeliveryAlert) => Promise<void>;

/**
 * Alerts about deliveries, recorded as activities of the delivery's project and relayed to its
 * other integrations (never to the one the alert is about: it is disabled or failing), whose
 * drains are woken through the deliveries queue once the alert commits. An alert's own failed
 * delivery raises none, so two failing channels cannot alert each other forever.
 */
export function deliveryAlerts(
  db: Database,
  boss: PgBoss | undefined,
  metrics?: Metrics | undefined,
  now = () => new Date(),
): RaiseDeliveryAlert {
  return async (alert) => {
    let recorded: Activity | undefined;
    const toWake = await db.transaction(async (tx) => {
      const subject = await findDeliverySubject(tx, alert.activityId);
      if (!subject || (alert.kind === "failed" && isAlert(subject.activity))) return [];
      const { integration } = alert;
      const about = `${integration.type} integration ${integration.id}`;
      const activity = alertActivity(
        alert.kind === "disabled"
          ? {
              type: "integration.disabled",
              project: subject.activity.project,
              environment: null,
              text: `The ${about} was disabled: ${alert.reason}. Fix the receiver, then resume it.`,
              log: `Integration ${integration.id} disabled: ${alert.reason}.\nIts deliveries wait; resume it (POST …/integrations/${integration.id}/resume) to send them.`,
            }
          : {
              type: "integration.delivery.failed",
              project: subject.activity.project,
              environment: subject.activity.payload.environment,
              text: `Delivery ${alert.deliveryId} of ${subject.activity.type} to the ${about} failed for good after ${alert.attempts} attempts: ${alert.error}.`,
              log: `Delivery ${alert.deliveryId} (activity ${subject.activity.id}) failed ${alert.attempts} times; its retry schedule ran out. Last error: ${alert.error}.\nRedeliver it once the receiver is fixed.`,
            },
        now(),
      );
      const { sequence } = await insertActivity(tx, subject.projectId, activity, null);
      recorded = activity;
      return writeDeliveries(tx, subject.projectKey, [{ activity, sequence }], { except: integration.id });
    });
    if (recorded) metrics?.activities.inc({ type: recorded.type, state: recorded.state });
    if (boss) for (const id of toWake) await enqueueKey(boss, DELIVERIES_QUEUE, id);
  };
}
