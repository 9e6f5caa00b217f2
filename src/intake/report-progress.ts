import { repositoryDispatchTask } from "../actions/repository-dispatch.ts";
import type { Activity, ActivityResult } from "../activity/activity.ts";
import { durationMs } from "../config/repo-config.schema.ts";
import { writeActivityTask, writeTask } from "../github/github-outbox.ts";
import { alertActivity } from "../relay/alert-activity.ts";
import {
  activitiesPastRunnerDeadline,
  insertActivity,
  type LockedActivity,
  lockActivity,
  updateActivity,
} from "../store/activities.ts";
import type { Queryable } from "../store/database.ts";
import { setEnvironmentUrl } from "../store/environments.ts";
import { findProjectByKey } from "../store/projects.ts";
import {
  type ApplyDeps,
  inTransaction,
  Refused,
  runnerDeadlineOf,
  storedConfig,
  type Wakes,
} from "./apply-event.ts";

/** What a deploy runner reports about an activity (`POST /api/activities/{id}/progress`). */
export interface ProgressReport {
  state?: "in_progress" | "complete" | "cancelled" | undefined;
  result?: ActivityResult | undefined;
  completion_percent?: number | undefined;
  /** Appended to the activity's log. */
  log?: string | undefined;
  environment_url?: string | undefined;
  log_url?: string | undefined;
}

export const FINISHED: ReadonlySet<string> = new Set(["complete", "cancelled"]);

/**
 * Applies a deploy runner's report: `pending` → `in_progress` → `complete` or `cancelled`, with
 * progress, log lines and the environment's address on the way. A change of state is relayed to
 * the integrations whose `states` match and mirrored on GitHub, in the transaction that stores it.
 * `authorize` sees the activity's project before anything changes (and throws to refuse).
 */
export async function reportProgress(
  deps: ApplyDeps,
  activityId: string,
  report: ProgressReport,
  authorize: (projectKey: string) => void = () => {},
  /** More to record in the same transaction once the report is applied (the runner-timeout alert). */
  andThen?: (tx: Queryable, locked: LockedActivity, next: Activity, wakes: Wakes) => Promise<void>,
): Promise<Activity> {
  const now = (deps.now ?? (() => new Date()))();
  return inTransaction(deps, async (tx, wakes) => {
    const locked = await lockActivity(tx, activityId);
    if (!locked) throw new Refused(404, "not_found", `No activity ${activityId}.`);
    authorize(locked.projectKey);
    const current = locked.activity;
    if (FINISHED.has(current.state)) {
      throw new Refused(
        409,
        "invalid_transition",
        `Activity ${activityId} is ${current.state} already: it cannot move to ${report.state ?? "another state"}.`,
      );
    }
    const next = await applyProgress(deps, tx, wakes, locked, report, now);
    await andThen?.(tx, locked, next, wakes);
    return next;
  });
}

/**
 * Applies a report to an activity locked (and not finished) in the caller's transaction: the path
 * every runner's progress takes, the progress API's and GitHub Actions' runs alike.
 */
export async function applyProgress(
  deps: ApplyDeps,
  tx: Queryable,
  wakes: Wakes,
  locked: LockedActivity,
  report: ProgressReport,
  now: Date,
): Promise<Activity> {
  const current = locked.activity;
  const project = await findProjectByKey(tx, locked.projectKey);
  const config = storedConfig(project?.config);
  const state = report.state ?? current.state;
  const finished = FINISHED.has(state);
  const at = now.toISOString();
  const environment = current.payload.environment;
  const url = report.environment_url ?? environment?.url ?? null;
  const next: Activity = {
    ...current,
    state,
    updated_at: at,
    started_at: current.started_at ?? (state === "pending" ? null : at),
    completed_at: finished ? at : null,
    result: finished ? (report.result ?? (state === "complete" ? "success" : "failure")) : null,
    completion_percent:
      state === "complete" ? 100 : (report.completion_percent ?? current.completion_percent),
    log: report.log ? [current.log, report.log.replace(/\n$/, "")].filter(Boolean).join("\n") : current.log,
    payload: { ...current.payload, environment: environment && { ...environment, url } },
    ...(report.log_url ? { log_url: report.log_url } : {}),
  };
  // A workflow run must finish by its timeout however often it reports; other runners must report
  // within runner_timeout of their last report.
  const deadline = finished
    ? null
    : config.runner === "github-actions"
      ? runnerDeadlineOf(config, new Date(current.created_at))
      : new Date(now.getTime() + durationMs(config.runner_timeout));
  await updateActivity(tx, next, deadline);
  if (report.environment_url && environment && environment.status !== "deleted") {
    await setEnvironmentUrl(tx, locked.projectId, environment.name, report.environment_url);
  }
  if (state !== current.state) {
    wakes.activities.push(next);
    for (const id of (await deps.outbox?.write(tx, locked.projectKey, [
      { activity: next, sequence: locked.sequence },
    ])) ?? []) {
      wakes.integrations.add(id);
    }
    if (deps.github && (await writeActivityTask(tx, locked.projectKey, next, config.github))) {
      wakes.github.add(locked.projectKey);
    }
    const notify = deps.github && repositoryDispatchTask(next, config);
    if (notify) {
      await writeTask(tx, locked.projectKey, notify);
      wakes.github.add(locked.projectKey);
    }
  }
  return next;
}

/**
 * Completes as failed every activity whose deploy runner did not report by its deadline
 * (`runner_timeout` after the last report), saying so in its log.
 */
export async function completeOverdueActivities(deps: ApplyDeps, now: Date): Promise<Activity[]> {
  const completed: Activity[] = [];
  for (const id of await activitiesPastRunnerDeadline(deps.db, now)) {
    try {
      const activity = await reportProgress(
        deps,
        id,
        {
          state: "complete",
          result: "failure",
          log: "No report from the deploy runner within runner_timeout (github_actions.timeout for a GitHub Actions run): envhooks completed this activity as failed.",
        },
        undefined,
        (tx, locked, next, wakes) => recordTimeoutAlert(deps, tx, locked, next, wakes, now),
      );
      completed.push(activity);
    } catch (error) {
      // The runner finished it meanwhile.
      if (!(error instanceof Refused)) throw error;
    }
  }
  return completed;
}

/**
 * The `environment.runner.timeout` alert, recorded and relayed with the timed-out activity's
 * completion (after it, in the environment's order).
 */
async function recordTimeoutAlert(
  deps: ApplyDeps,
  tx: Queryable,
  locked: LockedActivity,
  timedOut: Activity,
  wakes: Wakes,
  at: Date,
): Promise<void> {
  const project = await findProjectByKey(tx, locked.projectKey);
  const timeout = storedConfig(project?.config).runner_timeout;
  const environment = timedOut.parameters.environment;
  const alert = alertActivity(
    {
      type: "environment.runner.timeout",
      project: timedOut.project,
      environment: timedOut.payload.environment,
      text: `The deploy runner did not report on ${timedOut.type} ${timedOut.id}${environment ? ` (environment ${environment})` : ""} within ${timeout}: envhooks completed it as failed.`,
      log: `Activity ${timedOut.id} (${timedOut.type}) had no report from its deploy runner for runner_timeout (${timeout}).\nCheck the runner, then redeploy the environment.`,
    },
    at,
  );
  const { sequence } = await insertActivity(tx, locked.projectId, alert, null);
  wakes.activities.push(alert);
  for (const id of (await deps.outbox?.write(tx, locked.projectKey, [{ activity: alert, sequence }])) ?? []) {
    wakes.integrations.add(id);
  }
}
