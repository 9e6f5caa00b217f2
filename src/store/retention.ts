import { setTimeout as sleep } from "node:timers/promises";
import type { Queryable } from "./database.ts";

/** How long envhooks keeps what it stores (ENVHOOKS_RETENTION, ENVHOOKS_ACTIVITY_RETENTION). */
export interface Retention {
  /** GitHub payloads, delivered deliveries, finished GitHub updates and attempt bodies. Failed ones: twice this. */
  storedMs: number;
  /** Activities, with their deliveries and what GitHub was shown of them. */
  activitiesMs: number;
}

const DAY_MS = 24 * 3600_000;
export const DEFAULT_RETENTION: Retention = { storedMs: 30 * DAY_MS, activitiesMs: 365 * DAY_MS };

/** What a purge step lets go: the `what` label of `envhooks_purged_total`. */
export type Purged =
  | "github_payloads"
  | "deliveries"
  | "attempt_bodies"
  | "github_tasks"
  | "activities"
  | "alerts"
  | "unidentified_dispatches";

interface PurgeStep {
  what: Purged;
  /** Parameters: $1 the cutoff, $2 the batch size, $3 the cutoff of failed items (twice as old; not for activities). */
  sql: string;
  activities?: true;
  /** Nothing of this kind fails: one cutoff, no $3. */
  oneCutoff?: true;
}

// Each statement takes at most a batch of rows, oldest first, and skips rows someone holds: it
// is its own short transaction and never waits behind intake, the relay or the GitHub drain, which
// only ever touch recent rows. Failed items are kept twice as long (an operator may redeliver
// them: a redelivered delivery is pending again, then delivered). Nothing pending is touched.
const STEPS: PurgeStep[] = [
  {
    // The row stays: its delivery id answers GitHub's redeliveries as duplicates.
    what: "github_payloads",
    sql: `UPDATE github_events SET payload = NULL WHERE id IN (
      SELECT id FROM github_events
      WHERE state <> 'pending' AND payload IS NOT NULL AND processed_at < $1
        AND (state = 'processed' OR processed_at < $3)
      ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING 1`,
  },
  {
    // Their attempts go with them (ON DELETE CASCADE).
    what: "deliveries",
    sql: `DELETE FROM deliveries WHERE seq IN (
      SELECT seq FROM deliveries
      WHERE state <> 'pending' AND updated_at < $1 AND (state = 'delivered' OR updated_at < $3)
      ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING 1`,
  },
  {
    // Attempts of deliveries still pending (a paused integration's): what was sent and answered.
    what: "attempt_bodies",
    sql: `UPDATE delivery_attempts SET request_headers = '{}'::jsonb, response_headers = NULL, response_body = NULL
    WHERE id IN (
      SELECT a.id FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
      WHERE a.started_at < $1 AND (a.response_body IS NOT NULL OR a.request_headers <> '{}'::jsonb)
        AND (d.state <> 'failed' OR a.started_at < $3)
      ORDER BY a.started_at LIMIT $2 FOR UPDATE OF a SKIP LOCKED)
    RETURNING 1`,
  },
  {
    what: "github_tasks",
    sql: `DELETE FROM github_tasks WHERE id IN (
      SELECT id FROM github_tasks
      WHERE state <> 'pending' AND done_at < $1 AND (state = 'done' OR done_at < $3)
      ORDER BY done_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING 1`,
  },
  {
    // A finished activity, with its deliveries and its GitHub deployment record. Kept while it is
    // an environment's last activity, or while a delivery or a GitHub update of it is pending.
    what: "activities",
    activities: true,
    sql: `WITH doomed AS (
      SELECT a.seq, a.id FROM activities a
      WHERE a.updated_at < $1 AND a.state IN ('complete', 'cancelled')
        AND NOT EXISTS (SELECT 1 FROM environments e WHERE e.project_id = a.project_id AND e.last_activity_id = a.id)
        AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.activity_id = a.id AND d.state = 'pending')
        AND NOT EXISTS (SELECT 1 FROM github_tasks t WHERE t.state = 'pending' AND t.body->'activity'->>'id' = a.id)
      ORDER BY a.updated_at LIMIT $2 FOR UPDATE OF a SKIP LOCKED
    ), gone_deliveries AS (
      DELETE FROM deliveries d USING doomed WHERE d.activity_id = doomed.id AND d.state <> 'pending'
    ), gone_deployments AS (
      DELETE FROM github_deployments g USING doomed WHERE g.activity_id = doomed.id
    )
    DELETE FROM activities a USING doomed WHERE a.seq = doomed.seq
    RETURNING 1`,
  },
  {
    // Integrations' alert windows, kept as long as activities: an owner-wide integration's alert
    // lives only here; a project's is its activity's count, long past its 10 minutes.
    what: "alerts",
    activities: true,
    sql: `DELETE FROM integration_alerts WHERE seq IN (
      SELECT seq FROM integration_alerts WHERE last_at < $1
      ORDER BY last_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING 1`,
  },
  {
    // A workflow dispatched in GitHub's 204 form whose run never showed up: a run claims its row
    // within minutes, and intake looks at the last 24 hours only; past the retention it is noise.
    what: "unidentified_dispatches",
    oneCutoff: true,
    sql: `DELETE FROM unidentified_dispatches WHERE activity_id IN (
      SELECT activity_id FROM unidentified_dispatches WHERE sent_at < $1
      ORDER BY sent_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING 1`,
  },
];

/** One batch of one step: how many rows it purged (fewer than `limit`: the step is done). */
export async function purgeBatch(
  db: Queryable,
  what: Purged,
  retention: Retention,
  now: Date,
  limit: number,
): Promise<number> {
  const step = STEPS.find((s) => s.what === what);
  if (!step) throw new Error(`no purge step ${what}`);
  const keptMs = step.activities ? retention.activitiesMs : retention.storedMs;
  const cutoff = new Date(now.getTime() - keptMs);
  const failedCutoff = new Date(now.getTime() - 2 * keptMs);
  const { rows } = await db.query(
    step.sql,
    step.activities || step.oneCutoff ? [cutoff, limit] : [cutoff, limit, failedCutoff],
  );
  return rows.length;
}

export interface PurgeOptions {
  retention: Retention;
  /** The clock: what is older than the retention at this time goes. */
  now: () => Date;
  /** Rows per statement. */
  batchSize?: number;
  /** Rest between statements, so the purge takes turns with intake on the database. */
  pauseMs?: number;
  /** Statements per step and run at most; the next run goes on. */
  maxBatches?: number;
  /** Checked before each statement: false stops the purge (shutting down, the lease lost). */
  keepGoing?: () => boolean;
  /** Told after each statement that purged something. */
  onPurged?: (what: Purged, count: number) => void;
}

/** Purges everything retention lets go, step by step, a batch at a time; returns the counts. */
export async function purgeExpired(
  db: Queryable,
  {
    retention,
    now,
    batchSize = 500,
    pauseMs = 100,
    maxBatches = 200,
    keepGoing = () => true,
    onPurged,
  }: PurgeOptions,
): Promise<Record<Purged, number>> {
  const counts = Object.fromEntries(STEPS.map((step) => [step.what, 0])) as Record<Purged, number>;
  for (const { what } of STEPS) {
    for (let batch = 0; batch < maxBatches; batch++) {
      if (!keepGoing()) return counts;
      const purged = await purgeBatch(db, what, retention, now(), batchSize);
      counts[what] += purged;
      if (purged > 0) onPurged?.(what, purged);
      if (purged < batchSize) break;
      await sleep(pauseMs);
    }
  }
  return counts;
}

/** The kinds retention purges, in the order it purges them. */
export const PURGED: readonly Purged[] = STEPS.map((step) => step.what);
