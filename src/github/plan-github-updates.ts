import type { RepositoryDispatchRequest } from "../actions/repository-dispatch.ts";
import type { CancelRunRequest, DispatchWorkflowRequest } from "../actions/workflow-tasks.ts";
import type { Activity } from "../activity/activity.ts";
import type { CommitStatusRequest, GithubOptions, GithubTaskBody } from "./github-outbox.ts";
import type { ReadChecksRequest } from "./read-checks.ts";

/** A task waiting to be sent to GitHub, as the planner sees it. */
export interface PendingUpdate {
  id: number;
  /** The activity whose state an `activity` task shows; null for the other kinds. */
  activityId: string | null;
  /** Null for an older state of an activity that has a newer one among the updates. */
  body: GithubTaskBody | null;
  /** A newer activity of the same environment exists: this activity is no longer the current one. */
  superseded: boolean;
}

/** One piece of work for GitHub, and the tasks it stands for (marked done together). */
export type UpdateStep =
  | {
      kind: "activity";
      /** The newest state of the activity among the tasks. */
      activity: Activity;
      options: GithubOptions;
      /**
       * `current`: the environment's newest activity, shown in full. `finish`: a superseded activity
       * that may already be on GitHub; only its final state is sent, and only where GitHub shows it.
       */
      role: "current" | "finish";
      /** Whether this step writes the pull request comment (a newer comment for it may come later). */
      comment: boolean;
      covers: number[];
    }
  | { kind: "comment"; pullRequest: number; body: string; covers: number[] }
  | { kind: "reply"; pullRequest: number; body: string; covers: number[] }
  | { kind: "remove-label"; pullRequest: number; label: string; covers: number[] }
  | (CommitStatusRequest & { covers: number[] })
  | (DispatchWorkflowRequest & { covers: number[] })
  | (CancelRunRequest & { covers: number[] })
  | (RepositoryDispatchRequest & { covers: number[] })
  | (ReadChecksRequest & { covers: number[] });

export interface UpdatePlan {
  steps: UpdateStep[];
  /** Tasks that a newer state made pointless: marked done, never sent. */
  dropped: number[];
}

const FINAL = new Set(["complete", "cancelled"]);

/**
 * Coalesces a project's pending updates so that GitHub shows the newest state with the fewest
 * writes. Per activity, only its newest state is sent; per environment, only the newest activity
 * is shown in full, while an older one only gets its final state (where GitHub shows it already);
 * per pull request, only the newest comment is written. Replies and label removals are sent as they
 * are. Steps come in the order of their oldest task.
 */
export function planGithubUpdates(updates: PendingUpdate[]): UpdatePlan {
  const dropped: number[] = [];
  const byActivity = new Map<string, { latest: PendingUpdate; covers: number[] }>();
  const steps: Array<UpdateStep & { first: number; last: number }> = [];
  for (const update of updates) {
    const { body, activityId } = update;
    if (activityId === null) {
      if (body && body.kind !== "activity") {
        steps.push({ ...body, covers: [update.id], first: update.id, last: update.id });
      }
      continue;
    }
    const group = byActivity.get(activityId);
    if (group) {
      group.latest = update;
      group.covers.push(update.id);
    } else byActivity.set(activityId, { latest: update, covers: [update.id] });
  }
  for (const { latest, covers } of byActivity.values()) {
    // The newest state (updates come oldest first) carries the activity as it stands.
    if (latest.body?.kind !== "activity") continue;
    const { activity, options } = latest.body;
    if (latest.superseded && !FINAL.has(activity.state)) {
      dropped.push(...covers);
      continue;
    }
    const role = latest.superseded ? "finish" : "current";
    const first = covers[0] ?? latest.id;
    steps.push({
      kind: "activity",
      activity,
      options,
      role,
      comment: role === "current",
      covers,
      first,
      last: latest.id,
    });
  }

  // One comment per pull request: the newest writer of it wins.
  const newestComment = new Map<number, number>();
  for (const step of steps) {
    const pullRequest = commentTarget(step);
    if (pullRequest !== undefined && step.last > (newestComment.get(pullRequest) ?? -1)) {
      newestComment.set(pullRequest, step.last);
    }
  }
  const kept: UpdateStep[] = [];
  for (const { first: _first, last, ...step } of steps.sort((a, b) => a.first - b.first)) {
    const pullRequest = commentTarget(step);
    const newest = pullRequest === undefined || newestComment.get(pullRequest) === last;
    if (step.kind === "comment" && !newest) {
      dropped.push(...step.covers);
      continue;
    }
    kept.push(step.kind === "activity" && !newest ? { ...step, comment: false } : step);
  }
  return { steps: kept, dropped };
}

/** The pull request whose envhooks comment a step writes, if it writes one. */
function commentTarget(step: UpdateStep): number | undefined {
  if (step.kind === "comment") return step.pullRequest;
  if (step.kind === "activity" && step.comment && step.options.comments) {
    return step.activity.payload.environment?.pull_request ?? undefined;
  }
  return undefined;
}
