import type { Logger } from "pino";
import { drainInOrder } from "../queue/drain-in-order.ts";
import type { RetryPolicy } from "../queue/queues.ts";
import type { Database } from "../store/database.ts";
import {
  markEventProcessed,
  nextPendingEvents,
  recordEventFailure,
  type StoredEvent,
} from "../store/github-events.ts";

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
  /** Aborted when the process is shutting down: the drain stops after the delivery in flight. */
  signal?: AbortSignal;
  /** Shared with the handlers (ApplyDeps.settled): deliveries they marked processed already. */
  settled?: Set<string>;
}

/** Pending deliveries read at once. */
const BATCH = 16;

/**
 * Applies a project's pending deliveries oldest first, one at a time. A failure leaves that
 * delivery first in line until its retry is due, so nothing overtakes it: a project's events are
 * applied in the order they were received, failures included.
 */
export async function drainProject(deps: DrainDeps, projectKey: string): Promise<number> {
  // Read BATCH at a time; a short batch was all there was (one accepted since wakes the project again).
  let batch: StoredEvent[] = [];
  let more = true;
  return drainInOrder({
    async next() {
      if (batch.length === 0 && more) {
        batch = await nextPendingEvents(deps.db, projectKey, BATCH);
        more = batch.length === BATCH;
      }
      return batch.shift();
    },
    async run(event) {
      await deps.receive({ id: event.deliveryId, name: event.name, payload: JSON.parse(event.payload) });
    },
    // A handler marks the delivery in the transaction that applies it; none did if none matched.
    async done(event) {
      if (deps.settled?.delete(event.deliveryId)) return;
      await markEventProcessed(deps.db, { id: event.id }, "no handler for this event");
    },
    recordFailure(event, error, options) {
      deps.settled?.delete(event.deliveryId);
      return recordEventFailure(deps.db, event.id, error, options);
    },
    wakeAt: (at) => deps.wakeAt(projectKey, at),
    retry: deps.retry,
    log: deps.log.child({ project: projectKey }),
    what: "GitHub event",
    logFields: (event) => ({ delivery: event.deliveryId, event: event.name }),
    stopped: () => Boolean(deps.signal?.aborted),
  });
}
