/** An environment as the lifecycle rules see it. */
export interface EnvironmentState {
  name: string;
  kind: "branch" | "pull_request";
  pullRequest: number | null;
  parent: string | null;
  headCommit: string | null;
  status: "active" | "inactive";
  isMain: boolean;
  /**
   * Whether the environment's newest activity (no alert) completed with success: read only when
   * `paths` could skip a rebuild, which it does only when this is true (a failed, cancelled or
   * still pending build would otherwise never be built again).
   */
  lastBuildSucceeded?: boolean;
}

export interface Commit {
  sha: string;
  message: string;
  author: { name: string; email: string | null };
}

export interface NewEnvironment extends Omit<EnvironmentState, "status"> {
  cloneParentData: boolean;
}

/**
 * One change to one environment. `reason` says what happened on GitHub, as a verb phrase whose
 * subject is the user who did it ("pushed 2 commits to main").
 */
export type Transition =
  | {
      action: "create";
      environment: NewEnvironment;
      oldCommit: string | null;
      newCommit: string | null;
      commits: Commit[];
      reason: string;
    }
  | {
      action: "rebuild";
      environment: string;
      oldCommit: string | null;
      newCommit: string | null;
      commits: Commit[];
      reason: string;
    }
  | { action: "delete"; environment: string; reason: string }
  | { action: "deactivate"; environment: string; reason: string }
  | { action: "activate"; environment: string; newCommit: string | null; reason: string }
  /** Builds the environment again at the same commit. */
  | { action: "redeploy"; environment: string; reason: string }
  /** The second event GitHub sends for a new branch: it moves the head but makes no activity. */
  | { action: "track-head"; environment: string; newCommit: string };

/**
 * Something to say or do on GitHub besides the environment's own deployment, status and comment:
 * set the pull request's envhooks comment, reply with a new comment, or remove a label.
 */
export type GithubRequest =
  | { kind: "comment"; pullRequest: number; body: string }
  | { kind: "reply"; pullRequest: number; body: string }
  | { kind: "remove-label"; pullRequest: number; label: string };

/**
 * What an event does: the transitions to apply, in order, notes on what was left alone and why,
 * and requests to GitHub.
 */
export interface Plan {
  transitions: Transition[];
  notes: string[];
  github?: GithubRequest[];
  /** Rebuilds a build gate (`paths`) left out: the head moves, no activity, a commit status says why. */
  skipped?: SkippedRebuild[];
  /** Environments the cap (`max_environments: refuse`) kept from being created or activated. */
  refused?: RefusedEnvironment[];
}

/** A rebuild skipped because no changed file is under `paths`. */
export interface SkippedRebuild {
  environment: string;
  newCommit: string | null;
  /** What the event's outcome, the dashboard and the commit status say. */
  reason: string;
}

/** An environment not created (or not activated) because the project has `max_environments` active ones. */
export interface RefusedEnvironment {
  /** The transition that was refused. */
  transition: Extract<Transition, { action: "create" | "activate" }>;
  /** The limit reached (`max_environments`). */
  limit: number;
}

/** Platform.sh's environment activity types. */
export type ActivityType =
  | "environment.branch"
  | "environment.push"
  | "environment.delete"
  | "environment.deactivate"
  | "environment.activate"
  | "environment.redeploy";

/** The activity type each transition records (track-head records none). */
export const ACTIVITY_TYPES: Record<Exclude<Transition["action"], "track-head">, ActivityType> = {
  create: "environment.branch",
  rebuild: "environment.push",
  delete: "environment.delete",
  deactivate: "environment.deactivate",
  activate: "environment.activate",
  redeploy: "environment.redeploy",
};
