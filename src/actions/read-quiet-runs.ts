import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { RateBudget } from "../github/rate-budget.ts";
import type { ApplyDeps } from "../intake/apply-event.ts";
import { describeError } from "../queue/drain-in-order.ts";
import { findProjectByKey } from "../store/projects.ts";
import { markWorkflowRunSeen, quietWorkflowRuns } from "../store/workflow-runs.ts";
import { followRun } from "./follow-run.ts";
import { runStatus } from "./run-report.ts";

/** A run that showed no change for this long is read from GitHub, in case an event went missing. */
export const QUIET_RUN_MS = 10 * 60_000;

export interface ReadQuietRunsDeps {
  apply: ApplyDeps;
  log: Logger;
  octokitFor(installationId: number): Promise<InstanceType<typeof ProbotOctokit>>;
  /** The installations' rate budgets: a read counts like any other, and waits while one is low. */
  budget?: RateBudget | undefined;
  keepGoing(): boolean;
}

/**
 * Reads from GitHub the runs of unfinished activities that have shown no change since `quietSince`
 * (`GET …/actions/runs/{id}`, conditional on the last read's ETag: a 304 costs no rate limit), and
 * applies what changed as their events would have (`followRun`). Returns how many were read.
 * https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run
 */
export async function readQuietRuns(deps: ReadQuietRunsDeps, quietSince: Date): Promise<number> {
  const { apply, log } = deps;
  const now = apply.now ?? (() => new Date());
  let read = 0;
  for (const run of await quietWorkflowRuns(apply.db, quietSince)) {
    if (!deps.keepGoing()) break;
    const project = await findProjectByKey(apply.db, run.projectKey);
    const installationId = project?.installationId;
    // A run not read now (no installation, a low budget) or whose read fails (404, 403, …) waits
    // another quiet time like one read: otherwise it would be first again at every pass, and a
    // hundred such runs would keep every other from being read.
    const postpone = () =>
      markWorkflowRunSeen(apply.db, run.runId, now()).catch((error: unknown) => {
        log.warn({ run: run.runId, err: describeError(error) }, "postponing a workflow run's read failed");
      });
    if (!project || installationId == null || deps.budget?.lowUntil(installationId)) {
      await postpone();
      continue;
    }
    const octokit = await deps.octokitFor(installationId);
    deps.budget?.watch(octokit, installationId);
    const [owner = "", repo = ""] = project.fullName.split("/");
    try {
      const { data, headers } = await octokit.rest.actions.getWorkflowRun({
        owner,
        repo,
        run_id: run.runId,
        headers: run.etag ? { "if-none-match": run.etag } : {},
      });
      read++;
      await followRun(
        apply,
        {
          runId: run.runId,
          status: runStatus(data.status),
          conclusion: data.conclusion,
          htmlUrl: data.html_url,
        },
        { projectKey: run.projectKey, etag: headers.etag ?? "" },
      );
    } catch (error) {
      if ((error as { status?: unknown }).status === 304) {
        read++;
        await markWorkflowRunSeen(apply.db, run.runId, now());
        continue;
      }
      log.warn(
        { run: run.runId, project: run.projectKey, err: describeError(error) },
        "reading a workflow run failed",
      );
      await postpone();
    }
  }
  return read;
}
