import type { Activity } from "../activity/activity.ts";
import { durationMs, type RepoConfig } from "../config/repo-config.schema.ts";
import type { ReadChecksRequest } from "../github/read-checks.ts";
import { OWN_CHECKS } from "../lifecycle/decide-checks.ts";
import type { GithubEvent } from "../lifecycle/github-event.ts";
import type { StoredCheckWait } from "../store/check-waits.ts";

/** The activities that build a commit: a new environment, a rebuild, a deactivated one brought back. */
const WAITING_TYPES: ReadonlySet<Activity["type"]> = new Set([
  "environment.branch",
  "environment.push",
  "environment.activate",
]);

/**
 * The wait an activity begins (`wait_for_checks`), or none: only a push's or a pull request
 * `synchronize`'s activity that creates, rebuilds or activates (brings back) an environment waits,
 * for its new head commit.
 * Required checks are those of the pushed branch, or of the pull request's base.
 */
export function checkWaitOf(
  activity: Activity,
  event: GithubEvent | undefined,
  config: RepoConfig,
  at: Date,
  /** The project's key (a simulated event's project has one of its own). */
  key: string,
): StoredCheckWait | undefined {
  if (config.wait_for_checks === "none" || !event) return undefined;
  if (!WAITING_TYPES.has(activity.type)) return undefined;
  const sha = activity.parameters.new_commit;
  if (!sha || activity.parameters.environment === null) return undefined;
  let branch: string;
  if (event.name === "push") branch = event.payload.ref.replace(/^refs\/heads\//, "");
  else if (event.name === "pull_request" && event.payload.action === "synchronize") {
    branch = event.payload.pull_request.base.ref;
  } else return undefined;
  return {
    activityId: activity.id,
    projectKey: key,
    sha,
    branch,
    mode: config.wait_for_checks,
    ignore: [...config.wait_for_checks_ignore, OWN_CHECKS],
    startedAt: at,
    graceUntil: new Date(at.getTime() + durationMs(config.wait_for_checks_grace)),
    timeoutAt: new Date(at.getTime() + durationMs(config.wait_for_checks_timeout)),
  };
}

/**
 * The activity as it waits: `pending`, saying on what (`waiting_for_checks`, its text and log), so
 * that a deploy runner told of it knows not to start yet. Its runner is told again when it proceeds.
 */
export function waitingActivity(activity: Activity, wait: StoredCheckWait): Activity {
  const short = wait.sha.slice(0, 7);
  return {
    ...activity,
    state: "pending",
    result: null,
    completion_percent: 0,
    started_at: null,
    completed_at: null,
    text: activity.text.replace(/ (created|rebuilt|activated)\.$/, ` waiting for checks on ${short}.`),
    log: [activity.log, `Waiting for checks on ${wait.sha} (wait_for_checks: ${wait.mode}).`].join("\n"),
    waiting_for_checks: { sha: wait.sha, mode: wait.mode, timeout_at: wait.timeoutAt.toISOString() },
  };
}

/** The task reading a waited-for commit's checks once (and the branch's required checks, unless kept). */
export function readChecksTask(wait: Pick<StoredCheckWait, "sha" | "mode" | "branch">): ReadChecksRequest {
  return { kind: "read-checks", sha: wait.sha, requiredOf: wait.mode === "required" ? wait.branch : null };
}
