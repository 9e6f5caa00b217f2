import type { Activity } from "../activity/activity.ts";
import { newActivityId } from "../activity/activity-id.ts";
import { buildActivity } from "../activity/build-activity.ts";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { CommitStatusRequest } from "../github/github-outbox.ts";
import { capEnvironments } from "../lifecycle/cap-environments.ts";
import type { GithubUser } from "../lifecycle/github-event.ts";
import { machineName } from "../lifecycle/machine-name.ts";
import type { Plan, RefusedEnvironment } from "../lifecycle/transition.ts";
import type { Queryable } from "../store/database.ts";
import { activeEnvironments, type StoredEnvironment } from "../store/environments.ts";
import type { Project } from "../store/projects.ts";

/**
 * `max_environments`: the plan as the cap leaves it. The project's active environments are read
 * only when the plan would make one active, in the transaction that holds the project's lock.
 */
export async function capPlan(
  tx: Queryable,
  project: Pick<Project, "id">,
  plan: Plan,
  options: RepoConfig,
): Promise<Plan> {
  if (options.max_environments === undefined) return plan;
  const makesActive = plan.transitions.some(
    (t) => (t.action === "create" && !t.environment.isMain) || t.action === "activate",
  );
  if (!makesActive) return plan;
  return capEnvironments(plan, options, await activeEnvironments(tx, project.id));
}

/** What a refused environment's activity, commit status and pull request comment say. */
export function limitMessage(refused: RefusedEnvironment): string {
  const { transition, limit } = refused;
  const name = transition.action === "create" ? transition.environment.name : transition.environment;
  const verb = transition.action === "create" ? "created" : "activated";
  return `Environment ${name} not ${verb}: environment limit (${limit}) reached. Free one (close a pull request, delete a branch) or raise max_environments.`;
}

/**
 * The failed activity of an environment the cap refused: `environment.branch` (or `.activate`),
 * complete at once (no runner has anything to do), naming the limit and how to free one.
 * `existing`: the inactive environment a refused activation would have brought back.
 */
export function refusedActivity(
  project: Pick<Project, "fullName">,
  refused: RefusedEnvironment,
  existing: StoredEnvironment | undefined,
  { user, at, source }: { user: GithubUser | null; at: Date; source: Activity["github"] },
): Activity {
  const { transition } = refused;
  const text = limitMessage(refused);
  const environment =
    transition.action === "create"
      ? {
          id: transition.environment.name,
          name: transition.environment.name,
          machine_name: machineName(transition.environment.name),
          title:
            transition.environment.kind === "pull_request"
              ? `Pull request #${transition.environment.pullRequest}`
              : transition.environment.name,
          project: project.fullName,
          parent: transition.environment.parent,
          head_commit: transition.environment.headCommit,
          status: "inactive" as const,
          is_main: false,
          is_dirty: false,
          has_code: true,
          deployment_target: "local",
          clone_parent_data: transition.environment.cloneParentData,
          pull_request: transition.environment.pullRequest,
          url: null,
          created_at: at.toISOString(),
          updated_at: at.toISOString(),
        }
      : existing && {
          id: existing.name,
          name: existing.name,
          machine_name: existing.machineName,
          title: existing.kind === "pull_request" ? `Pull request #${existing.pullRequest}` : existing.name,
          project: project.fullName,
          parent: existing.parent,
          head_commit: existing.headCommit,
          status: existing.status,
          is_main: existing.isMain,
          is_dirty: false,
          has_code: true,
          deployment_target: "local",
          clone_parent_data: existing.cloneParentData,
          pull_request: existing.pullRequest,
          url: existing.url,
          created_at: new Date(existing.createdAt).toISOString(),
          updated_at: new Date(existing.updatedAt).toISOString(),
        };
  return buildActivity({
    id: newActivityId(),
    type: transition.action === "create" ? "environment.branch" : "environment.activate",
    project: project.fullName,
    environment: environment ?? null,
    oldCommit: null,
    newCommit: transition.newCommit,
    commits: transition.action === "create" ? transition.commits : [],
    user,
    text,
    log: [
      `${user?.login ?? "envhooks"} ${transition.reason}.`,
      "",
      text,
      `The project has ${refused.limit} active environments besides the default branch's (max_environments: ${refused.limit}).`,
      "To free one: close or merge a pull request, delete a branch, or let stale_after deactivate environments nobody uses; then push again or reopen.",
      "Or raise max_environments, or set on_environment_limit: deactivate_oldest, in .github/envhooks.yml.",
    ].join("\n"),
    result: "failure",
    at,
    github: source,
  });
}

/** The commit status a skipped rebuild leaves, so that the pull request's checks pass. */
export function skippedStatus(environment: string, sha: string, reason: string): CommitStatusRequest {
  return {
    kind: "commit-status",
    sha,
    context: `envhooks/${environment}`,
    state: "success",
    description: reason,
  };
}
