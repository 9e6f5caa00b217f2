import type { ProbotOctokit } from "probot";
import { getActivity } from "../store/activities.ts";
import type { Database } from "../store/database.ts";
import { findShownActivity } from "../store/github-tasks.ts";
import {
  awaitsUnidentifiedRun,
  deleteUnidentifiedDispatch,
  recordUnidentifiedDispatch,
  recordWorkflowRun,
  runsOfActivity,
} from "../store/workflow-runs.ts";
import { activityIdInRunName } from "./follow-run.ts";
import type { CancelRunRequest, DispatchWorkflowRequest } from "./workflow-tasks.ts";

type Octokit = InstanceType<typeof ProbotOctokit>;

/** What sending a workflow task needs: the project's repository, and where its runs are recorded. */
export interface WorkflowTaskContext {
  octokit: Octokit;
  owner: string;
  repo: string;
  db: Database;
  projectKey: string;
  /**
   * Completes an activity as failed, with `reason` in its log, when GitHub refuses to start its
   * workflow (the work cannot start, so nobody would report on it before its timeout).
   */
  failActivity?: ((activityId: string, reason: string) => Promise<void>) | undefined;
}

/** GitHub's answers that no retry changes: the workflow or ref is not there (404), or refuses the inputs (422). */
const REFUSED = new Set([404, 422]);

/**
 * Starts an activity's workflow run (`workflow_dispatch`), unless the activity is no longer
 * pending (a newer one superseded it before its turn: no run is started for it). Asks for the run's
 * id (`return_run_details`) and records it; GitHub Enterprise Server before 3.21 answers 400 to that
 * field, and the dispatch is sent again without it (204): the run is then found from its first
 * event by the activity id in its `run-name`. A dispatch tried before (`attempts`) whose answer was
 * lost first looks for a run so named among the workflow's dispatched runs on its branch.
 * https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
 */
export async function dispatchWorkflow(
  context: WorkflowTaskContext,
  task: DispatchWorkflowRequest,
  attempts = 0,
): Promise<"sent" | "superseded"> {
  const { octokit, owner, repo, db, projectKey } = context;
  const activity = await getActivity(db, task.activityId);
  if (activity?.state !== "pending") return "superseded";
  // A dispatch that reached GitHub once is not sent again (its answer was recorded).
  if ((await runsOfActivity(db, task.activityId)).length > 0) return "sent";
  if (await awaitsUnidentifiedRun(db, task.activityId)) return "sent";
  // Tried before: the answer may have been lost after GitHub started the run. It is found by the
  // activity id in its run-name among the workflow's recent dispatched runs on that branch.
  if (attempts > 0) {
    const listed = await octokit.rest.actions
      .listWorkflowRuns({
        owner,
        repo,
        workflow_id: task.workflow,
        branch: task.ref,
        event: "workflow_dispatch",
        per_page: 100,
      })
      // No such workflow (404): the dispatch below says so on the activity.
      .catch((error: unknown) => {
        if ((error as { status?: unknown }).status === 404) return undefined;
        throw error;
      });
    const started = listed?.data.workflow_runs.find(
      (run) => activityIdInRunName(run.display_title) === task.activityId,
    );
    if (started) {
      const run = {
        runId: started.id,
        activityId: task.activityId,
        projectKey,
        htmlUrl: started.html_url,
        ref: task.ref,
      };
      await recordWorkflowRun(db, run, new Date());
      return "sent";
    }
  }
  const deploymentId = (await findShownActivity(db, task.activityId))?.deploymentId;
  const inputs = deploymentId ? { ...task.inputs, deployment_id: String(deploymentId) } : task.inputs;
  const request = { owner, repo, workflow_id: task.workflow, ref: task.ref, inputs };
  let answer: Awaited<ReturnType<typeof octokit.rest.actions.createWorkflowDispatch>> | undefined;
  try {
    try {
      answer = await octokit.rest.actions.createWorkflowDispatch({ ...request, return_run_details: true });
    } catch (error) {
      if ((error as { status?: unknown }).status !== 400) throw error;
      // Recorded before it is sent, so that the run's first event (which may arrive before the
      // answer) is stored and can claim it; forgotten again if the dispatch fails.
      const dispatch = {
        activityId: task.activityId,
        projectKey,
        workflow: String(task.workflow),
        ref: task.ref,
      };
      await recordUnidentifiedDispatch(db, dispatch, new Date());
      try {
        await octokit.rest.actions.createWorkflowDispatch(request);
      } catch (error) {
        await deleteUnidentifiedDispatch(db, task.activityId);
        throw error;
      }
      return "sent";
    }
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (typeof status !== "number" || !REFUSED.has(status) || !context.failActivity) throw error;
    const message = (error as { response?: { data?: { message?: string } } }).response?.data?.message;
    await context.failActivity(
      task.activityId,
      `GitHub refused to start the workflow ${task.workflow} on ${task.ref} (${status}${message ? `: ${message}` : ""}). Check that it exists on that branch, has on: workflow_dispatch, and declares every input envhooks sends.`,
    );
    return "sent";
  }
  const details = answer?.data as { workflow_run_id?: number; html_url?: string } | undefined;
  if (details?.workflow_run_id) {
    const run = {
      runId: details.workflow_run_id,
      activityId: task.activityId,
      projectKey,
      htmlUrl: details.html_url ?? null,
      ref: task.ref,
    };
    await recordWorkflowRun(db, run, new Date());
  }
  return "sent";
}

/**
 * Cancels the runs of an activity a newer one superseded. One not known yet (its dispatch gave no
 * id) is cancelled when its first event names it (`followRun`); one that has finished answers 409.
 * https://docs.github.com/en/rest/actions/workflow-runs#cancel-a-workflow-run
 */
export async function cancelRuns(context: WorkflowTaskContext, task: CancelRunRequest): Promise<"sent"> {
  const { octokit, owner, repo, db } = context;
  for (const run of await runsOfActivity(db, task.activityId)) {
    if (run.status === "completed") continue;
    try {
      await octokit.rest.actions.cancelWorkflowRun({ owner, repo, run_id: run.runId });
    } catch (error) {
      if ((error as { status?: unknown }).status !== 409) throw error;
    }
  }
  return "sent";
}
