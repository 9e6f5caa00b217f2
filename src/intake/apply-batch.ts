import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { DEFAULT_REPO_CONFIG } from "../config/repo-config.schema.ts";
import type { ConfigResult } from "../config/validate-repo-config.ts";
import { parseGithubPayload } from "../lifecycle/github-event.schema.ts";
import type { GithubEvent, PushPayload } from "../lifecycle/github-event.ts";
import { groupCommit } from "../queue/group-commit.ts";
import type { StoredEvent } from "../store/github-events.ts";
import { cacheReceivingIntegrations } from "../store/receiving-integrations-cache.ts";
import type { ApplyDeps } from "./apply-event.ts";
import { applyEvents, applyManyProjectsEvents, type ReadyEvent } from "./apply-events.ts";
import { hasBuildGates } from "./changed-files.ts";
import { synchronizeCommits } from "./pull-request-commits.ts";
import type { RepoOptions } from "./repo-options.ts";

type Octokit = InstanceType<typeof ProbotOctokit>;

/**
 * Applies a run of one project's stored deliveries, oldest first, in one transaction. Returns how
 * many, from the first, it applied (0: the first must go alone); throws, having applied none, when
 * the transaction failed.
 */
export type ApplyBatch = (events: readonly StoredEvent[]) => Promise<number>;

/**
 * The events applied in batches: those the lifecycle plans from the payload and stored options
 * alone. The others go through Probot's `receive` one at a time (an `/envhooks` command asks GitHub
 * for the commenter's permission with the event's own Octokit).
 */
export const BATCHED_EVENTS: ReadonlySet<string> = new Set(["push", "create", "delete", "pull_request"]);

/**
 * At most this many projects' batches are applied in one transaction. On the embedded database an
 * open transaction holds its one connection, so deliveries arriving meanwhile wait for all of it:
 * fewer there.
 */
const MAX_PROJECTS_PER_TRANSACTION = { postgres: 8, pglite: 4 };
/** At most this many events are applied in one transaction (a larger batch goes alone). */
const MAX_EVENTS_PER_TRANSACTION = 200;
/**
 * Apply transactions under way at once on PostgreSQL: half the projects drained at once
 * (GITHUB_EVENTS_QUEUE), so that projects still apply in parallel and batches ready while those
 * commit share the next transactions.
 */
const TRANSACTIONS_AT_ONCE_ON_POSTGRES = 8;

export interface BatchDeps {
  apply: ApplyDeps;
  log: Logger;
  /** With GitHub App credentials: the stored options, and an installation's Octokit to read them with. */
  github?: { options: RepoOptions; octokitFor(installationId: number): Promise<Octokit> } | undefined;
}

/**
 * Applies lifecycle events in batches without Probot's `receive`: the payloads were verified when
 * they arrived, and are checked again here. Each event gets its options as `envhooksApp` gets them
 * (`forEvent`); events after the first reuse them unless they may have changed (a push to the
 * default branch that may touch a YAML file, another installation). A `synchronize` finds the
 * commits of a push only once that push is applied, so it starts the next batch.
 */
export function createBatchApplier(deps: BatchDeps): ApplyBatch {
  const apply: ApplyDeps = {
    ...deps.apply,
    integrations: deps.apply.integrations ?? cacheReceivingIntegrations(),
  };
  // Projects whose batches are ready while another transaction commits are applied together by the
  // next one, each project under its own lock, taken in the order of their keys.
  const applyTogether = groupCommit<readonly ReadyEvent[], unknown>({
    commitMany: (projects) => applyManyProjectsEvents(apply, projects),
    commitOne: (events) => applyEvents(apply, events),
    maxItems: MAX_PROJECTS_PER_TRANSACTION[deps.apply.db.kind],
    // On PostgreSQL (a pool) projects are applied in parallel too; the embedded database runs one transaction at a time.
    concurrency: deps.apply.db.kind === "postgres" ? TRANSACTIONS_AT_ONCE_ON_POSTGRES : 1,
    maxBytes: MAX_EVENTS_PER_TRANSACTION,
    sizeOf: (events) => events.length,
  });
  return async function applyBatch(stored) {
    const ready: ReadyEvent[] = [];
    const octokits = new Map<number, Octokit>();
    let options: { installationId: number | null; config: ConfigResult } | undefined;
    for (const item of stored) {
      if (!BATCHED_EVENTS.has(item.name)) break;
      let event: GithubEvent;
      try {
        const payload = parseGithubPayload(item.name, JSON.parse(item.payload));
        event = { name: item.name, payload } as unknown as GithubEvent;
      } catch {
        break; // Set aside as failed by the one-at-a-time path, with its error.
      }
      const installationId = (event.payload as { installation?: { id: number } }).installation?.id ?? null;
      if (deps.github && (installationId === null || followsItsPush(event, ready))) break;
      try {
        if (!options || options.installationId !== installationId || mayChangeOptions(event)) {
          options = { installationId, config: await configFor(event, installationId) };
        }
        // Build gates (paths, max_environments) are applied one at a time (`applyEvent`): the
        // changed files, the count of environments and the gates' notes are not batched.
        if (options.config.ok && hasBuildGates(options.config.config)) break;
        if (
          deps.github &&
          options.config.ok &&
          event.name === "pull_request" &&
          event.payload.action === "synchronize"
        ) {
          const lookup = { db: deps.apply.db, log: deps.log, metrics: deps.apply.metrics };
          const octokit = await octokitFor(installationId as number);
          event = { ...event, commits: await synchronizeCommits(lookup, octokit, event.payload) };
        }
      } catch (error) {
        // GitHub did not answer: this event goes alone, under the retry rules.
        deps.log.debug({ err: error, delivery: item.deliveryId }, "event left for one-at-a-time apply");
        break;
      }
      ready.push({ id: item.id, deliveryId: item.deliveryId, event, installationId, config: options.config });
    }
    if (ready.length === 0) return 0;
    await applyTogether(ready);
    return ready.length;

    async function octokitFor(installationId: number): Promise<Octokit> {
      let octokit = octokits.get(installationId);
      if (!octokit) {
        octokit = await (deps.github as NonNullable<BatchDeps["github"]>).octokitFor(installationId);
        octokits.set(installationId, octokit);
      }
      return octokit;
    }

    async function configFor(event: GithubEvent, installationId: number | null): Promise<ConfigResult> {
      if (!deps.github || installationId === null) return { ok: true, config: DEFAULT_REPO_CONFIG };
      return deps.github.options.forEvent(event, installationId, await octokitFor(installationId));
    }
  };
}

/** A pull request's `synchronize` to a head that a push earlier in the batch brought. */
function followsItsPush(event: GithubEvent, ready: readonly ReadyEvent[]): boolean {
  if (event.name !== "pull_request" || event.payload.action !== "synchronize") return false;
  const head = event.payload.after;
  return ready.some(({ event: earlier }) => earlier.name === "push" && earlier.payload.after === head);
}

/** GitHub lists at most this many commits in a push: a longer push may have touched anything. */
const MAX_PUSH_COMMITS = 2048;

/**
 * Whether a push may change the repository's options (or those of projects that read its files):
 * `forEvent` marks them to be read again for it. Anything but a push to the default branch whose
 * commits list their files, none of them YAML, may.
 */
function mayChangeOptions(event: GithubEvent): boolean {
  if (event.name !== "push") return false;
  const push = event.payload as PushPayload & { forced?: boolean };
  if (push.ref !== `refs/heads/${push.repository.default_branch}`) return false;
  const commits = push.commits as Array<{ added?: string[]; modified?: string[]; removed?: string[] }>;
  if (push.forced || push.created || push.deleted || commits.length === 0) return true;
  if (commits.length >= MAX_PUSH_COMMITS) return true;
  return commits.some((commit) =>
    [...(commit.added ?? []), ...(commit.modified ?? []), ...(commit.removed ?? [])].some((path) =>
      /\.ya?ml$/i.test(path),
    ),
  );
}
