import type { Logger } from "pino";
import { InvalidPayload, parseGithubPayload } from "../lifecycle/github-event.schema.ts";
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
      // Checked again: a delivery stored before intake checked payloads may be of the wrong shape.
      const payload = parseGithubPayload(event.name, JSON.parse(event.payload));
      await deps.receive({ id: event.deliveryId, name: event.name, payload });
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
    isPermanent: isPermanentFailure,
    wakeAt: (at) => deps.wakeAt(projectKey, at),
    retry: deps.retry,
    log: deps.log.child({ project: projectKey }),
    what: "GitHub event",
    logFields: (event) => ({ delivery: event.deliveryId, event: event.name }),
    stopped: () => Boolean(deps.signal?.aborted),
  });
}

/**
 * Failures that trying the same delivery again cannot mend, so it is set aside as failed at once
 * and the project's later deliveries go on: a payload of the wrong shape, code that cannot read it
 * (a TypeError, but not fetch's network failure), and PostgreSQL refusing the data itself
 * (class 22, e.g. 22021 invalid byte sequence, 22P05 untranslatable character, 22003 out of range).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export function isPermanentFailure(error: unknown): boolean {
  // Probot hands the app's errors over in an AggregateError.
  if (error instanceof AggregateError) {
    return error.errors.length > 0 && error.errors.every(isPermanentFailure);
  }
  if (error instanceof InvalidPayload || error instanceof SyntaxError) return true;
  if (error instanceof TypeError) return error.message !== "fetch failed" && error.cause === undefined;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^22[0-9A-Z]{3}$/.test(code);
}
