import { describe, expect, it } from "vitest";
import { activityIdInRunName } from "../../src/actions/follow-run.ts";
import { type RunUpdate, runReport, type SeenRun } from "../../src/actions/run-report.ts";

const URL = "https://github.com/o/r/actions/runs/7";
const pending = { state: "pending" as const, completion_percent: 0, log_url: undefined };
const running = { state: "in_progress" as const, completion_percent: 0, log_url: URL };
const fresh: SeenRun = { status: null, jobs: {} };
const job = (id: number, status: string, conclusion: string | null = null) => ({
  id,
  name: `job ${id}`,
  status,
  conclusion,
});

describe("what a workflow run's update means for its activity", () => {
  it.each<[string, RunUpdate, Record<string, unknown> | undefined]>([
    [
      "queued leaves it pending, with the run's page",
      { runId: 7, status: "queued", htmlUrl: URL },
      { log_url: URL },
    ],
    [
      "in_progress starts it",
      { runId: 7, status: "in_progress" },
      { state: "in_progress", log: "Workflow run 7 in progress" },
    ],
    [
      "success completes it",
      { runId: 7, status: "completed", conclusion: "success" },
      { state: "complete", result: "success", log: "Workflow run 7 completed: success" },
    ],
    ["skipped is a success", { runId: 7, status: "completed", conclusion: "skipped" }, { result: "success" }],
    ["failure fails it", { runId: 7, status: "completed", conclusion: "failure" }, { result: "failure" }],
    ["timed_out fails it", { runId: 7, status: "completed", conclusion: "timed_out" }, { result: "failure" }],
    [
      "action_required fails it",
      { runId: 7, status: "completed", conclusion: "action_required" },
      { result: "failure" },
    ],
    [
      "cancelled cancels it",
      { runId: 7, status: "completed", conclusion: "cancelled" },
      { state: "cancelled" },
    ],
  ])("%s", (_name, update, expected) => {
    const { report } = runReport(pending, fresh, update);
    if (expected === undefined) expect(report).toBeUndefined();
    else expect(report).toMatchObject(expected);
  });

  it("counts completed jobs over known jobs, logs each job's conclusion once, and never goes back", () => {
    let seen: SeenRun = { status: "in_progress", jobs: {} };
    let activity = { ...running };
    const steps: Array<RunUpdate["job"]> = [
      job(1, "queued"),
      job(2, "queued"),
      job(1, "completed", "success"),
      job(1, "completed", "success"),
      job(3, "queued"),
    ];
    const reports = steps.map((j) => {
      const { report, run } = runReport(activity, seen, { runId: 7, job: j });
      seen = run;
      activity = {
        ...activity,
        completion_percent: report?.completion_percent ?? activity.completion_percent,
      };
      return report;
    });
    expect(reports.map((r) => r?.completion_percent)).toEqual([
      undefined,
      undefined,
      50,
      undefined,
      undefined,
    ]);
    expect(reports.map((r) => r?.log)).toEqual([
      undefined,
      undefined,
      "Job job 1: success",
      undefined,
      undefined,
    ]);
  });

  it("a job's event starts a pending activity (its run's in_progress may come later); a completed run stays completed", () => {
    expect(runReport(pending, fresh, { runId: 7, job: job(1, "in_progress") }).report).toMatchObject({
      state: "in_progress",
    });
    const done: SeenRun = { status: "completed", jobs: {} };
    expect(runReport(running, done, { runId: 7, status: "in_progress" }).run.status).toBe("completed");
  });

  it("finds the activity id in a run-name", () => {
    expect(activityIdInRunName("create pr-2 (envhooks o6nnkdf4w7jdm)")).toBe("o6nnkdf4w7jdm");
    expect(activityIdInRunName("envhooks O6NNKDF4W7JDM")).toBeUndefined();
    expect(activityIdInRunName("Preview")).toBeUndefined();
    expect(activityIdInRunName(undefined)).toBeUndefined();
  });
});
