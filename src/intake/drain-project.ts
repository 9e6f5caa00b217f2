import type { Logger } from "pino";
import { type RetryPolicy, retryDelayMs } from "../queue/queues.ts";
import type { Database } from "../store/database.ts";
import { markEventProcessed, nextPendingEvent, recordEventFailure } from "../store/github-events.ts";

/** Hands one stored delivery to the app (Probot's `receive`, or the local handler). */
export type ReceiveEvent = (event: { id: string; name: string; payload: unknown }) => Promise<void>;

export interface DrainDeps {
  db: Database;
  receive: ReceiveEvent;
  log: Logger;
  /** How failed deliveries are retried, and how often before they are set aside as failed. */
  retry: RetryPolicy;
  /** Wakes the project again at `at`, when its first waiting delivery is due. */
  wakeAt(projectKey: string, at: Date): Promise<void>;
}

/**
 * Applies a project's pending deliveries oldest first, one at a time. A failure leaves that
 * delivery first in line until its retry is due, so nothing overtakes it: a project's events are
 * applied in the order they were received, failures included.
 */
export async function drainProject(deps: DrainDeps, projectKey: string): Promise<number> {
  let applied = 0;
  for (;;) {
    const event = await nextPendingEvent(deps.db, projectKey);
    if (!event) return applied;
    const due = new Date(event.nextAttemptAt);
    if (due.getTime() > Date.now()) {
      await deps.wakeAt(projectKey, due);
      return applied;
    }
    const log = deps.log.child({ delivery: event.deliveryId, event: event.name, project: projectKey });
    try {
      await deps.receive({ id: event.deliveryId, name: event.name, payload: JSON.parse(event.payload) });
      // A handler marks the delivery in the transaction that applies it; none did if none matched.
      await markEventProcessed(deps.db, event.id, "no handler for this event");
      applied++;
    } catch (error) {
      const message = describeError(error);
      const retryAt = new Date(Date.now() + retryDelayMs(deps.retry, event.attempts + 1));
      const { attempts, failed } = await recordEventFailure(deps.db, event.id, message, {
        maxAttempts: deps.retry.limit + 1,
        retryAt,
      });
      if (failed) {
        log.error({ attempts, err: message }, "GitHub event failed too many times; set aside as failed");
        continue;
      }
      log.warn({ attempts, err: message, retryAt }, "GitHub event failed; it will be retried");
      await deps.wakeAt(projectKey, retryAt);
      return applied;
    }
  }
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(describeError).join("; ");
  if (error instanceof Error) return error.message;
  return String(error);
}
