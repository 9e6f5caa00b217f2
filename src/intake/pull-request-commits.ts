import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { PullRequestPayload, PushCommit } from "../lifecycle/github-event.ts";
import type { Metrics } from "../metrics.ts";
import type { Queryable } from "../store/database.ts";
import { projectKey } from "../store/projects.ts";
import { findPushCommits } from "../store/push-commits.ts";

/** A comparison is worth this long a wait at most: the activity is relayed without commits after it. */
const COMPARE_TIMEOUT_MS = 5_000;

/**
 * The commits a pull request's `synchronize` brought: those of the `push` GitHub sent for the same
 * head commit (same-repository pull requests, when it was applied first), else one comparison of
 * `before...after` asked of GitHub. Without an answer, the activity goes without its commits.
 */
export async function synchronizeCommits(
  deps: { db: Queryable; log: Logger; metrics?: Metrics | undefined },
  octokit: InstanceType<typeof ProbotOctokit>,
  payload: PullRequestPayload,
): Promise<PushCommit[]> {
  const { before, after } = payload;
  if (!before || !after) return [];
  const key = projectKey(payload.repository.full_name);
  const pushed = await findPushCommits(deps.db, key, after);
  if (pushed) return pushed;
  const [owner = "", repo = ""] = payload.repository.full_name.split("/");
  try {
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({
      owner,
      repo,
      basehead: `${before}...${after}`,
      per_page: 100,
      request: { signal: AbortSignal.timeout(COMPARE_TIMEOUT_MS) },
    });
    deps.metrics?.githubReads.inc({ kind: "compare", outcome: "read" });
    return data.commits.map((commit) => ({
      id: commit.sha,
      message: commit.commit.message,
      author: {
        name: commit.commit.author?.name ?? commit.author?.login ?? "",
        email: commit.commit.author?.email ?? null,
      },
    }));
  } catch (error) {
    deps.metrics?.githubReads.inc({ kind: "compare", outcome: "error" });
    deps.log.warn(
      { err: error, project: key, before, after },
      "GitHub did not compare the pull request's commits; its activity lists none",
    );
    return [];
  }
}
