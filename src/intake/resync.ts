import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { Activity } from "../activity/activity.ts";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { GithubEvent } from "../lifecycle/github-event.ts";
import { type IdentityChange, planIdentity } from "../lifecycle/plan-identity.ts";
import {
  type ListedBranch,
  type ListedPullRequest,
  planResync,
  type RepositoryListing,
} from "../lifecycle/plan-resync.ts";
import type { Plan } from "../lifecycle/transition.ts";
import type { Queryable } from "../store/database.ts";
import { listEnvironments } from "../store/environments.ts";
import {
  findProjectByKey,
  findProjectIdentity,
  lockProject,
  projectKey,
  takeRepositoryId,
  wasKeptApart,
} from "../store/projects.ts";
import { type ApplyDeps, applyPlan, INACTIVE, inTransaction, Refused } from "./apply-event.ts";
import type { RepoOptions } from "./repo-options.ts";

type Octokit = InstanceType<typeof ProbotOctokit>;

/** GitHub's largest page: https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api */
const PER_PAGE = 100;

export interface ResyncDeps {
  apply: ApplyDeps;
  options: RepoOptions;
  octokitFor(installationId: number): Promise<Octokit>;
  log: Logger;
  /** Told of GitHub's rate-limit headers on every answer, so resyncs are counted in the budget. */
  budget?: { watch(octokit: Octokit, installationId: number): void } | undefined;
}

/** What a resync found and planned, and (unless a dry run) the activities it recorded. */
export interface ResyncResult {
  project: string;
  dryRun: boolean;
  /** The requests GitHub was asked for the listing (the options aside). */
  githubRequests: number;
  branches: number;
  /** Open pull requests listed; null when the options build none (not listed). */
  pullRequests: number | null;
  plan: Array<{ action: string; environment: string; reason: string }>;
  notes: string[];
  activities: Activity[];
  /** The repository id GitHub reports for the name. */
  repositoryId: number;
  /** What changes of which project is which repository (`planIdentity`); null: GitHub agrees. */
  identity: IdentityChange | null;
  /** When the plan was made: a dry run may answer one made shortly before (`limitResync`). */
  plannedAt?: Date;
  /** True when the answer is an earlier dry run's, GitHub not asked again. */
  reused?: boolean;
}

/**
 * Resyncs a repository with GitHub: lists its branches and open pull requests (100 a page, the
 * listings the options need and no more), plans against the environments envhooks keeps
 * (`planResync`) and, unless `dryRun`, applies the plan through the same path as GitHub's events,
 * so activities, deliveries and GitHub updates follow. The plan is made again inside the
 * transaction, against the environments as they are then (an event may have changed them since).
 *
 * `installationId`: given when the App was just installed on the repository (its project may not
 * exist yet); otherwise the project's own. A deactivated project is refused unless it is given.
 */
export async function resyncRepository(
  deps: ResyncDeps,
  fullName: string,
  {
    dryRun = false,
    installationId,
    expectedRepositoryId,
  }: { dryRun?: boolean; installationId?: number; expectedRepositoryId?: number | undefined } = {},
): Promise<ResyncResult> {
  const stored = await findProjectByKey(deps.apply.db, projectKey(fullName));
  if (stored?.status === "inactive" && installationId === undefined) {
    throw new Refused(409, "project_inactive", `Project ${stored.fullName} is inactive: ${INACTIVE}`);
  }
  const installation = installationId ?? stored?.installationId ?? null;
  if (installation === null) {
    throw new Refused(
      404,
      "not_found",
      `envhooks knows no installation of the GitHub App for ${fullName}: install the App on it (that resyncs it) or wait for its first event.`,
    );
  }
  const octokit = await deps.octokitFor(installation);
  deps.budget?.watch(octokit, installation);
  const [owner = "", repo = ""] = (stored?.fullName ?? fullName).split("/");
  const { data: repository } = await octokit.request("GET /repos/{owner}/{repo}", { owner, repo });
  const ref = {
    fullName: repository.full_name,
    defaultBranch: repository.default_branch,
    installationId: installation,
    repositoryId: Number(repository.id),
  };
  // Applied as the preview showed it: refused if GitHub now names another repository.
  if (!dryRun && expectedRepositoryId !== undefined && expectedRepositoryId !== ref.repositoryId) {
    throw new Refused(
      409,
      "identity_changed",
      `GitHub now reports repository id ${ref.repositoryId} for ${repository.full_name}, not ${expectedRepositoryId} as the plan showed; nothing was changed: look at the plan again.`,
    );
  }
  const identityIn = (db: Queryable) =>
    identityOf(db, stored?.key ?? null, { id: ref.repositoryId, fullName: ref.fullName });
  const event = {
    name: "create",
    payload: { repository, sender: { id: 0, login: "envhooks" } },
  } as unknown as GithubEvent;
  // The options as an event would be applied with them (read from GitHub only if they may have changed).
  const config = await deps.options.forEvent(event, installation, octokit);
  if (!config.ok) {
    throw new Refused(
      409,
      "invalid_config",
      `.github/envhooks.yml in ${repository.full_name} is invalid, so nothing was resynced; fix it first: ${config.problems.join("; ")}`,
    );
  }
  const { listing, requests } = await listRepository(octokit, repository, config.config);
  const result = (plan: Plan, activities: Activity[], identity: IdentityChange | null): ResyncResult => ({
    project: repository.full_name,
    repositoryId: ref.repositoryId,
    identity,
    dryRun,
    githubRequests: requests,
    branches: listing.branches.length,
    pullRequests: listing.pullRequests?.length ?? null,
    plan: plan.transitions.flatMap((t) =>
      t.action === "track-head"
        ? []
        : [
            {
              action: t.action,
              environment: typeof t.environment === "string" ? t.environment : t.environment.name,
              reason: t.reason,
            },
          ],
    ),
    notes: plan.notes,
    activities,
  });

  if (dryRun) {
    const current = stored ? await listEnvironments(deps.apply.db, stored.id) : [];
    return result(planResync(listing, config.config, current), [], await identityIn(deps.apply.db));
  }
  const now = deps.apply.now ?? (() => new Date());
  const { plan, activities, identity } = await inTransaction(deps.apply, async (tx, wakes) => {
    // The identity change as the dry run computes it, then applied as it says: the project takes
    // GitHub's id (from another that had it), and follows GitHub's name (GitHub's answer is the
    // truth here, as a repository.renamed event would be).
    const change = await identityIn(tx);
    if (change?.kind === "identity" && stored) await takeRepositoryId(tx, stored.key, ref.repositoryId);
    const project = await lockProject(tx, ref, { renamed: true });
    const planned = planResync(listing, config.config, await listEnvironments(tx, project.id));
    const context = { user: null, at: now(), source: null, config: config.config, deliveryId: null };
    return {
      plan: planned,
      // What max_environments kept out is in the plan's notes; a resync records no failed activity
      // (and no commit status or comment) for each of them, as an event would.
      activities: await applyPlan(tx, deps.apply, project, { ...planned, refused: [] }, context, wakes),
      identity: change,
    };
  });
  if (identity) deps.log.warn({ project: repository.full_name, identity }, identity.description);
  deps.log.info(
    { project: repository.full_name, changes: activities.length, githubRequests: requests },
    "resynced with GitHub",
  );
  return result(plan, activities, identity);
}

/** The identity change a resync of `askedKey` makes, given GitHub's answer (`planIdentity`). */
async function identityOf(
  db: Queryable,
  askedKey: string | null,
  github: { id: number; fullName: string },
): Promise<IdentityChange | null> {
  // Kept apart from the repository's project (`lockProject`): a move onto it merges it.
  const known = async (where: { key: string }) => {
    const found = await findProjectIdentity(db, where);
    return found && { ...found, keptApart: await wasKeptApart(db, where.key, github.id) };
  };
  const asked = askedKey === null ? undefined : await known({ key: askedKey });
  const holder = await findProjectIdentity(db, { repositoryId: github.id });
  const atNewName =
    projectKey(github.fullName) === askedKey ? undefined : await known({ key: projectKey(github.fullName) });
  return planIdentity(asked ?? null, holder ?? null, atNewName ?? null, github);
}

/**
 * The branches and open pull requests the options need, in as few requests as GitHub allows: all
 * branches only when `fetch_branches` or `prune_branches` needs them (else the default branch
 * alone), pull requests only when `build_pull_requests`.
 */
async function listRepository(
  octokit: Octokit,
  repository: { full_name: string; default_branch: string; name: string; owner: { login: string } },
  options: RepoConfig,
): Promise<{ listing: RepositoryListing; requests: number }> {
  let requests = 1; // GET /repos/{owner}/{repo}
  const target = { owner: repository.owner.login, repo: repository.name };
  const allBranches = options.fetch_branches || options.prune_branches;
  const branches: ListedBranch[] = [];
  if (allBranches) {
    const pages = octokit.paginate.iterator("GET /repos/{owner}/{repo}/branches", {
      ...target,
      per_page: PER_PAGE,
    });
    for await (const page of pages) {
      requests++;
      for (const branch of page.data) branches.push({ name: branch.name, sha: branch.commit.sha });
    }
  } else {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/branches/{branch}", {
      ...target,
      branch: repository.default_branch,
    });
    requests++;
    branches.push({ name: data.name, sha: data.commit.sha });
  }
  let pullRequests: ListedPullRequest[] | null = null;
  if (options.build_pull_requests) {
    pullRequests = [];
    const pages = octokit.paginate.iterator("GET /repos/{owner}/{repo}/pulls", {
      ...target,
      state: "open",
      per_page: PER_PAGE,
    });
    for await (const page of pages) {
      requests++;
      pullRequests.push(...(page.data as unknown as ListedPullRequest[]));
    }
  }
  return {
    listing: {
      fullName: repository.full_name,
      defaultBranch: repository.default_branch,
      branches,
      allBranches,
      pullRequests,
    },
    requests,
  };
}

/**
 * Resyncs repositories the App was just given, one at a time in the background (the installation
 * event is answered at once). A failure is logged; `envhooks resync` runs it again by hand.
 */
export function createResyncQueue(deps: ResyncDeps) {
  let tail: Promise<unknown> = Promise.resolve();
  return function resyncLater(installationId: number, repositories: Array<{ full_name: string }>): void {
    for (const { full_name } of repositories) {
      tail = tail.then(() =>
        resyncRepository(deps, full_name, { installationId }).catch((error: unknown) => {
          deps.log.warn(
            { err: error, project: full_name, installation: installationId },
            "resync after installation failed; run `envhooks resync` to try again",
          );
        }),
      );
    }
  };
}
