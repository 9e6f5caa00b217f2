import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { cancelRuns, dispatchWorkflow } from "../actions/send-workflow-task.ts";
import type { Activity } from "../activity/activity.ts";
import type { Metrics } from "../metrics.ts";
import { describeError } from "../queue/drain-in-order.ts";
import { type RetryPolicy, retryDelayMs } from "../queue/queues.ts";
import { withLease } from "../queue/with-lease.ts";
import type { Database } from "../store/database.ts";
import {
  environmentDeployments,
  environmentPace,
  findCommentId,
  findShownActivities,
  findShownActivity,
  hasNewerGithubTask,
  markGithubTasksDone,
  pendingGithubTasks,
  postponeGithubTasks,
  recordGithubTaskFailure,
  type ShownActivity,
  saveCommentId,
  saveShownActivity,
} from "../store/github-tasks.ts";
import { GITHUB_UPDATES_LEASE } from "../store/leases.ts";
import { findProjectByKey } from "../store/projects.ts";
import { activityPageUrl, COMMENT_MARKER, renderActivityComment } from "./comment.ts";
import { type PendingUpdate, planGithubUpdates, type UpdateStep } from "./plan-github-updates.ts";
import { type RateBudget, rateLimitWaitMs } from "./rate-budget.ts";
import { type ChecksRead, readCommitChecks, readRequiredChecks } from "./read-checks.ts";

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
  /** The installations' rate-limit budgets, shared by every drain of this process. */
  budget?: RateBudget | undefined;
  /** `runner: github-actions`: fails an activity whose workflow GitHub refuses to start. */
  failActivity?: ((activityId: string, reason: string) => Promise<void>) | undefined;
  /**
   * `wait_for_checks`: what a read of a waited-for commit's checks found, applied to its waits.
   * `requiredKnown` says whether a branch's required checks are on record (then not read again).
   */
  checksRead?:
    | {
        requiredKnown(projectKey: string, branch: string): Promise<boolean>;
        apply(projectKey: string, sha: string, read: ChecksRead): Promise<void>;
      }
    | undefined;
  /**
   * Per project, until when a drain that found nothing to send now need not look again: during a
   * burst every new update wakes the drain, and reading and planning them all each time would load
   * the database with work that changes nothing. A wake-up is queued for that time.
   */
  resting?: Map<string, number>;
}

/** Tasks read at once: a busy pull request's updates are coalesced over all of them. */
const BATCH = 200;
/**
 * An environment with this many updates in `BURST_WINDOW_SECONDS` is in a burst (a pull request
 * pushed to again and again): its updates wait until none came for `QUIET_MS`, or until the oldest
 * has waited `MAX_HOLD_MS`, so that GitHub gets the newest state, not every one on the way.
 */
const BURST = { updates: 2, windowSeconds: 10, quietMs: 1_500, maxHoldMs: 8_000 };

/**
 * Sends a project's GitHub updates, coalesced (see `planGithubUpdates`): deployments and their
 * statuses, commit statuses, the pull request comment, replies and label removals. Between two
 * writes for an environment, a newer state of it stops the older one. A failing GitHub is retried
 * with backoff (a request GitHub refuses as invalid is set aside at once); a rate limit holds the
 * updates until GitHub's reset without counting an attempt; while the installation's budget is low,
 * only final states go out. Relaying never waits on this.
 */
export async function drainGithub(deps: GithubSyncDeps, projectKey: string): Promise<number> {
  let done = 0;
  if ((deps.resting?.get(projectKey) ?? 0) > Date.now()) return done;
  deps.resting?.delete(projectKey);
  const log = deps.log.child({ project: projectKey });
  // Tasks done, by outcome: marked in one statement per outcome before the tasks are read again
  // (and when the drain ends), not one per step.
  const finished = new Map<string, number[]>();
  const finish = (ids: readonly number[], outcome: string) => {
    finished.set(outcome, [...(finished.get(outcome) ?? []), ...ids]);
    deps.metrics?.githubUpdates.inc({ outcome }, ids.length);
    done += ids.length;
  };
  const markFinished = async ({ durable = false } = {}) => {
    for (const [outcome, ids] of finished) {
      await markGithubTasksDone(deps.db, ids, outcome, { durable });
      finished.delete(outcome);
    }
  };
  await withLease(deps.db, GITHUB_UPDATES_LEASE, projectKey, deps.owner, async (lease) => {
    try {
      await drainTasks(lease);
    } finally {
      await markFinished();
    }
  });
  return done;

  async function drainTasks(lease: { readonly held: boolean }): Promise<void> {
    const stopped = () => !lease.held || Boolean(deps.signal?.aborted);
    while (!stopped()) {
      await markFinished();
      const updates = await pendingGithubTasks(deps.db, projectKey, BATCH);
      if (updates.length === 0) return;
      const project = await findProjectByKey(deps.db, projectKey);
      if (project?.installationId == null) {
        const reason = `project ${projectKey} has no GitHub App installation on record`;
        for (const update of updates) {
          await recordGithubTaskFailure(deps.db, update.id, reason, {
            maxAttempts: update.attempts + 1,
            retryAt: new Date(),
          });
        }
        log.error({ tasks: updates.length }, `GitHub updates set aside: ${reason}`);
        return;
      }
      const installationId = project.installationId;
      const octokit = await deps.octokitFor(installationId);
      deps.budget?.watch(octokit, installationId);
      const [owner = "", repo = ""] = project.fullName.split("/");
      const plan = planGithubUpdates(updates as PendingUpdate[]);
      // What GitHub shows of the plan's activities, read once (a step that records one drops it).
      const activityIds = plan.steps.flatMap((step) => (step.kind === "activity" ? [step.activity.id] : []));
      const found = await findShownActivities(deps.db, activityIds);
      const shown = new Map(activityIds.map((id) => [id, found.get(id) ?? null]));
      const context: TaskContext = { ...deps, octokit, owner, repo, projectKey, shown };
      if (plan.dropped.length > 0) {
        finish(plan.dropped, "superseded");
        // Before the steps: a burst's pace counts pending tasks, and these are not any more.
        await markFinished();
      }
      const dueAt = new Map(updates.map((update) => [update.id, update.nextAttemptAt.getTime()]));
      const attemptsOf = new Map(updates.map((update) => [update.id, update.attempts]));
      let progressed = plan.dropped.length > 0;
      let wakeAt: number | undefined;
      const later = (at: number) => {
        wakeAt = Math.min(wakeAt ?? at, at);
      };
      for (const [index, step] of plan.steps.entries()) {
        if (stopped()) return;
        // A step waits while any of its tasks waits for a retry: a newer state does not jump a backoff.
        const due = Math.max(...step.covers.map((id) => dueAt.get(id) ?? 0));
        if (due > Date.now()) {
          later(due);
          continue;
        }
        const settling = await settlingUntil(deps.db, projectKey, step);
        if (settling) {
          await postponeGithubTasks(deps.db, step.covers, settling);
          later(settling.getTime());
          continue;
        }
        const low = deps.budget?.lowUntil(installationId);
        if (low && !isFinal(step)) {
          // The budget is low: what is not final waits (looked at again within a minute, not
          // postponed in the store, so that a final state coming meanwhile goes out at once).
          later(Math.min(low.getTime(), Date.now() + 60_000));
          continue;
        }
        try {
          const tried = Math.max(...step.covers.map((id) => attemptsOf.get(id) ?? 0));
          const outcome = await runStep(context, step, tried);
          progressed = true;
          // A newer state came while this one was sent: plan again, with it (nothing is marked done).
          if (outcome === "outdated") break;
          finish(step.covers, outcome);
          // What GitHub would do twice if sent again (a reply, a repository_dispatch) is marked at
          // once, and durably; the rest (states, which GitHub shows once) with the next read.
          if (!idempotent(step)) await markFinished({ durable: true });
        } catch (error) {
          const status = (error as { status?: unknown }).status;
          deps.metrics?.githubApiErrors.inc({ status: typeof status === "number" ? String(status) : "0" });
          const waitMs = rateLimitWaitMs(error);
          if (waitMs !== undefined) {
            // GitHub asked for a pause: nothing counts as failed, and nothing is dropped.
            const at = new Date(Date.now() + waitMs);
            await postponeGithubTasks(
              deps.db,
              plan.steps.slice(index).flatMap((rest) => rest.covers),
              at,
            );
            log.warn({ installation: installationId, until: at, status }, "GitHub rate limit: updates wait");
            await deps.wakeAt(projectKey, at);
            return;
          }
          const message = describeError(error);
          const permanent = isPermanent(error);
          // The step's tasks wait together, as long as its most tried one does.
          const attempts = Math.max(...step.covers.map((id) => attemptsOf.get(id) ?? 0));
          const retryAt = new Date(Date.now() + retryDelayMs(deps.retry, attempts + 1));
          let failed = false;
          for (const id of step.covers) {
            const result = await recordGithubTaskFailure(deps.db, id, message, {
              maxAttempts: permanent ? (attemptsOf.get(id) ?? 0) + 1 : deps.retry.limit + 1,
              retryAt,
            });
            failed ||= result.failed;
          }
          const fields = { kind: step.kind, tasks: step.covers, err: message };
          if (failed) log.error(fields, "GitHub update failed; set aside as failed");
          else {
            log.warn({ ...fields, retryAt }, "GitHub update failed; it will be retried");
            later(retryAt.getTime());
          }
        }
      }
      if (!progressed) {
        if (wakeAt !== undefined) {
          await deps.wakeAt(projectKey, new Date(wakeAt));
          // Rest at most a settling period: a backoff or a rate limit of one step must not hold the rest.
          deps.resting?.set(projectKey, Math.min(wakeAt, Date.now() + BURST.quietMs));
        }
        return;
      }
    }
  }
}

/** Until when an environment in a burst of updates waits for it to quiet down; undefined: send now. */
async function settlingUntil(db: Database, projectKey: string, step: UpdateStep): Promise<Date | undefined> {
  if (step.kind !== "activity" || step.role !== "current") return undefined;
  const environment = step.activity.payload.environment?.name;
  if (!environment) return undefined;
  const pace = await environmentPace(db, projectKey, environment, BURST.windowSeconds);
  if (pace.recent < BURST.updates || pace.newestAgeMs >= BURST.quietMs) return undefined;
  if (pace.oldestPendingAgeMs >= BURST.maxHoldMs) return undefined;
  const wait = Math.min(BURST.quietMs - pace.newestAgeMs, BURST.maxHoldMs - pace.oldestPendingAgeMs);
  return new Date(Date.now() + Math.max(50, wait));
}

/**
 * Sending it again only shows GitHub the same state (deployments are recorded as they are made, the
 * comment is edited in place). A reply, a dispatch or a repository_dispatch would happen twice.
 */
const IDEMPOTENT: ReadonlySet<UpdateStep["kind"]> = new Set([
  "activity",
  "comment",
  "commit-status",
  "remove-label",
  "cancel-run",
  "read-checks",
]);
const idempotent = (step: UpdateStep) => IDEMPOTENT.has(step.kind);

function isFinal(step: UpdateStep): boolean {
  return (
    step.kind !== "activity" || step.activity.state === "complete" || step.activity.state === "cancelled"
  );
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
  /** What GitHub shows of the plan's activities, as read before its steps (see syncActivity). */
  shown?: Map<string, ShownActivity | null>;
  octokit: Octokit;
  owner: string;
  repo: string;
  projectKey: string;
}

/**
 * Sends one step; "outdated" when a newer state of its activity, or a newer activity of its
 * environment, came while it was being sent: it stops there, and its tasks are planned again.
 */
/** `attempts`: how many times the step's tasks were tried before (a dispatch then looks for its run first). */
async function runStep(
  context: TaskContext,
  step: UpdateStep,
  attempts: number,
): Promise<"sent" | "superseded" | "outdated"> {
  const { octokit, owner, repo } = context;
  switch (step.kind) {
    case "activity":
      return syncActivity(context, step);
    case "comment":
      await upsertComment(context, step.pullRequest, step.body);
      return "sent";
    case "reply":
      await octokit.rest.issues.createComment({
        owner,
        repo,
        issue_number: step.pullRequest,
        body: step.body,
      });
      return "sent";
    case "commit-status":
      await octokit.rest.repos.createCommitStatus({
        owner,
        repo,
        sha: step.sha,
        state: step.state,
        context: step.context,
        description: description(step.description),
      });
      return "sent";
    case "dispatch-workflow":
      return dispatchWorkflow(context, step, attempts);
    case "cancel-run":
      return cancelRuns(context, step);
    case "repository-dispatch":
      await octokit.rest.repos.createDispatchEvent({
        owner,
        repo,
        event_type: step.eventType,
        client_payload: step.clientPayload,
      });
      return "sent";
    case "read-checks": {
      if (!context.checksRead) return "sent";
      const checks = await readCommitChecks(octokit, { owner, repo, sha: step.sha });
      const branch = step.requiredOf;
      const required =
        branch !== null && !(await context.checksRead.requiredKnown(context.projectKey, branch))
          ? { branch, names: await readRequiredChecks(octokit, { owner, repo, branch }) }
          : undefined;
      await context.checksRead.apply(context.projectKey, step.sha, { checks, required });
      return "sent";
    }
    case "remove-label":
      try {
        await octokit.rest.issues.removeLabel({
          owner,
          repo,
          issue_number: step.pullRequest,
          name: step.label,
        });
      } catch (error) {
        // Removed already (by a maintainer, or an earlier attempt).
        if ((error as { status?: unknown }).status !== 404) throw error;
      }
      return "sent";
  }
}

/** Deployment status for an activity's state: GitHub's `queued` → `in_progress` → `success`/`failure`. */
export function deploymentState(
  activity: Activity,
): "queued" | "in_progress" | "success" | "failure" | "error" | "inactive" {
  switch (activity.state) {
    case "pending":
      return "queued";
    case "in_progress":
      return "in_progress";
    case "cancelled":
      // A pending deployment a newer one replaced: GitHub's word for it is `inactive`.
      return activity.superseded_by ? "inactive" : "error";
    case "complete":
      return activity.result === "failure" ? "failure" : "success";
  }
}

function commitState(activity: Activity): "pending" | "success" | "failure" | "error" {
  const state = deploymentState(activity);
  if (state === "inactive") return "error";
  return state === "queued" || state === "in_progress" ? "pending" : state;
}

/** GitHub keeps descriptions to 140 characters. */
function description(text: string): string {
  return text.length <= 140 ? text : `${text.slice(0, 139)}…`;
}

/**
 * Shows an activity on GitHub. The environment's current activity gets its commit status, its
 * deployment (made now, if it has none) with a status, and the pull request comment; a state GitHub
 * shows already is not sent again. A superseded one only gets its final state where GitHub shows
 * it, and a commit that is no longer the head gets no new `pending`. Before each write, a newer
 * state of the environment stops this one.
 */
async function syncActivity(
  context: TaskContext,
  step: Extract<UpdateStep, { kind: "activity" }>,
): Promise<"sent" | "superseded" | "outdated"> {
  const { octokit, owner, repo, db, projectKey } = context;
  const { activity, options } = step;
  const environment = activity.payload.environment;
  if (!environment) return "sent";
  const newest = Math.max(...step.covers);
  const outdated = () => hasNewerGithubTask(db, projectKey, environment.name, activity.id, newest);
  // Read with the plan, unless a step recorded something of it since (then read again).
  const shown = context.shown?.has(activity.id)
    ? (context.shown.get(activity.id) ?? undefined)
    : await findShownActivity(db, activity.id);
  context.shown?.delete(activity.id);
  const record = (fields: { deploymentId?: number; deploymentState?: string; commitState?: string }) =>
    saveShownActivity(db, { activityId: activity.id, projectKey, environment: environment.name, ...fields });
  // The dashboard's activity page (a person not signed in goes through sign-in and back to it).
  const pageUrl = context.publicUrl ? activityPageUrl(context.publicUrl, activity.id) : undefined;
  const logUrl = activity.log_url ?? pageUrl;
  const sha = activity.parameters.new_commit ?? environment.head_commit;
  const gone = activity.type === "environment.delete" || activity.type === "environment.deactivate";
  const deployment = deploymentState(activity);
  const commit = commitState(activity);
  const current = step.role === "current";
  // A superseded activity that GitHub does not show gets nothing: its newer one says it all.
  if (!current && !shown) return "superseded";

  if (gone) {
    if (current && options.deployments && activity.state === "complete") {
      await deactivateDeployments(context, environment.name);
    }
  } else if (sha) {
    const sendCommit = options.statuses && shown?.commitState !== commit && (current || shown?.commitState);
    if (sendCommit) {
      if (current && (await outdated())) return "outdated";
      const target = environment.url ?? logUrl;
      await octokit.rest.repos.createCommitStatus({
        owner,
        repo,
        sha,
        state: commit,
        context: `envhooks/${environment.name}`,
        description: description(activity.text),
        ...(target ? { target_url: target } : {}),
      });
      await record({ commitState: commit });
    }
  }
  // The comment before the deployment: a burst stops a step between two writes, and a deployment
  // made for a commit that is no longer the head is the costliest write to waste.
  if (step.comment && options.comments && environment.pull_request !== null) {
    if (await outdated()) return "outdated";
    await upsertComment(
      context,
      environment.pull_request,
      renderActivityComment(activity, { pageUrl, logUrl: activity.log_url }),
    );
  }
  if (!gone && sha) {
    const sendDeployment =
      options.deployments && shown?.deploymentState !== deployment && (current || shown?.deploymentId);
    if (sendDeployment) {
      if (current && (await outdated())) return "outdated";
      let deploymentId = shown?.deploymentId ?? null;
      if (deploymentId === null) {
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
        await record({ deploymentId });
      }
      await octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: deploymentId,
        state: deployment,
        description: description(activity.text),
        ...(environment.url ? { environment_url: environment.url } : {}),
        ...(logUrl ? { log_url: logUrl } : {}),
        auto_inactive: true,
      });
      await record({ deploymentState: deployment });
    }
  }
  return "sent";
}

/**
 * Marks the environment's deployments `inactive`: those envhooks made and GitHub does not show as
 * inactive already (`auto_inactive` does not cover transient environments, such as a pull request's);
 * without a record of any, every deployment GitHub lists for the environment.
 */
async function deactivateDeployments(context: TaskContext, environment: string) {
  const { octokit, owner, repo, db, projectKey } = context;
  const inactive = {
    owner,
    repo,
    state: "inactive" as const,
    description: `Environment ${environment} is gone.`,
  };
  const made = await environmentDeployments(db, projectKey, environment);
  for (const deployment of made) {
    if (deployment.state === "inactive") continue;
    await octokit.rest.repos.createDeploymentStatus({ ...inactive, deployment_id: deployment.deploymentId });
    context.shown?.delete(deployment.activityId);
    await saveShownActivity(db, {
      activityId: deployment.activityId,
      projectKey,
      environment,
      deploymentState: "inactive",
    });
  }
  if (made.length > 0) return;
  const listed = await octokit.paginate(octokit.rest.repos.listDeployments, {
    owner,
    repo,
    environment,
    per_page: 100,
  });
  for (const deployment of listed) {
    await octokit.rest.repos.createDeploymentStatus({ ...inactive, deployment_id: deployment.id });
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
