import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Queryable } from "./store/database.ts";

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
}

export function createMetrics(db: Queryable): Metrics {
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
      help: "Delivery attempts, by integration type and outcome (delivered, retrying, failed, rate_limited).",
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
  };

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
      "Deliveries waiting to be sent (due now or waiting for a retry).",
      "pending",
    ],
    [
      "envhooks_oldest_pending_delivery_age_seconds",
      "Age of the oldest delivery still pending (0 when none).",
      "oldestAgeSeconds",
    ],
    ["envhooks_github_events_pending", "GitHub deliveries stored and not yet applied.", "eventsPending"],
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
}

async function queueState(db: Queryable): Promise<QueueState> {
  const { rows } = await db.query<QueueState>(
    `SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending')::int AS pending,
       COALESCE((SELECT extract(epoch FROM now() - min(created_at)) FROM deliveries WHERE state = 'pending'), 0)::float8
         AS "oldestAgeSeconds",
       (SELECT count(*) FROM github_events WHERE state = 'pending')::int AS "eventsPending"`,
  );
  return rows[0] ?? { pending: 0, oldestAgeSeconds: 0, eventsPending: 0 };
}
