import { cancelRunTask } from "../actions/workflow-tasks.ts";
import type { Activity } from "../activity/activity.ts";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import {
  activityTask,
  type GithubOptions,
  type GithubTaskBody,
  writeActivityTask,
  writeTask,
} from "../github/github-outbox.ts";
import type { StoredActivity } from "../relay/write-deliveries.ts";
import { lockPendingActivities, updateActivitiesAwaitingNothing } from "../store/activities.ts";
import type { Queryable } from "../store/database.ts";
import type { Project } from "../store/projects.ts";
import type { ApplyDeps, Wakes } from "./apply-event.ts";

/**
 * An activity cancelled because a newer one of its environment came before its deploy runner
 * started it: what Platform.sh does with a pending activity another one supersedes.
 */
export function supersede(activity: Activity, by: Activity): Activity {
  const environment = activity.parameters.environment ?? "the project";
  return {
    ...activity,
    state: "cancelled",
    result: "failure",
    updated_at: by.created_at,
    completed_at: by.created_at,
    text: `envhooks cancelled ${activity.type} on ${environment}: superseded by ${by.id} (${by.type}).`,
    log: [
      activity.log,
      `Superseded by activity ${by.id} (${by.type}) before the deploy runner started it: cancelled.`,
    ]
      .filter(Boolean)
      .join("\n"),
    superseded_by: by.id,
  };
}

/**
 * Which of its environment's pending activities a new one cancels: with a deploy runner, a new
 * pending one cancels them all; a delete or deactivate, whatever the runner (without one it is
 * complete at once), cancels those waiting for checks, which would otherwise build later for an
 * environment that is gone. Null: none.
 */
function supersedes(activity: Activity): "pending" | "waiting" | null {
  if (activity.parameters.environment === null) return null;
  if (activity.state === "pending") return "pending";
  return activity.type === "environment.delete" || activity.type === "environment.deactivate"
    ? "waiting"
    : null;
}

/** Whether `older` is one `activity` cancels (see `supersedes`). */
function cancels(mode: "pending" | "waiting", older: Activity): boolean {
  return mode === "pending" || older.waiting_for_checks !== undefined;
}

/**
 * With a deploy runner, a new activity cancels its environment's older `pending` ones (one a
 * runner has started, `in_progress`, runs to its end). Called in the transaction that records
 * `activity`, before it is stored (and, whatever the runner, a delete or deactivate cancels those
 * waiting for checks): they are cancelled, relayed and shown on GitHub as superseded,
 * in the environment's order before the new one. With `runner: github-actions` and
 * `cancel_superseded`, their workflow runs are cancelled too.
 */
export async function cancelSuperseded(
  tx: Queryable,
  deps: ApplyDeps,
  project: Pick<Project, "id" | "key">,
  activity: Activity,
  config: RepoConfig,
  wakes: Wakes,
): Promise<void> {
  const environment = activity.parameters.environment;
  const mode = supersedes(activity);
  if (mode === null || environment === null) return;
  const cancelled = (await lockPendingActivities(tx, project.id, [environment]))
    .filter((older) => cancels(mode, older.activity))
    .map((older) => ({ sequence: older.sequence, activity: supersede(older.activity, activity) }));
  if (cancelled.length === 0) return;
  await updateActivitiesAwaitingNothing(
    tx,
    cancelled.map(({ activity: done }) => done),
  );
  for (const { activity: done } of cancelled) {
    wakes.activities.push(done);
    if (deps.github && (await writeActivityTask(tx, project.key, done, config.github)))
      wakes.github.add(project.key);
    const cancelRun = deps.github && cancelRunTask(done, config);
    if (cancelRun) {
      await writeTask(tx, project.key, cancelRun);
      wakes.github.add(project.key);
    }
  }
  for (const id of (await deps.outbox?.write(tx, project.key, cancelled)) ?? []) wakes.integrations.add(id);
}

/** An activity a batch just stored, with what shows it on GitHub. */
export interface BatchActivity extends StoredActivity {
  /** Its event's options for GitHub; undefined when the App is not configured. */
  github: GithubOptions | undefined;
  /** Its event's options, for cancelling superseded workflow runs; undefined without the App. */
  config: RepoConfig | undefined;
  /** Where its task is in the batch's tasks, or would be if it has none. */
  taskAt: number;
}

/**
 * `cancelSuperseded` for a batch of activities just stored (`added`, in order, with their GitHub
 * `tasks`): the same rows, deliveries and tasks, in the same order, as applying them one at a
 * time. Each pending activity cancels the pending ones before it of its environment, stored
 * earlier or earlier in the batch (a delete or deactivate, those waiting for checks); their cancelled states are relayed, and their tasks written
 * (with its event's options), just before it. The cancelled rows are written in one statement.
 * Returns the activities to relay and the tasks to write, in order.
 */
export async function cancelSupersededInBatch(
  tx: Queryable,
  projectId: number,
  added: readonly BatchActivity[],
  tasks: readonly GithubTaskBody[],
): Promise<{ stored: StoredActivity[]; tasks: GithubTaskBody[] }> {
  const storedOf = ({ sequence, activity }: StoredActivity): StoredActivity => ({ sequence, activity });
  const environments = new Set<string>();
  for (const { activity } of added) {
    if (supersedes(activity) !== null && activity.parameters.environment !== null) {
      environments.add(activity.parameters.environment);
    }
  }
  if (environments.size === 0) return { stored: added.map(storedOf), tasks: [...tasks] };
  const ids = new Set(added.map(({ activity }) => activity.id));
  const pending = new Map<string, StoredActivity[]>();
  for (const older of await lockPendingActivities(tx, projectId, [...environments])) {
    const environment = older.activity.parameters.environment ?? "";
    if (!ids.has(older.activity.id)) pending.set(environment, [...(pending.get(environment) ?? []), older]);
  }
  const stored: StoredActivity[] = [];
  const written = [...tasks];
  // How many cancelled activities' tasks were put before the rest of `tasks`.
  let shift = 0;
  const cancelled = new Map<string, Activity>();
  for (const entry of added) {
    const { activity, github, config } = entry;
    const environment = activity.parameters.environment;
    const mode = supersedes(activity);
    if (mode !== null && environment !== null) {
      const before: GithubTaskBody[] = [];
      const earlier = pending.get(environment) ?? [];
      for (const older of earlier.filter((o) => cancels(mode, o.activity))) {
        const done = supersede(older.activity, activity);
        cancelled.set(done.id, done);
        stored.push({ sequence: older.sequence, activity: done });
        const task = github && activityTask(done, github);
        if (task) before.push(task);
        const cancelRun = config && cancelRunTask(done, config);
        if (cancelRun) before.push(cancelRun);
      }
      written.splice(entry.taskAt + shift, 0, ...before);
      shift += before.length;
      const kept = earlier.filter((o) => !cancels(mode, o.activity));
      pending.set(environment, activity.state === "pending" ? [...kept, storedOf(entry)] : kept);
    }
    stored.push(storedOf(entry));
  }
  await updateActivitiesAwaitingNothing(tx, [...cancelled.values()]);
  return { stored, tasks: written };
}
