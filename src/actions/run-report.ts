import type { Activity } from "../activity/activity.ts";
import type { ProgressReport } from "../intake/report-progress.ts";
import type { RunJob } from "../store/workflow-runs.ts";

/** What GitHub said about a run: a `workflow_run` or `workflow_job` event, or a read of the run. */
export interface RunUpdate {
  runId: number;
  /** `queued` (and GitHub's requested, waiting, pending), `in_progress` or `completed`; none from a job event. */
  status?: "queued" | "in_progress" | "completed" | undefined;
  /** With `completed`: success, failure, cancelled, timed_out, skipped, neutral, action_required, … */
  conclusion?: string | null | undefined;
  htmlUrl?: string | null | undefined;
  job?: ({ id: number } & RunJob) | undefined;
}

/** The run as envhooks last saw it. */
export interface SeenRun {
  status: string | null;
  jobs: Record<string, RunJob>;
}

/** A run's state as GitHub names it in its events (`requested`, `waiting`, … count as queued). */
export function runStatus(status: string | null | undefined): RunUpdate["status"] {
  if (status === "completed" || status === "in_progress") return status;
  return status ? "queued" : undefined;
}

/** Conclusions that count as a success; `cancelled` cancels; every other one is a failure. */
const SUCCESSFUL = new Set(["success", "neutral", "skipped"]);

/**
 * What an update of a run means for its activity, and the run as it now stands. GitHub's `queued`
 * leaves the activity `pending`; `in_progress` moves it on, with `completion_percent` the share of
 * known jobs completed (never going back); `completed` completes it (`success` with a successful
 * conclusion, `failure` with any other: failure, timed_out, action_required, …) or cancels it
 * (`cancelled`). Each job's conclusion goes into the log once; `log_url` is the run's page.
 * `report` is undefined when nothing about the activity changed.
 */
export function runReport(
  activity: Pick<Activity, "state" | "completion_percent" | "log_url">,
  seen: SeenRun,
  update: RunUpdate,
): { report: ProgressReport | undefined; run: SeenRun } {
  const jobs = { ...seen.jobs };
  const log: string[] = [];
  const job = update.job;
  if (job) {
    const before = jobs[job.id];
    jobs[job.id] = { name: job.name, status: job.status, conclusion: job.conclusion };
    if (job.status === "completed" && before?.status !== "completed") {
      log.push(`Job ${job.name}: ${job.conclusion ?? "completed"}`);
    }
  }
  // A job runs only in a run in progress, whatever order GitHub's events came in.
  const status =
    seen.status === "completed" ? "completed" : (update.status ?? (job ? "in_progress" : seen.status));
  const run: SeenRun = { status, jobs };
  const report: ProgressReport = {};
  if (update.htmlUrl && update.htmlUrl !== activity.log_url) report.log_url = update.htmlUrl;
  if (status === "completed" && update.status === "completed") {
    const conclusion = update.conclusion ?? "unknown";
    if (conclusion === "cancelled") report.state = "cancelled";
    else {
      report.state = "complete";
      report.result = SUCCESSFUL.has(conclusion) ? "success" : "failure";
    }
    log.push(`Workflow run ${update.runId} completed: ${conclusion}`);
  } else if (status === "in_progress") {
    if (activity.state === "pending") {
      report.state = "in_progress";
      log.unshift(`Workflow run ${update.runId} in progress`);
    }
    const known = Object.values(jobs);
    const done = known.filter((j) => j.status === "completed").length;
    const percent = known.length === 0 ? 0 : Math.floor((100 * done) / known.length);
    if (percent > activity.completion_percent) report.completion_percent = Math.min(percent, 99);
  }
  if (log.length > 0) report.log = log.join("\n");
  return { report: Object.keys(report).length > 0 ? report : undefined, run };
}
