import { APPROVE_LABEL, type RepoConfig } from "../config/repo-config.schema.ts";
import { storableText } from "./github-event.schema.ts";
import {
  type GithubEvent,
  type IssueCommentPayload,
  isEnvhooksCommand,
  type PullRequestPayload,
  type PushCommit,
  type PushPayload,
  type RefPayload,
} from "./github-event.ts";
import { type ChangedFiles, whySkipByPaths } from "./match-paths.ts";
import type { Commit, EnvironmentState, Plan, SkippedRebuild, Transition } from "./transition.ts";

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
      return skipByPaths(planPush(event.payload, options, byName), options, event.changed, byName);
    case "create":
      return planCreate(event.payload, options, byName);
    case "delete":
      return planDelete(event.payload, options, byName);
    case "pull_request":
      return skipByPaths(
        planPullRequest(event.payload, options, byName, event.commits),
        options,
        event.changed,
        byName,
      );
    case "issue_comment":
      return planComment(event.payload, event.canWrite, byName);
  }
}

type Environments = ReadonlyMap<string, EnvironmentState>;

/**
 * `paths` / `paths_ignore`: the plan's rebuilds, when no changed file is relevant, become skipped
 * rebuilds. Creating, activating and deleting environments are never skipped, nor is a rebuild
 * whose changed files are not known for sure (`whySkipByPaths`), nor one of an environment that is
 * not as built from where the change started: its head is not the rebuild's old commit (an earlier
 * change never reached it), or its newest activity did not succeed (failed, cancelled, or still
 * pending or waiting for checks), so an earlier relevant change may never have been built.
 */
function skipByPaths(
  plan: Plan,
  options: RepoConfig,
  changed: ChangedFiles | undefined,
  environments: Environments,
): Plan {
  const why = whySkipByPaths(options, changed);
  if (!why || !plan.transitions.some((transition) => transition.action === "rebuild")) return plan;
  const skipped: SkippedRebuild[] = [];
  const transitions: Transition[] = [];
  const notes: string[] = [];
  for (const transition of plan.transitions) {
    if (transition.action !== "rebuild") {
      transitions.push(transition);
      continue;
    }
    const doubt = whyNotAsBuilt(environments.get(transition.environment), transition.oldCommit);
    if (doubt) {
      transitions.push(transition);
      notes.push(
        `environment ${transition.environment}: built although no changed file is under paths: ${doubt}`,
      );
    } else {
      skipped.push({ environment: transition.environment, newCommit: transition.newCommit, reason: why });
      notes.push(`environment ${transition.environment}: ${why}`);
    }
  }
  return skipped.length > 0
    ? { ...plan, transitions, skipped, notes: [...plan.notes, ...notes] }
    : { ...plan, notes: [...plan.notes, ...notes] };
}

/** Why an environment may not be as built from `oldCommit` (a paths skip would then lose a build). */
function whyNotAsBuilt(
  environment: EnvironmentState | undefined,
  oldCommit: string | null,
): string | undefined {
  if (!environment) return "the environment is not known";
  if (environment.headCommit === null || environment.headCommit !== oldCommit) {
    return `its head ${environment.headCommit?.slice(0, 7) ?? "(none)"} is not where the change started`;
  }
  if (environment.lastBuildSucceeded !== true) return "its last build did not succeed";
  return undefined;
}

/**
 * Which of a project's environments `planTransitions` looks at for this event: those named, and
 * for a push the pull requests based on the pushed branch. Given just these, it plans the same as
 * given all of them.
 */
export function concernedEnvironments(event: GithubEvent): { names: string[]; basedOn: string | null } {
  switch (event.name) {
    case "push": {
      if (!event.payload.ref.startsWith(BRANCH_PREFIX)) return { names: [], basedOn: null };
      const name = branchEnvironmentName(event.payload.ref.slice(BRANCH_PREFIX.length));
      return { names: [name], basedOn: name };
    }
    case "create":
    case "delete":
      return { names: [branchEnvironmentName(event.payload.ref)], basedOn: null };
    case "pull_request":
      return { names: [pullRequestEnvironment(event.payload.pull_request.number)], basedOn: null };
    case "issue_comment":
      return { names: [pullRequestEnvironment(event.payload.issue.number)], basedOn: null };
  }
}

/** A pull request's environment: `pr-<N>`. */
export function pullRequestEnvironment(number: number): string {
  return `pr-${number}`;
}

/** Branch names a pull request's environment could have (any case: GitHub's environments ignore it). */
const CLASHING_BRANCH = /^pr-\d+$/i;

/**
 * A branch's environment: the branch name, except for a branch named like a pull request's
 * environment (`pr-6`), whose environment is `branch:pr-6`. Git refuses `:` in ref names, so no
 * branch is named `branch:pr-6` and no two branches (nor a branch and a pull request) share one.
 */
export function branchEnvironmentName(branch: string): string {
  return CLASHING_BRANCH.test(branch) ? `branch:${branch}` : branch;
}

/** The branch's environment, never a pull request's. */
function branchEnvironmentOf(environments: Environments, branch: string): EnvironmentState | undefined {
  const environment = environments.get(branchEnvironmentName(branch));
  return environment?.kind === "branch" ? environment : undefined;
}

/** The pull request's environment, never a branch's. */
function pullRequestEnvironmentOf(environments: Environments, number: number): EnvironmentState | undefined {
  const environment = environments.get(pullRequestEnvironment(number));
  return environment?.kind === "pull_request" && environment.pullRequest === number ? environment : undefined;
}

function planPush(payload: PushPayload, options: RepoConfig, environments: Environments): Plan {
  if (!payload.ref.startsWith(BRANCH_PREFIX)) {
    return ignore(`${payload.ref} is not a branch: tags and other refs have no environment`);
  }
  const branch = payload.ref.slice(BRANCH_PREFIX.length);
  if (payload.deleted)
    return planBranchDeleted(branch, payload.repository.default_branch, options, environments);

  const plan: Plan = { transitions: [], notes: [] };
  const name = branchEnvironmentName(branch);
  const existing = branchEnvironmentOf(environments, branch);
  const commits = payload.commits.map(toCommit);
  const pushed = `pushed ${count(commits.length, "commit")} to ${branch}`;
  if (existing && payload.created) {
    // The `create` event for this branch came first and made the environment already.
    plan.transitions.push({ action: "track-head", environment: name, newCommit: payload.after });
  } else if (existing?.status === "inactive") {
    // Deactivated (stale_after, the cap, or by hand): a push brings it back.
    plan.transitions.push({
      action: "activate",
      environment: name,
      newCommit: payload.after,
      reason: pushed,
    });
  } else if (existing) {
    plan.transitions.push({
      action: "rebuild",
      environment: name,
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
      if (environment.kind !== "pull_request" || environment.parent !== name) continue;
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
  if (branchEnvironmentOf(environments, branch)) {
    const name = branchEnvironmentName(branch);
    return ignore(`environment ${name} exists already (the push for the new branch came first)`);
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
  const existing = branchEnvironmentOf(environments, branch);
  if (!existing) return ignore(`branch ${branch} was deleted and has no environment`);
  if (branch === defaultBranch || existing.isMain) {
    return ignore(`${branch} is the default branch: its environment is never deleted`);
  }
  if (!options.prune_branches) return ignore(`branch ${branch} was deleted but prune_branches is false`);
  return {
    transitions: [{ action: "delete", environment: existing.name, reason: `deleted branch ${branch}` }],
    notes: [],
  };
}

function planPullRequest(
  payload: PullRequestPayload,
  options: RepoConfig,
  environments: Environments,
  /** The commits a `synchronize` brought, when they are known. */
  commits: PushCommit[] = [],
): Plan {
  const pr = payload.pull_request;
  const name = pullRequestEnvironment(pr.number);
  const existing = pullRequestEnvironmentOf(environments, pr.number);
  const subject = `pull request #${pr.number}`;
  if (!existing && environments.has(name)) {
    // Only an environment named before branches like `pr-6` got `branch:pr-6` (see docs/github.md, "Deploy runners").
    return ignore(`environment ${name} belongs to a branch: ${subject} gets none while it exists`);
  }

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
    case "labeled":
    case "unlabeled": {
      const label = payload.label?.name;
      const relevant = [options.pull_requests_require_label, options.pull_requests_skip_label];
      if (isFork(payload) && options.build_forks === "approve") relevant.push(APPROVE_LABEL);
      if (label === undefined || !relevant.includes(label)) {
        return ignore(`the label ${label ?? "(none)"} does not change environments`);
      }
      if (label === APPROVE_LABEL && payload.action === "unlabeled") {
        return ignore(
          `${subject}: approval withdrawn; its environment stays until it is approved again or closed`,
        );
      }
      break;
    }
    case "opened":
    case "reopened":
    case "ready_for_review":
    case "synchronize":
      break;
    default:
      return ignore(`pull_request.${payload.action} does not change environments`);
  }

  const reason = describePullRequestAction(payload, subject);
  const refusal = whyNotBuilt(payload, options, existing?.headCommit ?? undefined);
  if (refusal) {
    // A label that opts the pull request out takes its environment away.
    if (existing && refusal.byLabel && payload.label) {
      return { transitions: [{ action: "delete", environment: name, reason }], notes: [] };
    }
    const plan = ignore(`${subject}: ${refusal.reason}`);
    if (refusal.awaitingApproval) {
      plan.github = [
        { kind: "comment", pullRequest: pr.number, body: awaitingApprovalComment(payload, existing) },
      ];
      if (refusal.reapprove && hasLabel(payload, APPROVE_LABEL)) {
        plan.github.push({ kind: "remove-label", pullRequest: pr.number, label: APPROVE_LABEL });
      }
    }
    return plan;
  }

  if (!existing) {
    return {
      transitions: [createPullRequestEnvironment(pr, options, reason)],
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
      commits: payload.action === "synchronize" ? commits.map(toCommit) : [],
      reason,
    };
    return { transitions: [transition], notes: [] };
  }
  return ignore(`${subject} is unchanged: environment ${name} is up to date`);
}

function describePullRequestAction(payload: PullRequestPayload, subject: string): string {
  switch (payload.action) {
    case "synchronize":
      return `pushed to ${subject}`;
    case "ready_for_review":
      return `marked ${subject} ready for review`;
    case "labeled":
      return payload.label?.name === APPROVE_LABEL
        ? `approved ${subject} from the fork ${payload.pull_request.head.repo?.full_name ?? "(deleted)"}`
        : `added the label ${payload.label?.name} to ${subject}`;
    case "unlabeled":
      return `removed the label ${payload.label?.name} from ${subject}`;
    default:
      return `${payload.action} ${subject}`;
  }
}

export interface Refusal {
  reason: string;
  /** The refusal comes from an opt-in or opt-out label. */
  byLabel?: boolean;
  /** A fork's pull request waits for a maintainer's `envhooks:approve` label. */
  awaitingApproval?: boolean;
  /** Its head is not the commit approved (`fork_reapprove`): the label it carries is taken off. */
  reapprove?: boolean;
}

/** `fork_reapprove`, unset: on with `runner: github-actions` (the workflow gets the repository's secrets). */
export function forkReapprove(options: RepoConfig): boolean {
  return options.fork_reapprove ?? options.runner === "github-actions";
}

/**
 * Why a pull request gets no environment (now), or undefined when it should have one.
 * `builtCommit`: the commit its environment was last built at (with `fork_reapprove`, the one a
 * maintainer approved last); a fork's other head is built only at the approval itself.
 */
export function whyNotBuilt(
  payload: PullRequestPayload,
  options: RepoConfig,
  builtCommit?: string,
): Refusal | undefined {
  const pr = payload.pull_request;
  if (!options.build_pull_requests) return { reason: "build_pull_requests is false" };
  if (pr.draft && !options.build_draft_pull_requests)
    return { reason: "it is a draft and build_draft_pull_requests is false" };
  const required = options.pull_requests_require_label;
  if (required !== undefined && !hasLabel(payload, required)) {
    return { reason: `it does not carry the label ${required} (pull_requests_require_label)`, byLabel: true };
  }
  const skip = options.pull_requests_skip_label;
  if (skip !== undefined && hasLabel(payload, skip)) {
    return { reason: `it carries the label ${skip} (pull_requests_skip_label)`, byLabel: true };
  }
  if (!isFork(payload)) return undefined;
  const fork = pr.head.repo?.full_name ?? "(deleted)";
  if (options.build_forks === false)
    return { reason: `its head is in the fork ${fork} and build_forks is false` };
  if (options.build_forks === "approve") {
    if (!hasLabel(payload, APPROVE_LABEL)) {
      return {
        reason: `its head is in the fork ${fork}: a maintainer must add the label ${APPROVE_LABEL}`,
        awaitingApproval: true,
      };
    }
    // Until the label is taken off (a task that runs later), reopened, ready_for_review or another
    // label's event still carries it: only the approval's own event builds a commit not built yet.
    const approval = payload.action === "labeled" && payload.label?.name === APPROVE_LABEL;
    if (forkReapprove(options) && !approval && pr.head.sha !== builtCommit) {
      const reason =
        payload.action === "synchronize"
          ? `new commits from the fork ${fork} need approving again (fork_reapprove)`
          : `its head ${pr.head.sha.slice(0, 7)} is not the commit a maintainer approved (fork_reapprove)`;
      return {
        reason: `${reason}: a maintainer must add the label ${APPROVE_LABEL}`,
        awaitingApproval: true,
        reapprove: true,
      };
    }
  }
  return undefined;
}

function isFork(payload: PullRequestPayload): boolean {
  const headRepo = payload.pull_request.head.repo?.full_name;
  return (
    headRepo === undefined ||
    headRepo.toLowerCase() !== payload.pull_request.base.repo.full_name.toLowerCase()
  );
}

function hasLabel(payload: PullRequestPayload, label: string): boolean {
  return (payload.pull_request.labels ?? []).some((each) => each.name === label);
}

function awaitingApprovalComment(
  payload: PullRequestPayload,
  existing: EnvironmentState | undefined,
): string {
  const sha = payload.pull_request.head.sha.slice(0, 7);
  const lines = [
    `**envhooks** · waiting for approval`,
    "",
    `This pull request comes from the fork ${payload.pull_request.head.repo?.full_name ?? "(deleted)"}. ` +
      `A maintainer must add the label \`${APPROVE_LABEL}\` before envhooks builds ${sha}.`,
  ];
  if (existing)
    lines.push(
      "",
      `Environment \`${existing.name}\` stays at ${existing.headCommit?.slice(0, 7) ?? "its last approved commit"} until then.`,
    );
  return lines.join("\n");
}

/** `/envhooks redeploy` on a pull request, by someone with write access, redeploys its environment. */
function planComment(payload: IssueCommentPayload, canWrite: boolean, environments: Environments): Plan {
  if (!isEnvhooksCommand(payload)) return ignore("the comment is not an envhooks command");
  const number = payload.issue.number;
  const name = pullRequestEnvironment(number);
  const author = payload.comment.user.login;
  const reply = (body: string): Plan => ({
    transitions: [],
    notes: [body],
    github: [{ kind: "reply", pullRequest: number, body: `@${author} ${body}` }],
  });
  if (!canWrite) {
    return reply("only people with write access to this repository can redeploy its environments.");
  }
  const existing = pullRequestEnvironmentOf(environments, number);
  if (!existing) return reply(`pull request #${number} has no environment to redeploy.`);
  if (existing.status !== "active") return reply(`environment ${name} is inactive: it is not redeployed.`);
  return {
    transitions: [
      { action: "redeploy", environment: name, reason: `asked to redeploy pull request #${number}` },
    ],
    notes: [],
  };
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
      name: branchEnvironmentName(branch),
      kind: "branch",
      pullRequest: null,
      parent: isMain ? null : branchEnvironmentName(defaultBranch),
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
    // Checked at intake for pushes; a synchronize's commits come from GitHub's API unchecked.
    message: storableText(commit.message),
    author: {
      name: storableText(commit.author.name),
      email: commit.author.email == null ? null : storableText(commit.author.email),
    },
  };
}

function ignore(note: string): Plan {
  return { transitions: [], notes: [note] };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** The transition that creates a pull request's environment, branched from its base branch's. */
export function createPullRequestEnvironment(
  pr: Pick<PullRequestPayload["pull_request"], "number" | "base" | "head">,
  options: Pick<RepoConfig, "pull_requests_clone_parent_data">,
  reason: string,
): Transition {
  return {
    action: "create",
    environment: {
      name: pullRequestEnvironment(pr.number),
      kind: "pull_request",
      pullRequest: pr.number,
      parent: branchEnvironmentName(pr.base.ref),
      headCommit: pr.head.sha,
      isMain: false,
      cloneParentData: options.pull_requests_clone_parent_data,
    },
    oldCommit: null,
    newCommit: pr.head.sha,
    commits: [],
    reason,
  };
}
