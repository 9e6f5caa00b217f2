import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { GithubEvent, PushCommit, PushPayload } from "../lifecycle/github-event.ts";
import { type ChangedFiles, MAX_CHANGED_FILES } from "../lifecycle/match-paths.ts";
import type { Metrics } from "../metrics.ts";

type Octokit = InstanceType<typeof ProbotOctokit>;

/** GitHub lists at most this many commits in a push: a longer push may have touched anything. */
export const MAX_PUSH_COMMITS = 2048;

/** A compare is worth this long a wait at most: then the environment is built. */
const COMPARE_TIMEOUT_MS = 5_000;

/** Whether the repository filters rebuilds by changed paths. */
export function filtersPaths(options: Pick<RepoConfig, "paths" | "paths_ignore">): boolean {
  return options.paths !== undefined || options.paths_ignore !== undefined;
}

/** Whether the repository's options gate builds by changed paths or by a cap on environments. */
export function hasBuildGates(
  options: Pick<RepoConfig, "paths" | "paths_ignore" | "max_environments">,
): boolean {
  return filtersPaths(options) || options.max_environments !== undefined;
}

/**
 * The files a push changed, from its payload alone: every commit's `added`, `modified` and
 * `removed`. Not known for a new branch or a force push (its commits are not the change to the
 * environment), a push listing no commit, or one with 2048 commits or more (GitHub lists no more),
 * nor above 300 files.
 */
export function pushedFiles(push: PushPayload): ChangedFiles {
  if (push.created) return { unknown: "a new branch" };
  if (push.forced) return { unknown: "a force push (what it dropped is listed nowhere)" };
  if (push.commits.length === 0) return { unknown: "the push lists no commit" };
  if (push.commits.length >= MAX_PUSH_COMMITS) return { unknown: `${MAX_PUSH_COMMITS} commits or more` };
  return capped(push.commits.flatMap(filesOf));
}

function filesOf(commit: PushCommit): string[] {
  return [...(commit.added ?? []), ...(commit.modified ?? []), ...(commit.removed ?? [])];
}

function capped(files: readonly string[]): ChangedFiles {
  const unique = [...new Set(files)];
  return unique.length > MAX_CHANGED_FILES
    ? { unknown: `more than ${MAX_CHANGED_FILES} files` }
    : { files: unique };
}

export interface CompareDeps {
  log: Logger;
  metrics?: Metrics | undefined;
}

/**
 * One compare of `base...head` (GitHub's three-dot compare: what `head` changed since it left
 * `base`): its commits and changed files. GitHub lists 300 files at most, so 300 listed means
 * maybe more (not known). When `head` lacks commits of `base` (a force push dropped them), what
 * they changed is listed nowhere: not known either. A failure or a timeout is logged and answers
 * nothing known.
 */
export async function compareCommits(
  deps: CompareDeps,
  octokit: Octokit,
  fullName: string,
  base: string,
  head: string,
): Promise<{ commits: PushCommit[]; changed: ChangedFiles } | undefined> {
  const [owner = "", repo = ""] = fullName.split("/");
  try {
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({
      owner,
      repo,
      basehead: `${base}...${head}`,
      per_page: 100,
      request: { signal: AbortSignal.timeout(COMPARE_TIMEOUT_MS) },
    });
    deps.metrics?.githubReads.inc({ kind: "compare", outcome: "read" });
    const files = (data.files ?? []).map((file) => file.filename);
    const changed: ChangedFiles =
      data.behind_by > 0
        ? {
            unknown: `${head.slice(0, 7)} dropped ${data.behind_by} commit(s) of ${base.slice(0, 7)} (a force push)`,
          }
        : files.length >= MAX_CHANGED_FILES
          ? { unknown: `GitHub listed ${files.length} files (its most)` }
          : { files };
    const commits = data.commits.map((commit) => ({
      id: commit.sha,
      message: commit.commit.message,
      author: {
        name: commit.commit.author?.name ?? commit.author?.login ?? "",
        email: commit.commit.author?.email ?? null,
      },
    }));
    return { commits, changed };
  } catch (error) {
    deps.metrics?.githubReads.inc({ kind: "compare", outcome: "error" });
    deps.log.warn({ err: error, project: fullName, base, head }, "GitHub did not compare two commits");
    return undefined;
  }
}

/**
 * The files a push changed, for `paths`: from the payload when it lists them; for a push listing no
 * commit (a branch moved to commits GitHub had already), one compare with where it was. Not known
 * after a force push: a three-dot compare lists only what the new head added, not what it dropped
 * (a dropped apps/web commit must be built away), so the environment is built, with no compare.
 * Nothing for a new branch (its first push creates the environment, or only moves its head when
 * `create` came first: never a rebuild) or a deleted one. Asked before the rules run (they do no
 * I/O), in the apply step, never while the webhook waits for its answer.
 */
export async function changedFilesOfPush(
  deps: CompareDeps,
  octokit: Octokit | undefined,
  event: Extract<GithubEvent, { name: "push" }>,
  options: RepoConfig,
): Promise<ChangedFiles | undefined> {
  const push = event.payload;
  if (!filtersPaths(options) || push.deleted || push.created) return undefined;
  if (push.forced || push.commits.length > 0) return pushedFiles(push);
  if (!octokit) return { unknown: "no GitHub App credentials to compare with" };
  const compared = await compareCommits(deps, octokit, push.repository.full_name, push.before, push.after);
  return compared?.changed ?? { unknown: "GitHub did not compare" };
}
