import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Database, Queryable } from "./store/database.ts";

/**
 * What an operator scrapes at `/metrics` (Prometheus text format). One registry per envhooks
 * instance, so several can live in one process (tests). Labels are bounded sets (event names,
 * outcomes, integration types), never projects or ids.
 */
export interface Metrics {
  registry: Registry;
  githubEvents: Counter<"event" | "outcome">;
  activities: Counter<"type" | "state">;
  deliveries: Counter<"integration_type" | "outcome">;
  attemptSeconds: Histogram<"integration_type">;
  githubApiErrors: Counter<"status">;
  /** Reads from GitHub on the way to applying events: options files and commit comparisons. */
  githubReads: Counter<"kind" | "outcome">;
  /** GitHub updates sent, merged into a newer one, or dropped as superseded. */
  githubUpdates: Counter<"outcome">;
  /** What GitHub's `x-ratelimit-remaining` said last, per installation. */
  githubRateLimitRemaining: Gauge<"installation">;
  /** GitHub deliveries envhooks missed and asked GitHub to send again, by event. */
  githubDeliveriesRecovered: Counter<"event">;
  /** Requests of the recovery that failed: listing the App's deliveries, or asking for one again. */
  githubDeliveryRecoveryFailures: Counter<"step">;
  /** Rows retention purged (or emptied), by what they were. */
  purged: Counter<"what">;
}

export function createMetrics(db: Queryable & Pick<Database, "statements">): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "envhooks_" });
  const metrics: Metrics = {
    registry,
    githubEvents: new Counter({
      name: "envhooks_github_events_received_total",
      help: "GitHub deliveries received, by event and outcome (accepted, duplicate, ignored, refused, invalid, unavailable).",
      labelNames: ["event", "outcome"],
      registers: [registry],
    }),
    activities: new Counter({
      name: "envhooks_activities_total",
      help: "Activities recorded or moved to a new state, by type and state.",
      labelNames: ["type", "state"],
      registers: [registry],
    }),
    deliveries: new Counter({
      name: "envhooks_delivery_attempts_total",
      help: "Delivery attempts, by integration type and outcome (delivered, retrying, failed, rate_limited, interrupted).",
      labelNames: ["integration_type", "outcome"],
      registers: [registry],
    }),
    attemptSeconds: new Histogram({
      name: "envhooks_delivery_attempt_duration_seconds",
      help: "How long receivers took to answer a delivery attempt.",
      labelNames: ["integration_type"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    githubApiErrors: new Counter({
      name: "envhooks_github_api_errors_total",
      help: "Failed requests to GitHub's API, by HTTP status (0: no answer).",
      labelNames: ["status"],
      registers: [registry],
    }),
    githubReads: new Counter({
      name: "envhooks_github_reads_total",
      help: "Reads from GitHub before events are applied, by kind (options, compare) and outcome (read, unchanged: a free 304, error).",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    }),
    githubUpdates: new Counter({
      name: "envhooks_github_updates_total",
      help: "Updates for GitHub (deployments, statuses, comments), by outcome: sent, or superseded by a newer state before they were sent.",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    githubRateLimitRemaining: new Gauge({
      name: "envhooks_github_rate_limit_remaining",
      help: "Requests left in the installation's GitHub rate-limit window, as GitHub last said (x-ratelimit-remaining).",
      labelNames: ["installation"],
      registers: [registry],
    }),
    githubDeliveriesRecovered: new Counter({
      name: "envhooks_github_deliveries_recovered_total",
      help: "GitHub deliveries that failed while envhooks was unreachable and that envhooks asked GitHub to send again, by event.",
      labelNames: ["event"],
      registers: [registry],
    }),
    githubDeliveryRecoveryFailures: new Counter({
      name: "envhooks_github_delivery_recovery_failures_total",
      help: "Failed requests of the delivery recovery, by step: list (GET /app/hook/deliveries) or redeliver (POST …/attempts).",
      labelNames: ["step"],
      registers: [registry],
    }),
    purged: new Counter({
      name: "envhooks_purged_total",
      help: "Rows retention let go, by what: github_payloads (emptied, the row kept), deliveries, attempt_bodies (emptied), github_tasks, activities.",
      labelNames: ["what"],
      registers: [registry],
    }),
  };

  const statements = db.statements;
  if (statements) {
    new Counter({
      name: "envhooks_store_statements_total",
      help: "Statements this instance ran on its database, a transaction's BEGIN and COMMIT included (pg-boss' own not counted): over a burst, divided by the deliveries sent, the statements per delivery.",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(statements());
      },
    });
  }

  // Read from the database at each scrape, so every instance reports the shared queue. The gauges
  // are collected together: one query serves all three.
  let scrape: Promise<QueueState> | undefined;
  const queue = () => {
    scrape ??= queueState(db).finally(() => {
      scrape = undefined;
    });
    return scrape;
  };
  const gauges: Array<[string, string, keyof QueueState]> = [
    [
      "envhooks_deliveries_pending",
      "Deliveries waiting to be sent (due now or waiting for a retry); test deliveries are not counted.",
      "pending",
    ],
    [
      "envhooks_oldest_pending_delivery_age_seconds",
      "Age of the oldest delivery still pending (0 when none).",
      "oldestAgeSeconds",
    ],
    ["envhooks_github_events_pending", "GitHub deliveries stored and not yet applied.", "eventsPending"],
    ["envhooks_github_updates_pending", "Updates for GitHub written and not yet sent.", "updatesPending"],
    [
      "envhooks_oldest_pending_github_update_age_seconds",
      "Age of the oldest update for GitHub still pending (0 when none).",
      "oldestUpdateAgeSeconds",
    ],
  ];
  for (const [name, help, field] of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set((await queue())[field]);
      },
    });
  }
  return metrics;
}

interface QueueState {
  pending: number;
  oldestAgeSeconds: number;
  eventsPending: number;
  updatesPending: number;
  oldestUpdateAgeSeconds: number;
}

async function queueState(db: Queryable): Promise<QueueState> {
  const { rows } = await db.query<QueueState>(
    `SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending' AND NOT test)::int AS pending,
       COALESCE((SELECT extract(epoch FROM now() - min(created_at)) FROM deliveries WHERE state = 'pending' AND NOT test), 0)::float8
         AS "oldestAgeSeconds",
       (SELECT count(*) FROM github_events WHERE state = 'pending')::int AS "eventsPending",
       (SELECT count(*) FROM github_tasks WHERE state = 'pending')::int AS "updatesPending",
       COALESCE((SELECT extract(epoch FROM now() - min(created_at)) FROM github_tasks WHERE state = 'pending'), 0)::float8
         AS "oldestUpdateAgeSeconds"`,
  );
  return (
    rows[0] ?? {
      pending: 0,
      oldestAgeSeconds: 0,
      eventsPending: 0,
      updatesPending: 0,
      oldestUpdateAgeSeconds: 0,
    }
  );
}
