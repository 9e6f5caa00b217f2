import type { Activity } from "../activity/activity.ts";
import type { RepoConfig } from "../config/repo-config.schema.ts";

/** Starts the workflow of `runner: github-actions` for an activity (`workflow_dispatch`). */
export interface DispatchWorkflowRequest {
  kind: "dispatch-workflow";
  activityId: string;
  /** A file in `.github/workflows`, or the workflow's id. */
  workflow: string | number;
  /** The branch whose workflow file runs. */
  ref: string;
  /** The workflow's inputs (at most 25, all strings); `deployment_id` is added when sent, if known. */
  inputs: Record<string, string>;
}

/** Cancels the run of an activity a newer one superseded (`cancel_superseded`). */
export interface CancelRunRequest {
  kind: "cancel-run";
  activityId: string;
}

/** What each activity type asks the workflow to do (`inputs.action`). */
const ACTIONS: Record<string, "create" | "rebuild" | "redeploy" | "delete"> = {
  "environment.branch": "create",
  "environment.push": "rebuild",
  "environment.redeploy": "redeploy",
  "environment.delete": "delete",
  // Activating builds the environment again; deactivating takes its deployment down (its branch stays).
  "environment.activate": "create",
  "environment.deactivate": "delete",
};

/**
 * The dispatch that starts an activity's workflow run, for an activity that waits for its runner
 * (`pending`) in a repository with `runner: github-actions`; none otherwise. `ref: head` runs the
 * workflow file of the environment's branch; a pull request's environment runs its base branch's
 * (the pull request's own branch may be a fork's, which the repository does not have, and the
 * base's workflow is the one its maintainers reviewed). The commit to build is `inputs.sha`.
 */
export function dispatchTask(
  activity: Activity,
  config: RepoConfig,
  defaultBranch: string,
): DispatchWorkflowRequest | undefined {
  const options = config.github_actions;
  const environment = activity.payload.environment;
  const action = ACTIONS[activity.type];
  if (config.runner !== "github-actions" || !options || activity.state !== "pending") return undefined;
  // Dispatched once its commit's checks let it go ahead (wait_for_checks).
  if (activity.waiting_for_checks) return undefined;
  if (!environment || !action) return undefined;
  const own = environment.pull_request === null ? environment.name : environment.parent;
  const ref = options.ref === "head" && own ? branchOf(own) : defaultBranch;
  const inputs: Record<string, string> = {
    envhooks_activity: activity.id,
    environment: environment.name,
    machine_name: environment.machine_name,
    action,
    sha: activity.parameters.new_commit ?? environment.head_commit ?? "",
    pr: environment.pull_request === null ? "" : String(environment.pull_request),
  };
  if (environment.url) inputs.environment_url = environment.url;
  return { kind: "dispatch-workflow", activityId: activity.id, workflow: options.workflow, ref, inputs };
}

/** The task cancelling a superseded activity's run, when the repository asks for it. */
export function cancelRunTask(activity: Activity, config: RepoConfig): CancelRunRequest | undefined {
  const wanted = config.runner === "github-actions" && config.github_actions?.cancel_superseded;
  return wanted && activity.superseded_by ? { kind: "cancel-run", activityId: activity.id } : undefined;
}

/** The branch of a branch environment's name (`branch:pr-6` is the branch `pr-6`). */
function branchOf(environment: string): string {
  return environment.startsWith("branch:") ? environment.slice("branch:".length) : environment;
}
