import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { GithubEvent, PullRequestPayload, PushPayload, RefPayload } from "./github-event.ts";
import type { Commit, EnvironmentState, Plan, Transition } from "./transition.ts";

const BRANCH_PREFIX = "refs/heads/";

/**
 * The lifecycle rules: what a GitHub event does to a project's environments, given the repository's
 * options and the environments it has now. Pure: no I/O, same answer for the same input.
 * Mirrors Platform.sh's GitHub integration: branches and pull requests create, rebuild and delete
 * environments.
 */
export function planTransitions(
  event: GithubEvent,
  options: RepoConfig,
  environments: readonly EnvironmentState[],
): Plan {
  const byName = new Map(environments.map((environment) => [environment.name, environment]));
  switch (event.name) {
    case "push":
      return planPush(event.payload, options, byName);
    case "create":
      return planCreate(event.payload, options, byName);
    case "delete":
      return planDelete(event.payload, options, byName);
    case "pull_request":
      return planPullRequest(event.payload, options, byName);
  }
}

type Environments = ReadonlyMap<string, EnvironmentState>;

/**
 * Which of a project's environments `planTransitions` looks at for this event: those named, and
 * for a push the pull requests based on the pushed branch. Given just these, it plans the same as
 * given all of them.
 */
export function concernedEnvironments(event: GithubEvent): { names: string[]; basedOn: string | null } {
  switch (event.name) {
    case "push": {
      if (!event.payload.ref.startsWith(BRANCH_PREFIX)) return { names: [], basedOn: null };
      const branch = event.payload.ref.slice(BRANCH_PREFIX.length);
      return { names: [branch], basedOn: branch };
    }
    case "create":
    case "delete":
      return { names: [event.payload.ref], basedOn: null };
    case "pull_request":
      return { names: [pullRequestEnvironment(event.payload.pull_request.number)], basedOn: null };
  }
}

function pullRequestEnvironment(number: number): string {
  return `pr-${number}`;
}

function planPush(payload: PushPayload, options: RepoConfig, environments: Environments): Plan {
  if (!payload.ref.startsWith(BRANCH_PREFIX)) {
    return ignore(`${payload.ref} is not a branch: tags and other refs have no environment`);
  }
  const branch = payload.ref.slice(BRANCH_PREFIX.length);
  if (payload.deleted)
    return planBranchDeleted(branch, payload.repository.default_branch, options, environments);

  const plan: Plan = { transitions: [], notes: [] };
  const existing = environments.get(branch);
  const commits = payload.commits.map(toCommit);
  const pushed = `pushed ${count(commits.length, "commit")} to ${branch}`;
  if (existing && payload.created) {
    // The `create` event for this branch came first and made the environment already.
    plan.transitions.push({ action: "track-head", environment: branch, newCommit: payload.after });
  } else if (existing) {
    plan.transitions.push({
      action: "rebuild",
      environment: branch,
      oldCommit: payload.before,
      newCommit: payload.after,
      commits,
      reason: pushed,
    });
  } else if (branch === payload.repository.default_branch || options.fetch_branches) {
    plan.transitions.push(
      branchEnvironment(branch, payload.repository.default_branch, payload.after, commits, {
        reason: payload.created ? `created branch ${branch}` : pushed,
        oldCommit: payload.created ? null : payload.before,
      }),
    );
  } else {
    plan.notes.push(`branch ${branch} has no environment and fetch_branches is false`);
  }

  if (options.build_pull_requests_post_merge && !payload.created) {
    for (const environment of environments.values()) {
      if (environment.kind !== "pull_request" || environment.parent !== branch) continue;
      if (environment.status !== "active") continue;
      plan.transitions.push({
        action: "rebuild",
        environment: environment.name,
        oldCommit: environment.headCommit,
        newCommit: environment.headCommit,
        commits: [],
        reason: `${pushed}, the base of pull request #${environment.pullRequest}`,
      });
    }
  }
  return plan;
}

function planCreate(payload: RefPayload, options: RepoConfig, environments: Environments): Plan {
  if (payload.ref_type !== "branch") return ignore(`${payload.ref_type} ${payload.ref} has no environment`);
  const branch = payload.ref;
  if (environments.has(branch)) {
    return ignore(`environment ${branch} exists already (the push for the new branch came first)`);
  }
  const defaultBranch = payload.repository.default_branch;
  if (branch !== defaultBranch && !options.fetch_branches) {
    return ignore(`branch ${branch} was created but fetch_branches is false`);
  }
  // GitHub's create event carries no commit: the push sent alongside it moves the head.
  return {
    transitions: [branchEnvironment(branch, defaultBranch, null, [], { reason: `created branch ${branch}` })],
    notes: [],
  };
}

function planDelete(payload: RefPayload, options: RepoConfig, environments: Environments): Plan {
  if (payload.ref_type !== "branch") return ignore(`${payload.ref_type} ${payload.ref} has no environment`);
  return planBranchDeleted(payload.ref, payload.repository.default_branch, options, environments);
}

function planBranchDeleted(
  branch: string,
  defaultBranch: string,
  options: RepoConfig,
  environments: Environments,
): Plan {
  const existing = environments.get(branch);
  if (!existing) return ignore(`branch ${branch} was deleted and has no environment`);
  if (branch === defaultBranch || existing.isMain) {
    return ignore(`${branch} is the default branch: its environment is never deleted`);
  }
  if (!options.prune_branches) return ignore(`branch ${branch} was deleted but prune_branches is false`);
  return {
    transitions: [{ action: "delete", environment: branch, reason: `deleted branch ${branch}` }],
    notes: [],
  };
}

function planPullRequest(payload: PullRequestPayload, options: RepoConfig, environments: Environments): Plan {
  const pr = payload.pull_request;
  const name = pullRequestEnvironment(pr.number);
  const existing = environments.get(name);
  const subject = `pull request #${pr.number}`;

  switch (payload.action) {
    case "closed": {
      if (!existing) return ignore(`${subject} was closed and has no environment`);
      const verb = pr.merged ? "merged" : "closed";
      return {
        transitions: [{ action: "delete", environment: name, reason: `${verb} ${subject}` }],
        notes: [],
      };
    }
    case "converted_to_draft": {
      if (existing?.status !== "active") return ignore(`${subject} has no active environment`);
      if (options.build_draft_pull_requests) {
        return ignore(`${subject} became a draft; build_draft_pull_requests keeps its environment`);
      }
      return {
        transitions: [{ action: "deactivate", environment: name, reason: `converted ${subject} to draft` }],
        notes: [],
      };
    }
    case "opened":
    case "reopened":
    case "ready_for_review":
    case "synchronize":
      break;
    default:
      return ignore(`pull_request.${payload.action} does not change environments`);
  }

  const refusal = whyNotBuilt(payload, options);
  if (refusal) return ignore(`${subject}: ${refusal}`);

  const reason =
    payload.action === "synchronize"
      ? `pushed to ${subject}`
      : payload.action === "ready_for_review"
        ? `marked ${subject} ready for review`
        : `${payload.action} ${subject}`;

  if (!existing) {
    return {
      transitions: [
        {
          action: "create",
          environment: {
            name,
            kind: "pull_request",
            pullRequest: pr.number,
            parent: pr.base.ref,
            headCommit: pr.head.sha,
            isMain: false,
            cloneParentData: options.pull_requests_clone_parent_data,
          },
          oldCommit: null,
          newCommit: pr.head.sha,
          commits: [],
          reason,
        },
      ],
      notes: [],
    };
  }
  if (existing.status === "inactive") {
    return {
      transitions: [{ action: "activate", environment: name, newCommit: pr.head.sha, reason }],
      notes: [],
    };
  }
  if (payload.action === "synchronize" || existing.headCommit !== pr.head.sha) {
    const transition: Transition = {
      action: "rebuild",
      environment: name,
      oldCommit: payload.before ?? existing.headCommit,
      newCommit: payload.after ?? pr.head.sha,
      commits: [],
      reason,
    };
    return { transitions: [transition], notes: [] };
  }
  return ignore(`${subject} is unchanged: environment ${name} is up to date`);
}

/** Why a pull request gets no environment, or undefined when it should have one. */
function whyNotBuilt(payload: PullRequestPayload, options: RepoConfig): string | undefined {
  const pr = payload.pull_request;
  if (!options.build_pull_requests) return "build_pull_requests is false";
  if (pr.draft && !options.build_draft_pull_requests)
    return "it is a draft and build_draft_pull_requests is false";
  const headRepo = pr.head.repo?.full_name;
  const isFork = headRepo === undefined || headRepo.toLowerCase() !== pr.base.repo.full_name.toLowerCase();
  if (isFork && !options.build_forks) {
    return `its head is in the fork ${headRepo ?? "(deleted)"} and build_forks is false`;
  }
  return undefined;
}

function branchEnvironment(
  branch: string,
  defaultBranch: string,
  head: string | null,
  commits: Commit[],
  { reason, oldCommit = null }: { reason: string; oldCommit?: string | null },
): Transition {
  const isMain = branch === defaultBranch;
  return {
    action: "create",
    environment: {
      name: branch,
      kind: "branch",
      pullRequest: null,
      parent: isMain ? null : defaultBranch,
      headCommit: head,
      isMain,
      cloneParentData: false,
    },
    oldCommit,
    newCommit: head,
    commits,
    reason,
  };
}

function toCommit(commit: PushPayload["commits"][number]): Commit {
  return {
    sha: commit.id,
    message: commit.message,
    author: { name: commit.author.name, email: commit.author.email ?? null },
  };
}

function ignore(note: string): Plan {
  return { transitions: [], notes: [note] };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
