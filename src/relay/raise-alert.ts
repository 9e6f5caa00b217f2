import type { PgBoss } from "pg-boss";
import type { Activity } from "../activity/activity.ts";
import type { Metrics } from "../metrics.ts";
import { enqueueKey } from "../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../queue/queues.ts";
import { insertActivity, updateActivity } from "../store/activities.ts";
import type { Database } from "../store/database.ts";
import { findDeliverySubject } from "../store/deliveries.ts";
import { insertAlert, lockNewestAlert, updateAlert } from "../store/integration-alerts.ts";
import { alertActivity, isAlert } from "./alert-activity.ts";
import { countIntoAlert, isWindowOpen } from "./coalesce-alert.ts";
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
 * Alerts about deliveries. A project's integration's alert is an activity of the delivery's project,
 * relayed to its other integrations (never to the one the alert is about: it is disabled or
 * failing), whose drains are woken through the deliveries queue once the alert commits. An
 * owner-wide integration's alert is the operator's: kept at owner level (`GET /api/alerts`), never
 * an activity of the project whose event failed, and relayed nowhere (its text may name the
 * receiver's addresses). An alert's own failed delivery raises none, so two failing channels cannot
 * alert each other forever.
 *
 * At most one alert per integration and type in 10 minutes (`now`'s): a later one counts into the
 * first (its count, span and text change in place) and is not relayed again.
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
      const at = now();
      const about = `${integration.type} integration ${integration.id}`;
      const described = describeAlert(alert, subject.activity, about);
      const window = await lockNewestAlert(tx, integration.id, described.type);
      if (window && isWindowOpen(window, at)) {
        const counted = countIntoAlert(window.body, { ...described, at });
        if (window.owner === null) await updateActivity(tx, counted, null);
        await updateAlert(tx, counted, window.owner);
        return [];
      }
      const iso = at.toISOString();
      const activity = alertActivity(
        {
          type: described.type,
          project: subject.activity.project,
          environment:
            described.type === "integration.disabled" ? null : subject.activity.payload.environment,
          text: described.text,
          log: described.log,
          alert: { integration: integration.id, count: 1, first_at: iso, last_at: iso },
        },
        at,
      );
      await insertAlert(tx, { activity, integrationId: integration.id, owner: integration.owner });
      if (integration.owner !== null) return [];
      const { sequence } = await insertActivity(tx, subject.projectId, activity, null);
      recorded = activity;
      return writeDeliveries(tx, subject.projectKey, [{ activity, sequence }], { except: integration.id });
    });
    if (recorded) metrics?.activities.inc({ type: recorded.type, state: recorded.state });
    if (boss) for (const id of toWake) await enqueueKey(boss, DELIVERIES_QUEUE, id);
  };
}

/** An alert's type and words; `noun` is what a window's count counts. */
function describeAlert(alert: DeliveryAlert, subject: Activity, about: string) {
  if (alert.kind === "disabled") {
    return {
      type: "integration.disabled" as const,
      text: `The ${about} was disabled: ${alert.reason}. Fix the receiver, then resume it.`,
      log: `Integration ${alert.integration.id} disabled: ${alert.reason}.\nIts deliveries wait; resume it (POST …/integrations/${alert.integration.id}/resume) to send them.`,
      noun: `times the ${about} was disabled`,
    };
  }
  return {
    type: "integration.delivery.failed" as const,
    text: `Delivery ${alert.deliveryId} of ${subject.type} to the ${about} failed for good after ${alert.attempts} attempts: ${alert.error}.`,
    log: `Delivery ${alert.deliveryId} (activity ${subject.id}) failed ${alert.attempts} times; its retry schedule ran out. Last error: ${alert.error}.\nRedeliver it once the receiver is fixed.`,
    noun: `deliveries to the ${about} failed for good`,
  };
}
