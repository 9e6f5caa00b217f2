import type { Probot } from "probot";
import { followRun } from "./actions/follow-run.ts";
import { runStatus } from "./actions/run-report.ts";
import { type ApplyDeps, applyEvent } from "./intake/apply-event.ts";
import { gatherFacts } from "./intake/gather-facts.ts";
import type { RepoOptions } from "./intake/repo-options.ts";
import { applyRepositoryEvent } from "./intake/repository-events.ts";
import {
  type GithubEvent,
  type IssueCommentPayload,
  isEnvhooksCommand,
  type RepositoryPayload,
  type WorkflowJobPayload,
  type WorkflowRunPayload,
} from "./lifecycle/github-event.ts";
import { projectKey } from "./store/projects.ts";

/** GitHub's permission levels that may push (`maintain` is reported as `write`). */
const WRITE_PERMISSIONS = new Set(["admin", "write"]);

/**
 * The Probot app: wiring only. Every handled event goes through the lifecycle with the repository's
 * stored options; GitHub is asked only for options that may have changed, a `synchronize`'s commits
 * that no push brought, the changed files `paths` needs that no payload lists, and a commenter's
 * permission.
 *
 * Stored push, create, delete and pull_request deliveries are mostly applied in batches without
 * Probot (`createBatchApplier`, the same steps for many events at once); this handler applies those
 * that are retried, or whose batch failed, one at a time.
 */
export function envhooksApp(deps: ApplyDeps, options: RepoOptions) {
  return (app: Probot) => {
    app.on(["push", "create", "delete", "pull_request"], async (context) => {
      let event = { name: context.name, payload: context.payload } as GithubEvent;
      const installationId = (context.payload as { installation?: { id: number } }).installation?.id ?? null;
      const config = await options.forEvent(event, installationId, context.octokit);
      if (config.ok) {
        const lookup = { db: deps.db, log: context.log, metrics: deps.metrics };
        event = await gatherFacts(lookup, context.octokit, event, config.config);
      }
      await applyEvent(deps, context.id, event, installationId, config);
    });
    // A rename or transfer moves the project; a deleted repository deactivates it (issue 18).
    app.on(["repository.renamed", "repository.transferred", "repository.deleted"], async (context) => {
      await applyRepositoryEvent(deps, context.id, context.payload as unknown as RepositoryPayload);
    });
    // runner: github-actions: the runs envhooks started, followed from GitHub's own events (issue 24).
    app.on("workflow_run", async (context) => {
      const { workflow_run: run, repository } = context.payload as unknown as WorkflowRunPayload;
      await followRun(
        deps,
        {
          runId: run.id,
          status: context.payload.action === "completed" ? "completed" : runStatus(run.status),
          conclusion: run.conclusion,
          htmlUrl: run.html_url,
        },
        {
          projectKey: projectKey(repository.full_name),
          deliveryId: context.id,
          runName: run.display_title,
          ref: run.head_branch,
          workflowPath: run.path,
          workflowId: run.workflow_id,
        },
      );
    });
    app.on("workflow_job", async (context) => {
      const { workflow_job: job, repository } = context.payload as unknown as WorkflowJobPayload;
      await followRun(
        deps,
        {
          runId: job.run_id,
          job: { id: job.id, name: job.name, status: job.status, conclusion: job.conclusion },
        },
        { projectKey: projectKey(repository.full_name), deliveryId: context.id },
      );
    });
    app.on("issue_comment.created", async (context) => {
      const payload = context.payload as unknown as IssueCommentPayload;
      if (!isEnvhooksCommand(payload)) return;
      // Asked of GitHub each time: a failure here is retried like any other GitHub API failure.
      const { data } = await context.octokit.rest.repos.getCollaboratorPermissionLevel(
        context.repo({ username: payload.comment.user.login }),
      );
      const event: GithubEvent = {
        name: "issue_comment",
        payload,
        canWrite: WRITE_PERMISSIONS.has(data.permission),
      };
      const installationId = context.payload.installation?.id ?? null;
      const config = await options.forEvent(event, installationId, context.octokit);
      await applyEvent(deps, context.id, event, installationId, config);
    });
  };
}
