import type { RepoConfig } from "../config/repo-config.schema.ts";
import { capEnvironments } from "./cap-environments.ts";
import type { PullRequestPayload } from "./github-event.ts";
import {
  branchEnvironmentName,
  createPullRequestEnvironment,
  pullRequestEnvironment,
  whyNotBuilt,
} from "./plan-transitions.ts";
import type { EnvironmentState, Plan, Transition } from "./transition.ts";

/** A branch as GitHub lists it: https://docs.github.com/en/rest/branches/branches#list-branches */
export interface ListedBranch {
  name: string;
  sha: string;
}

/** An open pull request as GitHub lists it: https://docs.github.com/en/rest/pulls/pulls#list-pull-requests */
export type ListedPullRequest = PullRequestPayload["pull_request"];

/** What a resync found on GitHub. */
export interface RepositoryListing {
  fullName: string;
  defaultBranch: string;
  /** Every branch; or only the default branch when the options need no other (`complete` false). */
  branches: ListedBranch[];
  /** Whether `branches` is every branch of the repository (a branch missing from it is gone). */
  allBranches: boolean;
  /** Every open pull request; null when the options need none listed (`build_pull_requests` false). */
  pullRequests: ListedPullRequest[] | null;
}

/**
 * A resync: what GitHub has now against the environments envhooks keeps, as Platform.sh's resync
 * does it. Branches get the environments their events would have given them (the default branch
 * always; the others with `fetch_branches`), and environments of branches that are gone are deleted
 * with `prune_branches`; open pull requests that the options build get theirs, and the environments
 * of pull requests no longer open (or that the options no longer build) are deleted. An environment
 * whose head is behind GitHub's is rebuilt. With `max_environments`, the cap holds as it does for
 * events (`capEnvironments`). Pure: the same answer for the same input.
 */
export function planResync(
  listing: RepositoryListing,
  options: RepoConfig,
  /** With `updatedAt` (as stored), `on_environment_limit: deactivate_oldest` knows which is oldest. */
  environments: readonly (EnvironmentState & { updatedAt?: Date | string })[],
): Plan {
  const plan: Plan = { transitions: [], notes: [] };
  const byName = new Map(environments.map((environment) => [environment.name, environment]));
  const branches = new Map(listing.branches.map((branch) => [branch.name, branch]));
  const defaultName = branchEnvironmentName(listing.defaultBranch);

  // Branches first: pull requests' environments name them as their parents.
  for (const branch of listing.branches) {
    const name = branchEnvironmentName(branch.name);
    const existing = byName.get(name);
    const isMain = branch.name === listing.defaultBranch;
    if (existing && existing.kind !== "branch") continue;
    if (!existing) {
      if (!isMain && !options.fetch_branches) continue;
      plan.transitions.push({
        action: "create",
        environment: {
          name,
          kind: "branch",
          pullRequest: null,
          parent: isMain ? null : defaultName,
          headCommit: branch.sha,
          isMain,
          cloneParentData: false,
        },
        oldCommit: null,
        newCommit: branch.sha,
        commits: [],
        reason: `found branch ${branch.name} on GitHub (resync)`,
      });
    } else if (existing.status === "active" && existing.headCommit !== branch.sha) {
      plan.transitions.push(
        rebuild(existing, branch.sha, `found branch ${branch.name} at a newer commit (resync)`),
      );
    }
  }

  const open = new Map((listing.pullRequests ?? []).map((pr) => [pr.number, pr]));
  for (const pr of listing.pullRequests ?? []) {
    const name = pullRequestEnvironment(pr.number);
    const existing = byName.get(name);
    if (existing && existing.kind !== "pull_request") {
      plan.notes.push(
        `environment ${name} belongs to a branch: pull request #${pr.number} gets none while it exists`,
      );
      continue;
    }
    const refusal = whyNotBuilt(asPayload(pr, listing), options, existing?.headCommit ?? undefined);
    if (refusal) {
      // A label or option that opts it out takes its environment away, as the label event would;
      // a draft or a fork awaiting approval keeps the one it has.
      if (existing && (refusal.byLabel || !options.build_pull_requests)) {
        plan.transitions.push({
          action: "delete",
          environment: name,
          reason: `found pull request #${pr.number} no longer built: ${refusal.reason} (resync)`,
        });
      } else if (!existing) {
        plan.notes.push(`pull request #${pr.number}: ${refusal.reason}`);
      }
      continue;
    }
    if (!existing) {
      plan.transitions.push(
        createPullRequestEnvironment(pr, options, `found pull request #${pr.number} open on GitHub (resync)`),
      );
    } else if (existing.status === "active" && existing.headCommit !== pr.head.sha) {
      plan.transitions.push(
        rebuild(existing, pr.head.sha, `found pull request #${pr.number} at a newer commit (resync)`),
      );
    }
  }

  // Then what GitHub no longer has.
  for (const environment of environments) {
    if (environment.isMain) continue;
    if (environment.kind === "branch") {
      const branch = environment.name.replace(/^branch:/, "");
      if (!listing.allBranches || branches.has(branch)) continue;
      if (!options.prune_branches) {
        plan.notes.push(
          `branch ${branch} is gone from GitHub; prune_branches is false, its environment stays`,
        );
        continue;
      }
      plan.transitions.push({
        action: "delete",
        environment: environment.name,
        reason: `found branch ${branch} gone from GitHub (resync)`,
      });
    } else if (environment.pullRequest !== null && !open.has(environment.pullRequest)) {
      const why = listing.pullRequests === null ? "build_pull_requests is false" : "not open on GitHub";
      plan.transitions.push({
        action: "delete",
        environment: environment.name,
        reason: `found pull request #${environment.pullRequest} ${why} (resync)`,
      });
    }
  }
  if (plan.transitions.length === 0) plan.notes.push("every environment matches GitHub");
  return capResync(plan, options, environments);
}

/**
 * `max_environments`: environments GitHub no longer has go first and make room; then the new ones
 * are created while there is room, and refused (or make room by deactivating the oldest) after.
 */
function capResync(
  plan: Plan,
  options: RepoConfig,
  environments: readonly (EnvironmentState & { updatedAt?: Date | string })[],
): Plan {
  if (options.max_environments === undefined) return plan;
  const gone = plan.transitions.filter((t) => t.action === "delete");
  const rest = plan.transitions.filter((t) => t.action !== "delete");
  const active = environments
    .filter((environment) => environment.status === "active" && !environment.isMain)
    .map((environment) => ({
      name: environment.name,
      kind: environment.kind,
      pullRequest: environment.pullRequest,
      updatedAt: new Date(environment.updatedAt ?? 0),
    }));
  return capEnvironments({ ...plan, transitions: [...gone, ...rest] }, options, active);
}

function rebuild(existing: EnvironmentState, sha: string, reason: string): Transition {
  return {
    action: "rebuild",
    environment: existing.name,
    oldCommit: existing.headCommit,
    newCommit: sha,
    commits: [],
    reason,
  };
}

/** A listed pull request in the shape the lifecycle rules read (as if it had just been opened). */
function asPayload(pr: ListedPullRequest, listing: RepositoryListing): PullRequestPayload {
  return {
    action: "opened",
    number: pr.number,
    pull_request: pr,
    repository: { full_name: listing.fullName, default_branch: listing.defaultBranch },
    sender: { id: 0, login: "envhooks" },
  };
}
