import type { Logger } from "pino";
import type { Database } from "../store/database.ts";
import { markEventProcessed, nextPendingEvent, recordEventFailure } from "../store/github-events.ts";

/** Hands one stored delivery to the app (Probot's `receive`, or the local handler). */
export type ReceiveEvent = (event: { id: string; name: string; payload: unknown }) => Promise<void>;

export interface DrainDeps {
  db: Database;
  receive: ReceiveEvent;
  log: Logger;
  /** Attempts before a delivery is set aside as failed so the project's later events go on. */
  maxAttempts: number;
}

/**
 * Applies a project's pending deliveries oldest first, one at a time. Throws on the first failure,
 * leaving that delivery first in line, so the queue retries with backoff and nothing overtakes it:
 * a project's events are applied in the order they were received, failures included.
 */
export async function drainProject(deps: DrainDeps, projectKey: string): Promise<number> {
  let applied = 0;
  for (;;) {
    const event = await nextPendingEvent(deps.db, projectKey);
    if (!event) return applied;
    const log = deps.log.child({ delivery: event.deliveryId, event: event.name, project: projectKey });
    try {
      await deps.receive({ id: event.deliveryId, name: event.name, payload: JSON.parse(event.payload) });
      // A handler marks the delivery in the transaction that applies it; none did if none matched.
      await markEventProcessed(deps.db, event.id, "no handler for this event");
      applied++;
    } catch (error) {
      const message = describeError(error);
      const { attempts, failed } = await recordEventFailure(deps.db, event.id, message, deps.maxAttempts);
      if (failed) {
        log.error({ attempts, err: message }, "GitHub event failed too many times; set aside as failed");
        continue;
      }
      log.warn({ attempts, err: message }, "GitHub event failed; it will be retried");
      throw error;
    }
  }
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(describeError).join("; ");
  if (error instanceof Error) return error.message;
  return String(error);
}
