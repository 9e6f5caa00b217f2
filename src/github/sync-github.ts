import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { Activity } from "../activity/activity.ts";
import type { Metrics } from "../metrics.ts";
import { drainInOrder } from "../queue/drain-in-order.ts";
import type { RetryPolicy } from "../queue/queues.ts";
import { withLease } from "../queue/with-lease.ts";
import type { Database } from "../store/database.ts";
import {
  findCommentId,
  findDeploymentId,
  markGithubTaskDone,
  nextGithubTask,
  recordGithubTaskFailure,
  saveCommentId,
  saveDeploymentId,
} from "../store/github-tasks.ts";
import { GITHUB_UPDATES_LEASE } from "../store/leases.ts";
import { findProjectByKey } from "../store/projects.ts";
import { COMMENT_MARKER, renderActivityComment } from "./comment.ts";
import type { GithubOptions, GithubTaskBody } from "./github-outbox.ts";

type Octokit = InstanceType<typeof ProbotOctokit>;

export interface GithubSyncDeps {
  db: Database;
  log: Logger;
  /** An Octokit authenticated as the app's installation (Probot's `auth`). */
  octokitFor(installationId: number): Promise<Octokit>;
  /** Where envhooks is reached (`ENVHOOKS_PUBLIC_URL`), for links to an activity. */
  publicUrl: string | undefined;
  retry: RetryPolicy;
  wakeAt(projectKey: string, at: Date): Promise<void>;
  /** This process, as a lease holder: one instance at a time sends a project's updates. */
  owner: string;
  /** Aborted when the process is shutting down: the drain stops after the request in flight. */
  signal?: AbortSignal;
  metrics?: Metrics | undefined;
}

/**
 * Sends a project's GitHub tasks in order: deployments and their statuses, commit statuses, the
 * pull request comment, replies and label removals. A failing GitHub is retried with backoff;
 * a request GitHub refuses as invalid is set aside at once. Relaying never waits on this.
 */
export async function drainGithub(deps: GithubSyncDeps, projectKey: string): Promise<number> {
  let done = 0;
  await withLease(deps.db, GITHUB_UPDATES_LEASE, projectKey, deps.owner, async (lease) => {
    done = await drainInOrder({
      next: () => nextGithubTask(deps.db, projectKey),
      async run(task) {
        const project = await findProjectByKey(deps.db, projectKey);
        if (project?.installationId == null) {
          throw new PermanentError(`project ${projectKey} has no GitHub App installation on record`);
        }
        const octokit = await deps.octokitFor(project.installationId);
        const [owner = "", repo = ""] = project.fullName.split("/");
        await runTask({ ...deps, octokit, owner, repo, projectKey }, task.body as GithubTaskBody).catch(
          (error: unknown) => {
            const status = (error as { status?: unknown }).status;
            deps.metrics?.githubApiErrors.inc({ status: typeof status === "number" ? String(status) : "0" });
            throw error;
          },
        );
      },
      done: (task) => markGithubTaskDone(deps.db, task.id),
      recordFailure: (task, error, options) => recordGithubTaskFailure(deps.db, task.id, error, options),
      isPermanent,
      wakeAt: (at) => deps.wakeAt(projectKey, at),
      retry: deps.retry,
      log: deps.log.child({ project: projectKey }),
      what: "GitHub update",
      logFields: (task) => ({ task: task.id, kind: task.kind }),
      stopped: () => !lease.held || Boolean(deps.signal?.aborted),
    });
  });
  return done;
}

class PermanentError extends Error {}

/** GitHub answered that the request itself is wrong (not rate limits, not its own failures). */
function isPermanent(error: unknown): boolean {
  if (error instanceof PermanentError) return true;
  const status = (error as { status?: unknown }).status;
  return (
    typeof status === "number" && status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status)
  );
}

interface TaskContext extends GithubSyncDeps {
  octokit: Octokit;
  owner: string;
  repo: string;
  projectKey: string;
}

async function runTask(context: TaskContext, task: GithubTaskBody): Promise<void> {
  const { octokit, owner, repo } = context;
  switch (task.kind) {
    case "activity":
      return syncActivity(context, task.activity, task.options);
    case "comment":
      return upsertComment(context, task.pullRequest, task.body);
    case "reply":
      await octokit.rest.issues.createComment({
        owner,
        repo,
        issue_number: task.pullRequest,
        body: task.body,
      });
      return;
    case "remove-label":
      try {
        await octokit.rest.issues.removeLabel({
          owner,
          repo,
          issue_number: task.pullRequest,
          name: task.label,
        });
      } catch (error) {
        // Removed already (by a maintainer, or an earlier attempt).
        if ((error as { status?: unknown }).status !== 404) throw error;
      }
      return;
  }
}

/** Deployment status for an activity's state: GitHub's `queued` → `in_progress` → `success`/`failure`. */
export function deploymentState(
  activity: Activity,
): "queued" | "in_progress" | "success" | "failure" | "error" {
  switch (activity.state) {
    case "pending":
      return "queued";
    case "in_progress":
      return "in_progress";
    case "cancelled":
      return "error";
    case "complete":
      return activity.result === "failure" ? "failure" : "success";
  }
}

function commitState(activity: Activity): "pending" | "success" | "failure" | "error" {
  const state = deploymentState(activity);
  return state === "queued" || state === "in_progress" ? "pending" : state;
}

/** GitHub keeps descriptions to 140 characters. */
function description(text: string): string {
  return text.length <= 140 ? text : `${text.slice(0, 139)}…`;
}

async function syncActivity(context: TaskContext, activity: Activity, options: GithubOptions): Promise<void> {
  const { octokit, owner, repo, db } = context;
  const environment = activity.payload.environment;
  if (!environment) return;
  const logUrl =
    activity.log_url ??
    (context.publicUrl ? `${context.publicUrl}/api/activities/${activity.id}` : undefined);
  const sha = activity.parameters.new_commit ?? environment.head_commit;
  const gone = activity.type === "environment.delete" || activity.type === "environment.deactivate";

  if (gone) {
    if (options.deployments && activity.state === "complete") {
      await deactivateDeployments(octokit, owner, repo, environment.name);
    }
  } else if (sha) {
    if (options.deployments) {
      let deploymentId = await findDeploymentId(db, activity.id);
      if (deploymentId === undefined) {
        const { data } = await octokit.rest.repos.createDeployment({
          owner,
          repo,
          ref: sha,
          environment: environment.name,
          description: description(activity.text),
          transient_environment: !environment.is_main,
          production_environment: environment.is_main,
          auto_merge: false,
          required_contexts: [],
          payload: { activity_id: activity.id, type: activity.type },
        });
        if (!("id" in data))
          throw new PermanentError(`GitHub made no deployment: ${data.message ?? "no reason given"}`);
        deploymentId = data.id;
        await saveDeploymentId(db, {
          activityId: activity.id,
          projectKey: context.projectKey,
          environment: environment.name,
          deploymentId,
        });
      }
      await octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: deploymentId,
        state: deploymentState(activity),
        description: description(activity.text),
        ...(environment.url ? { environment_url: environment.url } : {}),
        ...(logUrl ? { log_url: logUrl } : {}),
        auto_inactive: true,
      });
    }
    if (options.statuses) {
      const target = environment.url ?? logUrl;
      await octokit.rest.repos.createCommitStatus({
        owner,
        repo,
        sha,
        state: commitState(activity),
        context: `envhooks/${environment.name}`,
        description: description(activity.text),
        ...(target ? { target_url: target } : {}),
      });
    }
  }
  if (options.comments && environment.pull_request !== null) {
    await upsertComment(context, environment.pull_request, renderActivityComment(activity, logUrl));
  }
}

/** Marks every deployment GitHub has for an environment `inactive`. */
async function deactivateDeployments(octokit: Octokit, owner: string, repo: string, environment: string) {
  const deployments = await octokit.paginate(octokit.rest.repos.listDeployments, {
    owner,
    repo,
    environment,
    per_page: 100,
  });
  for (const deployment of deployments) {
    await octokit.rest.repos.createDeploymentStatus({
      owner,
      repo,
      deployment_id: deployment.id,
      state: "inactive",
      description: `Environment ${environment} is gone.`,
    });
  }
}

/**
 * Sets the pull request's one envhooks comment: edited in place, found by its id or, if that was
 * lost, by the hidden marker; made only when there is none.
 */
async function upsertComment(context: TaskContext, pullRequest: number, text: string): Promise<void> {
  const { octokit, owner, repo, db, projectKey } = context;
  const body = `${COMMENT_MARKER}\n${text}`;
  let commentId = await findCommentId(db, projectKey, pullRequest);
  if (commentId === undefined) {
    const comments = await octokit.paginate(octokit.rest.issues.listComments, {
      owner,
      repo,
      issue_number: pullRequest,
      per_page: 100,
    });
    commentId = comments.find((comment) => comment.body?.includes(COMMENT_MARKER))?.id;
  }
  if (commentId !== undefined) {
    try {
      await octokit.rest.issues.updateComment({ owner, repo, comment_id: commentId, body });
      await saveCommentId(db, projectKey, pullRequest, commentId);
      return;
    } catch (error) {
      // Someone deleted it: forget it and make a new one.
      if ((error as { status?: unknown }).status !== 404) throw error;
      await saveCommentId(db, projectKey, pullRequest, null);
    }
  }
  const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: pullRequest, body });
  await saveCommentId(db, projectKey, pullRequest, data.id);
}
