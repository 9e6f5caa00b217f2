import { writeTask } from "../github/github-outbox.ts";
import { type ApplyDeps, inTransaction, storedConfig } from "../intake/apply-event.ts";
import { applyProgress, FINISHED } from "../intake/report-progress.ts";
import { lockActivity } from "../store/activities.ts";
import type { Queryable } from "../store/database.ts";
import { markEventProcessed } from "../store/github-events.ts";
import { findProjectByKey } from "../store/projects.ts";
import {
  deleteUnidentifiedDispatch,
  lockUnidentifiedDispatch,
  lockWorkflowRun,
  recordWorkflowRun,
  saveWorkflowRun,
  type WorkflowRun,
} from "../store/workflow-runs.ts";
import { type RunUpdate, runReport } from "./run-report.ts";
import { cancelRunTask } from "./workflow-tasks.ts";

/** Where an update of a run came from: a GitHub delivery (marked processed with it), or a read. */
export interface RunSource {
  projectKey: string;
  /** The delivery to mark processed in the same transaction; none for a read of the run. */
  deliveryId?: string | undefined;
  /** The run's `run-name` (`display_title`), for a run whose dispatch gave no id (204). */
  runName?: string | undefined;
  /** The run's branch (`head_branch`): a run found by its run-name must be on its dispatch's. */
  ref?: string | null | undefined;
  /** The run's workflow file (`path`) and id: a run found by its run-name must be of its dispatch's. */
  workflowPath?: string | undefined;
  workflowId?: number | undefined;
  /** The ETag of the read that brought the update. */
  etag?: string | undefined;
}

/**
 * The activity id in a run's `run-name`: the workflow names its runs
 * `run-name: "envhooks ${{ inputs.envhooks_activity }} …"`, so that a run whose dispatch did not
 * return its id (GitHub Enterprise Server before 3.21) is found from its first event.
 */
export function activityIdInRunName(runName: string | undefined): string | undefined {
  return runName ? /\benvhooks ([a-z2-7]{13})\b/.exec(runName)?.[1] : undefined;
}

/** Thrown to roll the transaction back: the delivery was applied already. */
class AppliedAlready extends Error {}

/**
 * Applies what GitHub said about a workflow run to the activity that started it, through the
 * progress path every runner takes (`applyProgress`): in one transaction with the run's record and,
 * for a delivery, its processed mark. An update about a run that envhooks did not start changes
 * nothing; one about an activity finished already changes nothing either, except that the run of
 * a superseded activity is cancelled (`cancel_superseded`). Returns the outcome, as the inbox keeps it.
 */
export async function followRun(deps: ApplyDeps, update: RunUpdate, source: RunSource): Promise<string> {
  const now = (deps.now ?? (() => new Date()))();
  const outcome = await inTransaction(deps, async (tx, wakes) => {
    const run = await findRun(tx, update.runId, source, now);
    let outcome: string;
    if (!run) outcome = `workflow run ${update.runId} was not started by envhooks`;
    else {
      const locked = await lockActivity(tx, run.activityId);
      if (!locked) outcome = `activity ${run.activityId} is gone`;
      else {
        const { report, run: seen } = runReport(locked.activity, run, update);
        const changed = seen.status !== run.status || JSON.stringify(seen.jobs) !== JSON.stringify(run.jobs);
        await saveWorkflowRun(
          tx,
          { ...run, ...seen, htmlUrl: update.htmlUrl ?? null, etag: source.etag ?? run.etag },
          changed || source.etag !== undefined ? now : null,
        );
        if (FINISHED.has(locked.activity.state)) {
          outcome = `activity ${run.activityId} is ${locked.activity.state} already`;
          const config = storedConfig((await findProjectByKey(tx, locked.projectKey))?.config);
          // Once, at the run's first news (a run started before its activity was superseded, whose
          // id the dispatch did not give): later events of it need no second cancel.
          const firstNews = run.status === null && update.status !== undefined;
          const cancel =
            deps.github && firstNews && seen.status !== "completed" && cancelRunTask(locked.activity, config);
          if (cancel) {
            await writeTask(tx, locked.projectKey, cancel);
            wakes.github.add(locked.projectKey);
            outcome += `: its run ${run.runId} is cancelled`;
          }
        } else if (report) {
          const next = await applyProgress(deps, tx, wakes, locked, report, now);
          outcome = `activity ${next.id} is ${next.state}${next.result ? ` (${next.result})` : ""}`;
        } else outcome = `activity ${run.activityId} unchanged`;
      }
    }
    if (source.deliveryId && !(await markEventProcessed(tx, { deliveryId: source.deliveryId }, outcome))) {
      throw new AppliedAlready(source.deliveryId);
    }
    return outcome;
  }).catch((error: unknown) => {
    if (error instanceof AppliedAlready) return "applied already";
    throw error;
  });
  if (source.deliveryId) deps.settled?.add(source.deliveryId);
  return outcome;
}

/**
 * The run, locked: as recorded when it was dispatched, or found now by the activity id in its
 * `run-name`. Only an activity whose dispatch GitHub answered without the run's id (204), and that
 * no run has claimed yet, is found so, by a run of the same repository, of the dispatched workflow
 * and on the dispatched branch (anyone who can push may name a run of another workflow or branch
 * `envhooks <id>`); the run is recorded with the dispatch's branch, which its OIDC token must name.
 */
async function findRun(
  tx: Queryable,
  runId: number,
  source: RunSource,
  now: Date,
): Promise<WorkflowRun | undefined> {
  const recorded = await lockWorkflowRun(tx, runId);
  if (recorded) return recorded;
  const activityId = activityIdInRunName(source.runName);
  if (!activityId) return undefined;
  const dispatch = await lockUnidentifiedDispatch(tx, activityId);
  if (!dispatch || dispatch.projectKey !== source.projectKey) return undefined;
  if (!sameWorkflow(dispatch.workflow, source) || branch(source.ref) !== branch(dispatch.ref))
    return undefined;
  const run = { runId, activityId, projectKey: source.projectKey, htmlUrl: null, ref: dispatch.ref };
  await recordWorkflowRun(tx, run, now);
  await deleteUnidentifiedDispatch(tx, activityId);
  return lockWorkflowRun(tx, runId);
}

/** Whether the run is of `workflow` (a file name in `.github/workflows`, or a numeric id). */
function sameWorkflow(workflow: string, source: RunSource): boolean {
  if (/^\d+$/.test(workflow)) return source.workflowId === Number(workflow);
  return source.workflowPath === `.github/workflows/${workflow.replace(/^\.github\/workflows\//, "")}`;
}

function branch(ref: string | null | undefined): string | undefined {
  return ref ? ref.replace(/^refs\/heads\//, "") : undefined;
}
