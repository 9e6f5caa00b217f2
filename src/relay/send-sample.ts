import {
  type Delivery,
  type DeliveryAttempt,
  getDelivery,
  insertTestDelivery,
  listAttempts,
} from "../store/deliveries.ts";
import { type AttemptDeps, attemptDelivery } from "./attempt-delivery.ts";
import { newDeliveryId } from "./delivery-id.ts";
import { formatDelivery, formatForIntegration } from "./dialects/format-delivery.ts";
import type { Integration } from "./integration.ts";
import { sampleActivity } from "./sample-activity.ts";

/**
 * Sends a sample activity to an integration now, once, and returns the delivery with its attempt:
 * how a user checks a URL at once (`…/test`, Kudu's `publish`). The delivery stays in the log,
 * marked as a test: no count or success rate includes it, and no bulk redeliver sends it again.
 */
export async function sendSample(
  deps: AttemptDeps,
  integration: Integration,
): Promise<{ delivery: Delivery; attempts: DeliveryAttempt[] }> {
  const activity = sampleActivity(integration.projectKey);
  // A dialect that says nothing about the sample (Dockership, for one) gets the activity itself.
  const formatted =
    formatForIntegration(integration, activity, { sequence: 1 }) ??
    formatDelivery("platformsh", activity, { sequence: 1 });
  const id = newDeliveryId();
  await insertTestDelivery(deps.db, {
    id,
    integrationId: integration.id,
    activityId: activity.id,
    event: formatted?.event ?? activity.type,
    body: JSON.stringify(formatted?.body ?? activity),
  });
  const delivery = await getDelivery(deps.db, id);
  if (!delivery) throw new Error("the sample delivery vanished");
  await attemptDelivery(deps, integration, delivery, { retry: false });
  return {
    delivery: (await getDelivery(deps.db, id)) ?? delivery,
    attempts: await listAttempts(deps.db, id),
  };
}
