import type { ActivityType, Commit } from "../lifecycle/transition.ts";

export type ActivityState = "pending" | "in_progress" | "complete" | "cancelled";
export type ActivityResult = "success" | "failure";

/** An environment inside an activity (`payload.environment`), after the activity's change. */
export interface ActivityEnvironment {
  id: string;
  name: string;
  machine_name: string;
  title: string;
  project: string;
  parent: string | null;
  head_commit: string | null;
  /** `deleted` once an environment.delete activity has removed it. */
  status: "active" | "inactive" | "deleted";
  is_main: boolean;
  is_dirty: boolean;
  has_code: boolean;
  deployment_target: string;
  clone_parent_data: boolean;
  /** envhooks: the pull request number of a `pr-<N>` environment. */
  pull_request: number | null;
  /** envhooks: the environment's address (`environment_url`, or as the deploy runner reported it). */
  url: string | null;
  created_at: string;
  updated_at: string;
}

/** The GitHub user behind an activity (`payload.user`). */
export interface ActivityUser {
  id: string;
  display_name: string;
  created_at: string | null;
  updated_at: string | null;
}

/**
 * Failure alerts: activities about work envhooks could not do — an integration disabled, a
 * delivery whose retries ran out, a deploy runner that never reported.
 */
export type AlertType = "integration.disabled" | "integration.delivery.failed" | "environment.runner.timeout";

/**
 * Every alert's type, `.github/envhooks.yml` refused included: what the activity list's `alerts`
 * filter takes. Migration 022's index on alerts names the same list: a new type needs a new index.
 */
export const ALERT_TYPES: readonly Activity["type"][] = [
  "integration.disabled",
  "integration.delivery.failed",
  "environment.runner.timeout",
  "integration.github.config",
];

/** envhooks: the alerts an integration's alert stands for (one per integration and type per 10 minutes). */
export interface AlertWindow {
  /** The integration the alert is about. */
  integration: string;
  /** How many alerts it counts: this one and those of its window after it. */
  count: number;
  first_at: string;
  last_at: string;
}

/**
 * An activity as envhooks stores, serves and relays it: Platform.sh's generic-webhook JSON,
 * field for field, plus `text` and the `github` extension.
 */
export interface Activity {
  id: string;
  type: ActivityType | "integration.github.config" | AlertType;
  state: ActivityState;
  result: ActivityResult | null;
  completion_percent: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  updated_at: string;
  project: string;
  environments: string[];
  parameters: {
    environment: string | null;
    old_commit: string | null;
    new_commit: string | null;
    user: string | null;
  };
  payload: {
    commits: Array<{ sha: string; message: string; author: { name: string; email: string | null } }>;
    commits_count: number;
    environment: ActivityEnvironment | null;
    user: ActivityUser | null;
  };
  log: string;
  /** envhooks: where the deploy runner's own log is, once it reported one. */
  log_url?: string;
  /**
   * envhooks: while the activity waits for its head commit's checks (`wait_for_checks`): a deploy
   * runner must not start it yet; it is relayed again, without this, when it proceeds.
   */
  waiting_for_checks?: { sha: string; mode: "all" | "required"; timeout_at: string };
  /** envhooks: the newer activity of the same environment that cancelled this pending one. */
  superseded_by?: string;
  /** envhooks: an integration's alert, with the count and span of the alerts it stands for. */
  alert?: AlertWindow;
  /** One plain sentence saying what happened. */
  text: string;
  /** envhooks: where the activity came from on GitHub. */
  github: {
    event: string;
    delivery_id: string;
    pull_request: { number: number; url: string | null } | null;
  } | null;
}

export type { Commit };
