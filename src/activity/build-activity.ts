import type { GithubUser } from "../lifecycle/github-event.ts";
import type { ActivityType, Commit } from "../lifecycle/transition.ts";
import type { Activity, ActivityEnvironment, ActivityResult } from "./activity.ts";

export interface ActivityInput {
  id: string;
  type: Activity["type"];
  project: string;
  environment: ActivityEnvironment | null;
  oldCommit: string | null;
  newCommit: string | null;
  commits: Commit[];
  user: GithubUser | null;
  text: string;
  log: string;
  result: ActivityResult;
  at: Date;
  github: Activity["github"];
  /** A deploy runner does the work (`runner: external`): the activity starts `pending`. */
  awaitingRunner?: boolean;
}

/**
 * Builds an activity. Without a deploy runner an activity completes when its environment change is
 * applied, so every timestamp is the moment of that change; with one it starts `pending`, and the
 * runner's reports move it on.
 */
export function buildActivity(input: ActivityInput): Activity {
  const at = input.at.toISOString();
  const done = !input.awaitingRunner;
  return {
    id: input.id,
    type: input.type,
    state: done ? "complete" : "pending",
    result: done ? input.result : null,
    completion_percent: done ? 100 : 0,
    created_at: at,
    started_at: done ? at : null,
    completed_at: done ? at : null,
    updated_at: at,
    project: input.project,
    environments: input.environment ? [input.environment.name] : [],
    parameters: {
      environment: input.environment?.name ?? null,
      old_commit: input.oldCommit,
      new_commit: input.newCommit,
      user: input.user ? String(input.user.id) : null,
    },
    payload: {
      commits: input.commits.map((commit) => ({
        sha: commit.sha,
        message: commit.message,
        author: commit.author,
      })),
      commits_count: input.commits.length,
      environment: input.environment,
      user: input.user
        ? { id: String(input.user.id), display_name: input.user.login, created_at: null, updated_at: null }
        : null,
    },
    log: input.log,
    text: input.text,
    github: input.github,
  };
}

const OUTCOME: Record<ActivityType, string> = {
  "environment.branch": "created",
  "environment.push": "rebuilt",
  "environment.delete": "deleted",
  "environment.deactivate": "deactivated",
  "environment.activate": "activated",
  "environment.redeploy": "redeployed",
};

/** The plain sentence of an environment activity: "octocat pushed 2 commits to main: environment main rebuilt." */
export function describeTransition(
  user: GithubUser | null,
  reason: string,
  type: ActivityType,
  environment: string,
) {
  return `${user?.login ?? "envhooks"} ${reason}: environment ${environment} ${OUTCOME[type]}.`;
}

/** The activity log: what was found and what was done, in Platform.sh's manner. */
export function transitionLog(
  type: ActivityType,
  environment: string,
  commits: Commit[],
  newCommit: string | null,
) {
  const lines: string[] = [];
  if (commits.length > 0)
    lines.push(`Found ${commits.length} new commit${commits.length === 1 ? "" : "s"}.`, "");
  const at = newCommit ? ` at ${newCommit.slice(0, 7)}` : "";
  lines.push(`Environment ${environment} ${OUTCOME[type]}${type === "environment.delete" ? "" : at}.`);
  return lines.join("\n");
}
