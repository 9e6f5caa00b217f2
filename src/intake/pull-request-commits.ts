import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { PullRequestPayload, PushCommit } from "../lifecycle/github-event.ts";
import type { ChangedFiles } from "../lifecycle/match-paths.ts";
import type { Metrics } from "../metrics.ts";
import type { Queryable } from "../store/database.ts";
import { projectKey } from "../store/projects.ts";
import { findPush } from "../store/push-commits.ts";
import { compareCommits, filtersPaths } from "./changed-files.ts";

/**
 * What a pull request's `synchronize` brought: its commits and, with `paths` set, the files it
 * changed. Both come from the `push` GitHub sent for the same move, `before` to `after`
 * (same-repository pull requests, when it was applied first), else from one compare of
 * `before...after` asked of GitHub. A push to the same head from elsewhere (another branch
 * fast-forwarded to it) brought other changes: it is not used. Without an answer, the activity goes
 * without its commits and the environment is built.
 */
export async function synchronizeFacts(
  deps: { db: Queryable; log: Logger; metrics?: Metrics | undefined },
  octokit: InstanceType<typeof ProbotOctokit>,
  payload: PullRequestPayload,
  options?: RepoConfig,
): Promise<{ commits: PushCommit[]; changed?: ChangedFiles }> {
  const { before, after } = payload;
  if (!before || !after) return { commits: [] };
  const wantsFiles = options !== undefined && filtersPaths(options);
  const found = await findPush(deps.db, projectKey(payload.repository.full_name), after);
  const pushed = found?.before === before ? found : undefined;
  if (pushed && (!wantsFiles || pushed.files !== null)) {
    return wantsFiles && pushed.files
      ? { commits: pushed.commits, changed: { files: pushed.files } }
      : { commits: pushed.commits };
  }
  const compared = await compareCommits(deps, octokit, payload.repository.full_name, before, after);
  const commits = pushed?.commits ?? compared?.commits ?? [];
  if (!wantsFiles) return { commits };
  return { commits, changed: compared?.changed ?? { unknown: "GitHub did not compare" } };
}

/** The commits a pull request's `synchronize` brought (see `synchronizeFacts`). */
export async function synchronizeCommits(
  deps: { db: Queryable; log: Logger; metrics?: Metrics | undefined },
  octokit: InstanceType<typeof ProbotOctokit>,
  payload: PullRequestPayload,
): Promise<PushCommit[]> {
  return (await synchronizeFacts(deps, octokit, payload)).commits;
}
