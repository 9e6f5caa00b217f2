import type { Queryable } from "./database.ts";

/** One hour of an integration's deliveries (by the hour they were created), by state. */
export interface HealthHour {
  start: Date;
  delivered: number;
  failed: number;
  pending: number;
}

/** An integration's last 24 hours at a glance. */
export interface IntegrationHealth {
  since: Date;
  /** Deliveries created since `since`, by state (tests left out). */
  counts: { pending: number; delivered: number; failed: number };
  /** 24 hours, oldest first; the last is the current (partial) hour. */
  hours: HealthHour[];
  /** Attempts' durations since `since`, from the attempt log: median and 95th percentile, in ms. */
  latency: { p50: number | null; p95: number | null; attempts: number };
}

const HOUR_MS = 3_600_000;
export const HEALTH_HOURS = 24;

/**
 * The last 24 hours of an integration: deliveries per hour by state and attempts' latency. Two
 * reads, both bounded by the integration and the day (deliveries_by_integration_age, 032).
 */
export async function integrationHealth(
  db: Queryable,
  integrationId: string,
  now = new Date(),
): Promise<IntegrationHealth> {
  const currentHour = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  const since = new Date(currentHour - (HEALTH_HOURS - 1) * HOUR_MS);
  const [byHour, latency] = await Promise.all([
    db.query<{ hour: number; state: string; count: number }>(
      `SELECT floor(extract(epoch FROM created_at) / 3600)::int AS hour, state, count(*)::int AS count
       FROM deliveries WHERE integration_id = $1 AND NOT test AND created_at >= $2
       GROUP BY 1, 2`,
      [integrationId, since],
    ),
    db.query<{ p50: number | null; p95: number | null; attempts: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms)::float8 AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms)::float8 AS p95,
              count(*)::int AS attempts
       FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id
       WHERE d.integration_id = $1 AND NOT d.test AND d.created_at >= $2 AND a.started_at >= $2`,
      [integrationId, since],
    ),
  ]);
  const hours: HealthHour[] = Array.from({ length: HEALTH_HOURS }, (_, index) => ({
    start: new Date(since.getTime() + index * HOUR_MS),
    delivered: 0,
    failed: 0,
    pending: 0,
  }));
  const counts = { pending: 0, delivered: 0, failed: 0 };
  const firstHour = since.getTime() / HOUR_MS;
  for (const row of byHour.rows) {
    const bucket = hours[row.hour - firstHour];
    const state = row.state as keyof typeof counts;
    if (!bucket || !(state in counts)) continue;
    bucket[state] += row.count;
    counts[state] += row.count;
  }
  const row = latency.rows[0];
  return {
    since,
    counts,
    hours,
    latency: {
      p50: row?.p50 == null ? null : Math.round(row.p50),
      p95: row?.p95 == null ? null : Math.round(row.p95),
      attempts: row?.attempts ?? 0,
    },
  };
}
