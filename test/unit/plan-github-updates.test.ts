import { describe, expect, it } from "vitest";
import type { Activity } from "../../src/activity/activity.ts";
import type { GithubOptions, GithubTaskBody } from "../../src/github/github-outbox.ts";
import { type PendingUpdate, planGithubUpdates } from "../../src/github/plan-github-updates.ts";

const OPTIONS: GithubOptions = { deployments: true, statuses: true, comments: true };

/** An activity of environment `pr-2` (pull request #2) as far as the planner reads it. */
function activity(id: string, state: Activity["state"], environment = "pr-2"): Activity {
  const pullRequest = environment.startsWith("pr-") ? Number(environment.slice(3)) : null;
  return {
    id,
    state,
    payload: { environment: { name: environment, pull_request: pullRequest } },
  } as unknown as Activity;
}
/** A task as the store hands it over: only an activity's newest state comes with its body. */
const update = (id: number, body: GithubTaskBody, superseded = false): PendingUpdate => ({
  id,
  activityId: body.kind === "activity" ? body.activity.id : null,
  body,
  superseded,
});
const state = (id: number, of: Activity, superseded = false) =>
  update(id, { kind: "activity", activity: of, options: OPTIONS }, superseded);

describe("planGithubUpdates", () => {
  it("sends only the newest state of an activity, for all of its tasks", () => {
    const plan = planGithubUpdates([
      { ...state(1, activity("a", "pending")), body: null },
      { ...state(2, activity("a", "in_progress")), body: null },
      state(3, activity("a", "complete")),
    ]);
    expect(plan.dropped).toEqual([]);
    expect(plan.steps).toEqual([
      expect.objectContaining({ kind: "activity", role: "current", comment: true, covers: [1, 2, 3] }),
    ]);
    expect(plan.steps[0]).toMatchObject({ activity: { state: "complete" } });
  });

  it("drops what a newer activity of the environment superseded, unless it is final (then only finished)", () => {
    const plan = planGithubUpdates([
      state(1, activity("old-running", "in_progress"), true),
      state(2, activity("old-done", "complete"), true),
      state(3, activity("new", "complete")),
      state(4, activity("branch", "complete", "main")),
    ]);
    expect(plan.dropped).toEqual([1]);
    expect(plan.steps.map((step) => [step.kind === "activity" && step.role, step.covers])).toEqual([
      ["finish", [2]],
      ["current", [3]],
      ["current", [4]],
    ]);
    // A finished activity never writes the pull request comment.
    expect(plan.steps[0]).toMatchObject({ comment: false });
  });

  it("writes one comment per pull request: the newest writer of it wins", () => {
    const approval = (id: number, body: string) => update(id, { kind: "comment", pullRequest: 2, body });
    const older = planGithubUpdates([
      approval(1, "waiting for approval"),
      state(2, activity("a", "complete")),
    ]);
    expect(older.dropped).toEqual([1]);
    expect(older.steps).toEqual([expect.objectContaining({ kind: "activity", comment: true })]);

    const newer = planGithubUpdates([
      state(1, activity("a", "complete")),
      approval(2, "needs approval again"),
    ]);
    expect(newer.dropped).toEqual([]);
    expect(newer.steps).toEqual([
      expect.objectContaining({ kind: "activity", comment: false, covers: [1] }),
      expect.objectContaining({ kind: "comment", body: "needs approval again", covers: [2] }),
    ]);
  });

  it("sends replies and label removals as they are, in order", () => {
    const plan = planGithubUpdates([
      update(1, { kind: "reply", pullRequest: 2, body: "one" }),
      update(2, { kind: "remove-label", pullRequest: 2, label: "envhooks:approve" }),
      update(3, { kind: "reply", pullRequest: 2, body: "two" }),
    ]);
    expect(plan.steps.map((step) => step.covers)).toEqual([[1], [2], [3]]);
    expect(plan.dropped).toEqual([]);
  });
});
