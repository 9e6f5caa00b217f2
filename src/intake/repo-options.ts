import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { ConfigResult } from "../config/validate-repo-config.ts";
import { fetchRepoOptions, readFileWith } from "../github/fetch-repo-options.ts";
import type { GithubEvent, PushPayload } from "../lifecycle/github-event.ts";
import type { Metrics } from "../metrics.ts";
import type { Queryable } from "../store/database.ts";
import {
  findStoredOptions,
  markOptionsChecked,
  markOptionsStale,
  type ProjectRef,
  projectKey,
  type StoredOptions,
  saveOptions,
} from "../store/projects.ts";
import { storedConfig } from "./apply-event.ts";

type Octokit = InstanceType<typeof ProbotOctokit>;

/** Stored options are checked against GitHub (a conditional request, in the background) this often. */
export const REVALIDATE_AFTER_MS = 10 * 60_000;
/** After GitHub failed to answer a read, the stored options are used without asking again for this long. */
const RETRY_READ_AFTER_MS = 60_000;
/** GitHub lists at most this many commits in a push: a longer push may have touched anything. */
const MAX_PUSH_COMMITS = 2048;

export interface RepoOptionsDeps {
  db: Queryable;
  log: Logger;
  now: () => Date;
  metrics?: Metrics | undefined;
  /** An Octokit for the installation, for checks made in the background. */
  octokitFor(installationId: number): Promise<Octokit>;
}

/** Why an event's options must be read from GitHub before it is applied; undefined when the stored ones hold. */
type ReadReason = "first" | "stale";

/**
 * The repository's options as events are applied with them: kept in the store with the version
 * read, read again from GitHub only when they may have changed, and checked in the background
 * with a conditional request (free when unchanged) at most every 10 minutes.
 */
export function createRepoOptions(deps: RepoOptionsDeps) {
  const { db, log, now } = deps;
  const checking = new Set<string>();
  /** When a read that an event waited for last failed, per project: the stored options serve meanwhile. */
  const failedAt = new Map<string, number>();
  /** When a background check may run again after one failed, per project. */
  const checkAgainAt = new Map<string, number>();

  /** Reads the options from GitHub (conditionally on what is stored) and keeps them. */
  async function read(project: ProjectRef, stored: StoredOptions | undefined, octokit: Octokit) {
    const [owner = "", repo = ""] = project.fullName.split("/");
    const key = projectKey(project.fullName);
    // When the read began, and how often the options had been marked stale by then: a mark made
    // while this read is under way is not cleared by it.
    const mark = { checkedAt: now(), generation: stored?.generation ?? 0 };
    let fetched: Awaited<ReturnType<typeof fetchRepoOptions>>;
    try {
      fetched = await fetchRepoOptions(readFileWith(octokit), { owner, repo }, stored?.sources ?? null);
    } catch (error) {
      deps.metrics?.githubReads.inc({ kind: "options", outcome: "error" });
      throw error;
    }
    deps.metrics?.githubReads.inc({ kind: "options", outcome: "unchanged" }, fetched.unchanged);
    deps.metrics?.githubReads.inc({ kind: "options", outcome: "read" }, fetched.requests - fetched.unchanged);
    if (stored?.sources && fetched.unchanged === fetched.requests) {
      await markOptionsChecked(db, key, mark);
      return resultOf(stored);
    }
    const { result } = fetched;
    await saveOptions(db, project, {
      config: result.ok ? result.config : null,
      problems: result.ok ? null : result.problems,
      sources: fetched.sources,
      ...mark,
    });
    return result;
  }

  /** A conditional check in the background; an event never waits for it. */
  function checkLater(project: ProjectRef, stored: StoredOptions) {
    const key = projectKey(project.fullName);
    if (checking.has(key) || project.installationId === null) return;
    if ((checkAgainAt.get(key) ?? 0) > Date.now()) return;
    checking.add(key);
    deps
      .octokitFor(project.installationId)
      .then((octokit) => read(project, stored, octokit))
      .then(() => checkAgainAt.delete(key))
      .catch((error: unknown) => {
        checkAgainAt.set(key, Date.now() + RETRY_READ_AFTER_MS);
        log.warn(
          { err: error, project: key },
          "checking .github/envhooks.yml failed; the stored options stay",
        );
      })
      .finally(() => checking.delete(key));
  }

  return {
    /**
     * The options to apply `event` with. Only a project's first event, one after its options may
     * have changed, and a push that changes them wait for GitHub; when GitHub fails then, the stored
     * options are used (and read again later), and only a project with none retries the event.
     */
    async forEvent(
      event: GithubEvent,
      installationId: number | null,
      octokit: Octokit,
    ): Promise<ConfigResult> {
      const repository = event.payload.repository;
      const project: ProjectRef = {
        fullName: repository.full_name,
        defaultBranch: repository.default_branch,
        installationId,
      };
      const key = projectKey(project.fullName);
      if (event.name === "push") await markUsersStale(db, event.payload);
      const stored = await findStoredOptions(db, key);
      const reason = readReason(stored, failedAt.get(key));
      if (!reason && stored) {
        const checkedAt = stored.checkedAt ? new Date(stored.checkedAt).getTime() : 0;
        if (now().getTime() - checkedAt >= REVALIDATE_AFTER_MS) checkLater(project, stored);
        return resultOf(stored);
      }
      try {
        const result = await read(project, stored, octokit);
        failedAt.delete(key);
        return result;
      } catch (error) {
        // Options kept from before (even from before versions were kept) serve while GitHub fails.
        const fallback = stored && (stored.sources !== null || stored.config !== null);
        if (!fallback || (error as { status?: unknown }).status === undefined) throw error;
        failedAt.set(key, Date.now());
        log.warn(
          { err: error, project: key, reason },
          "GitHub did not answer for .github/envhooks.yml; applied with the stored options, to be read again",
        );
        return resultOf(stored);
      }
    },
    /**
     * An `installation` or `installation_repositories` event: the options of the projects it names
     * (all of the installation's, for the whole-installation actions) may have changed.
     */
    async onInstallation(payload: InstallationPayload): Promise<string[]> {
      const added = payload.repositories_added?.map((repository) => projectKey(repository.full_name));
      const marked = added
        ? await markOptionsStale(db, { keys: added })
        : await markOptionsStale(db, { installationId: payload.installation.id });
      if (marked.length > 0)
        log.info({ projects: marked.length }, "options to be read again (installation event)");
      return marked;
    },
  };
}

export type RepoOptions = ReturnType<typeof createRepoOptions>;

/** The fields of `installation` and `installation_repositories` deliveries read here. */
export interface InstallationPayload {
  action?: string;
  installation: { id: number };
  repositories_added?: Array<{ full_name: string }>;
}

function resultOf(stored: StoredOptions): ConfigResult {
  return stored.problems
    ? { ok: false, problems: stored.problems }
    : { ok: true, config: storedConfig(stored.config) };
}

/**
 * Whether an event needs the options read from GitHub first, and why. A push that changes them has
 * marked them stale already (`markUsersStale`, which covers the repository's own file too).
 */
function readReason(
  stored: StoredOptions | undefined,
  lastFailure: number | undefined,
): ReadReason | undefined {
  // GitHub just failed to answer: the stored options serve until it is asked again.
  if (stored && lastFailure !== undefined && Date.now() - lastFailure < RETRY_READ_AFTER_MS) return undefined;
  if (!stored?.sources) return "first";
  return stored.stale ? "stale" : undefined;
}

/** The commits' fields that list the files a push changed. */
interface CommitFiles {
  added?: string[];
  modified?: string[];
  removed?: string[];
}

/**
 * The files a push added, modified or removed; null when its commit list cannot tell (a force
 * push, a new or deleted branch, more commits than GitHub lists).
 */
function changedFiles(push: PushPayload & { forced?: boolean }): Set<string> | null {
  const commits = push.commits as Array<PushPayload["commits"][number] & CommitFiles>;
  if (
    push.forced ||
    push.created ||
    push.deleted ||
    commits.length === 0 ||
    commits.length >= MAX_PUSH_COMMITS
  ) {
    return null;
  }
  const files = new Set<string>();
  for (const commit of commits) {
    for (const path of [...(commit.added ?? []), ...(commit.modified ?? []), ...(commit.removed ?? [])]) {
      files.add(path);
    }
  }
  return files;
}

/**
 * A push to a repository's default branch that changes a YAML file may change the options of every
 * project that reads that file (the owner's `.github` repository, an `_extends` base): they are
 * read again at their next event.
 */
async function markUsersStale(db: Queryable, push: PushPayload & { forced?: boolean }): Promise<void> {
  if (push.ref !== `refs/heads/${push.repository.default_branch}`) return;
  const changed = changedFiles(push);
  const yaml = changed && [...changed].filter((path) => /\.ya?ml$/i.test(path));
  if (yaml && yaml.length === 0) return;
  await markOptionsStale(db, { sourceRepo: push.repository.full_name, paths: yaml });
}
