import type { RepositoryDispatchRequest } from "../actions/repository-dispatch.ts";
import type { CancelRunRequest, DispatchWorkflowRequest } from "../actions/workflow-tasks.ts";
import type { Activity } from "../activity/activity.ts";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { GithubEvent } from "../lifecycle/github-event.ts";
import type { GithubRequest } from "../lifecycle/transition.ts";
import type { Queryable } from "../store/database.ts";
import { insertGithubTask, insertGithubTasks } from "../store/github-tasks.ts";
import type { ReadChecksRequest } from "./read-checks.ts";

/** What the repository lets envhooks show on GitHub (`github:` in `.github/envhooks.yml`). */
export type GithubOptions = RepoConfig["github"];

/** A commit status of envhooks' own (not an environment's): `envhooks/config` for the options. */
export interface CommitStatusRequest {
  kind: "commit-status";
  sha: string;
  context: string;
  state: "success" | "failure";
  description: string;
}

/** The tasks a GitHub sync worker runs. */
export type GithubTaskBody =
  | { kind: "activity"; activity: Activity; options: GithubOptions }
  | GithubRequest
  | CommitStatusRequest
  | DispatchWorkflowRequest
  | CancelRunRequest
  | RepositoryDispatchRequest
  | ReadChecksRequest;

/**
 * The failing `envhooks/config` status an invalid `.github/envhooks.yml` sets on the default
 * branch's head, with the first problem: only for a push to the default branch, whose head is the
 * commit the options were read from (other events would need one more request to find it).
 */
export function configStatusTask(
  event: GithubEvent,
  problems: readonly string[],
): CommitStatusRequest | undefined {
  if (event.name !== "push") return undefined;
  const push = event.payload;
  if (push.deleted || push.ref !== `refs/heads/${push.repository.default_branch}`) return undefined;
  const first = problems[0] ?? "invalid";
  return {
    kind: "commit-status",
    sha: push.after,
    context: "envhooks/config",
    state: "failure",
    description: `.github/envhooks.yml: ${first}`,
  };
}

/**
 * Where what envhooks tells GitHub waits: written in the transaction that changes an environment,
 * sent by the project's GitHub worker once it commits. Absent without GitHub App credentials.
 */
export interface GithubOutbox {
  wake(projectKey: string): void;
}

/**
 * Writes the GitHub side of an activity (its deployment status, commit status and pull request
 * comment) as it stands now. Returns whether a task was written.
 */
export async function writeActivityTask(
  tx: Queryable,
  projectKey: string,
  activity: Activity,
  options: GithubOptions,
): Promise<boolean> {
  const task = activityTask(activity, options);
  if (!task) return false;
  await writeTask(tx, projectKey, task);
  return true;
}

/** The task showing an activity on GitHub; none for an activity about no environment, or when nothing is shown. */
export function activityTask(activity: Activity, options: GithubOptions): GithubTaskBody | undefined {
  if (!activity.payload.environment) return undefined;
  const wanted = options.deployments || options.statuses || options.comments;
  return wanted ? { kind: "activity", activity, options } : undefined;
}

/** Writes a task; an activity's is filed under its environment, whose newer states supersede it. */
export async function writeTask(tx: Queryable, projectKey: string, body: GithubTaskBody): Promise<void> {
  await insertGithubTask(tx, { projectKey, kind: body.kind, body, environment: environmentOf(body) });
}

/** Writes tasks in one statement, in the order given (a batch of events' tasks). */
export async function writeTasks(
  tx: Queryable,
  projectKey: string,
  bodies: readonly GithubTaskBody[],
): Promise<void> {
  await insertGithubTasks(
    tx,
    projectKey,
    bodies.map((body) => ({ kind: body.kind, body, environment: environmentOf(body) })),
  );
}

function environmentOf(body: GithubTaskBody): string | null {
  return body.kind === "activity" ? (body.activity.payload.environment?.name ?? null) : null;
}
