import type { KeyedQueue } from "./keyed-queue.ts";

export interface RetryPolicy {
  /** Seconds before the first retry. */
  delaySeconds: number;
  /** Double the delay at each retry (with jitter), up to five minutes. */
  backoff: boolean;
  /** Retries before a GitHub delivery is set aside as failed. */
  limit: number;
}

export const DEFAULT_RETRY: RetryPolicy = { delaySeconds: 5, backoff: true, limit: 10 };

/** GitHub deliveries to apply, keyed by project: one project at a time, in order. */
export function githubEventsQueue(retry: RetryPolicy): KeyedQueue {
  return { name: "github-events", retry, concurrency: 2 };
}

/**
 * Outbound deliveries, keyed by integration. Their retries follow each integration's own schedule
 * (kept in the deliveries table); a failure of envhooks itself is tried again after `delaySeconds`.
 * `concurrency` integrations are drained at once so that a slow receiver holds up only its own.
 */
export const DELIVERIES_QUEUE: KeyedQueue = {
  name: "deliveries",
  retry: { limit: 20, delaySeconds: 5, backoff: true },
  concurrency: 16,
};
