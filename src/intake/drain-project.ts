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
import { type ApplyBatch, BATCHED_EVENTS } from "./apply-batch.ts";
import { BatchAppliedAlready } from "./apply-events.ts";
import { CHECK_EVENTS } from "./wait-for-checks.ts";

/** Hands one stored delivery to the app (Probot's `receive`, or the local handler). */
export type ReceiveEvent = (event: { id: string; name: string; payload: unknown }) => Promise<void>;

export interface DrainDeps {
  db: Database;
  receive: ReceiveEvent;
  /** Applies runs of lifecycle events together; without it every delivery goes through `receive`. */
  applyBatch?: ApplyBatch | undefined;
  log: Logger;
  /** How failed deliveries are retried, and how often before they are set aside as failed. */
  retry: RetryPolicy;
  /** Wakes the project again at `at`, when its first waiting delivery is due. */
  wakeAt(projectKey: string, at: Date): Promise<void>;
  /** Aborted when the process is shutting down: the drain stops after the delivery in flight. */
  signal?: AbortSignal;
  /** Shared with the handlers (ApplyDeps.settled): deliveries they marked processed already. */
  settled?: Set<string>;
  /** Applies runs of check and status events together (wait_for_checks); returns how many. */
  applyChecks?: ((events: StoredEvent[]) => Promise<number>) | undefined;
}

/** Pending deliveries read at once: at most this many are applied in one transaction. */
const BATCH = 50;

/**
 * Applies a project's pending deliveries oldest first. Runs of lifecycle events never tried before
 * are applied together (`applyBatch`, one transaction); the rest, and every event of a run whose
 * transaction failed, go one at a time through `receive`. A failure leaves that delivery first in
 * line until its retry is due, so nothing overtakes it: a project's events are applied in the order
 * they were received, failures included.
 */
export async function drainProject(deps: DrainDeps, projectKey: string): Promise<number> {
  const log = deps.log.child({ project: projectKey });
  let done = 0;
  while (!deps.signal?.aborted) {
    const pending = await nextPendingEvents(deps.db, projectKey, BATCH);
    if (pending.length === 0) return done;
    // A run of check and status events (wait_for_checks) is applied together too.
    const checks = deps.applyChecks ? leadingRun(pending, (e) => due(e) && CHECK_EVENTS.has(e.name)) : [];
    if (checks.length > 0 && deps.applyChecks) {
      try {
        done += await deps.applyChecks(checks);
        if (checks.length === pending.length && pending.length < BATCH) return done;
        continue;
      } catch (error) {
        if (!(error instanceof BatchAppliedAlready)) {
          log.warn(
            { err: error, events: checks.length },
            "applying check events together failed; one at a time",
          );
          const { applied, finished } = await drainOneByOne(deps, log, projectKey, checks);
          done += applied;
          if (!finished) return done;
        }
        continue;
      }
    }
    const run = deps.applyBatch ? leadingRun(pending, batchable) : [];
    // Without batches every delivery goes one at a time; with them, those up to the next run do.
    let alone = pending;
    if (deps.applyBatch) alone = run.length > 0 ? run.slice(0, 1) : leadingRun(pending, (e) => !batchable(e));
    if (run.length > 0 && deps.applyBatch) {
      try {
        const applied = await deps.applyBatch(run);
        log.debug({ events: applied, pending: pending.length }, "applied events together");
        done += applied;
        // A short read that was all applied was all there was: one accepted since wakes the project again.
        if (applied === pending.length && pending.length < BATCH) return done;
        if (applied > 0) continue;
      } catch (error) {
        // Another instance applied some of them meanwhile: read again what is still pending.
        if (error instanceof BatchAppliedAlready) continue;
        // Which event failed is for the one-at-a-time path to find: each gets its own retries.
        log.warn(
          { err: error, events: run.length },
          "applying events together failed; applying them one at a time",
        );
        alone = run;
      }
    }
    const { applied, finished } = await drainOneByOne(deps, log, projectKey, alone);
    done += applied;
    if (!finished || (alone.length === pending.length && pending.length < BATCH)) return done;
  }
  return done;
}

/** Never tried, due, and of a kind applied in batches. */
function batchable(event: StoredEvent): boolean {
  return due(event) && BATCHED_EVENTS.has(event.name);
}

/** Never tried, and due. */
function due(event: StoredEvent): boolean {
  return event.attempts === 0 && new Date(event.nextAttemptAt).getTime() <= Date.now();
}

function leadingRun(events: StoredEvent[], matches: (event: StoredEvent) => boolean): StoredEvent[] {
  const end = events.findIndex((event) => !matches(event));
  return end === -1 ? events : events.slice(0, end);
}

/**
 * Applies `events` one at a time through `receive`, under `drainInOrder`'s retry rules. `finished`:
 * all of them were done or set aside (false when one waits for its retry, or the drain stopped).
 */
async function drainOneByOne(
  deps: DrainDeps,
  log: Logger,
  projectKey: string,
  events: StoredEvent[],
): Promise<{ applied: number; finished: boolean }> {
  const queue = [...events];
  let finished = false;
  const applied = await drainInOrder({
    async next() {
      const event = queue.shift();
      if (!event) finished = true;
      return event;
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
    log,
    what: "GitHub event",
    logFields: (event) => ({ delivery: event.deliveryId, event: event.name }),
    stopped: () => Boolean(deps.signal?.aborted),
  });
  return { applied, finished };
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
