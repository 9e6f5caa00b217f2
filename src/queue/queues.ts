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

const MAX_BACKOFF_SECONDS = 300;

/** How long to wait after the `failures`-th failure (1 for the first). */
export function retryDelayMs(policy: RetryPolicy, failures: number, random = Math.random): number {
  if (!policy.backoff) return policy.delaySeconds * 1000;
  const seconds = Math.min(MAX_BACKOFF_SECONDS, policy.delaySeconds * 2 ** Math.max(0, failures - 1));
  // Up to a fifth less, so that retries of many projects do not arrive together.
  return Math.round(seconds * 1000 * (1 - random() / 5));
}

/** GitHub deliveries to apply, keyed by project: one project at a time, in order. */
export const GITHUB_EVENTS_QUEUE: KeyedQueue = { name: "github-events", concurrency: 16 };

/**
 * Outbound deliveries, keyed by integration. Their retries follow each integration's own schedule
 * (kept in the deliveries table). A drain mostly waits on its receivers, so many integrations are
 * drained at once: with 16, sixteen slow or hanging receivers held every other integration up, and
 * 100 ms receivers capped a process near 160 deliveries/s. What they ask of the database is
 * bounded by its pool (PostgreSQL) or its one connection (PGlite), not by this.
 */
export const DELIVERIES_QUEUE: KeyedQueue = { name: "deliveries", concurrency: 256 };

/** After a failure of envhooks itself (its database out of reach), a key is drained again this much later. */
export const INTERNAL_RETRY_MS = 5_000;

/**
 * What envhooks tells GitHub (deployments, statuses, comments), keyed by project. Drains mostly wait
 * (on GitHub, and on the throttle that spaces an installation's writes a second apart), so many run
 * at once: one installation's queue of writes never holds a slot another installation needs.
 */
export const GITHUB_UPDATES_QUEUE: KeyedQueue = { name: "github-updates", concurrency: 64 };
