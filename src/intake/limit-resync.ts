import { randomUUID } from "node:crypto";
import type { Window } from "../github/rate-budget.ts";
import type { Queryable } from "../store/database.ts";
import { findProjectByKey, projectKey } from "../store/projects.ts";
import { findResyncRun, finishResyncRun, type ResyncRun, takeResyncRun } from "../store/resync-runs.ts";
import { Refused } from "./apply-event.ts";
import type { ResyncResult } from "./resync.ts";

/** Applied resyncs of one project start at least this far apart. */
export const RESYNC_COOLDOWN_MS = 60_000;
/** A dry run answers the plan made by another within this long, without asking GitHub again. */
export const PLAN_REUSED_MS = 60_000;
/** A resync is refused when it would leave fewer requests than this in the installation's window. */
export const RESYNC_RESERVE = 500;
/** The least a resync asks GitHub (the repository, its default branch), before one was counted. */
const LEAST_REQUESTS = 2;
/** A run holds its project this long at most: one whose process died frees it then. */
const RUN_LEASE_MS = 5 * 60_000;
/** How soon to try again while another run of the project is in progress. */
const RUNNING_RETRY_SECONDS = 5;

/** A resync refused to spare GitHub's rate limit: 429, with when to try again. */
export class ResyncLimited extends Error {
  readonly status = 429;
  readonly code: "resync_running" | "resync_cooldown" | "github_budget_low";
  readonly retryAfterSeconds: number;
  constructor(code: ResyncLimited["code"], retryAfterSeconds: number, message: string) {
    super(message);
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface ResyncLimits {
  db: Queryable;
  now: () => Date;
  /** What GitHub last said is left of an installation's rate limit (`RateBudget.left`). */
  budgetLeft?: ((installationId: number, now: number) => Window | undefined) | undefined;
  cooldownMs?: number;
  planReusedMs?: number;
  reserve?: number;
}

type Resync = (
  fullName: string,
  options: { dryRun: boolean; expectedRepositoryId?: number | undefined },
) => Promise<ResyncResult>;

/**
 * Resyncs that one user cannot turn into a drain of the installation's GitHub rate limit (which
 * every repository of the installation shares): per project one run at a time and applied runs a
 * cooldown apart; a dry run reuses the plan made in the last minute; and a run that would take the
 * installation's budget below `reserve` is refused until GitHub resets it. Refusals are
 * `ResyncLimited` (429, Retry-After). The limits are kept in the database: every instance sees them.
 */
export function limitResync(limits: ResyncLimits, resync: Resync): Resync {
  const {
    db,
    now,
    budgetLeft,
    cooldownMs = RESYNC_COOLDOWN_MS,
    planReusedMs = PLAN_REUSED_MS,
    reserve = RESYNC_RESERVE,
  } = limits;
  return async function limitedResync(fullName, options) {
    const { dryRun } = options;
    const key = projectKey(fullName);
    const at = now();
    // A dry run that failed is remembered too (its error, thrown again): an invalid
    // .github/envhooks.yml or GitHub's 404 comes after GitHub was asked, and would cost that each time.
    const reusable = (run: ResyncRun | undefined): ResyncResult | undefined => {
      if (!dryRun || !run?.plan || !run.plannedAt || at.getTime() - run.plannedAt.getTime() >= planReusedMs) {
        return undefined;
      }
      const failed = (run.plan as { failed?: FailedRun }).failed;
      if (failed) throw failureOf(failed);
      return { ...(run.plan as ResyncResult), plannedAt: run.plannedAt, reused: true };
    };
    const run = await findResyncRun(db, key);
    const kept = reusable(run);
    if (kept) return kept;
    const coolingDown = (appliedAt: Date) => {
      const wait = secondsUntil(appliedAt.getTime() + cooldownMs, at);
      return new ResyncLimited(
        "resync_cooldown",
        wait,
        `${fullName} was resynced less than ${Math.round(cooldownMs / 1000)} seconds ago: try again in ${wait} seconds.`,
      );
    };
    if (!dryRun && run?.appliedAt && at.getTime() - run.appliedAt.getTime() < cooldownMs) {
      throw coolingDown(run.appliedAt);
    }
    const installationId = (await findProjectByKey(db, key))?.installationId ?? null;
    const left = installationId === null ? undefined : budgetLeft?.(installationId, at.getTime());
    const cost = Math.max(run?.githubRequests ?? 0, LEAST_REQUESTS);
    if (left && left.remaining - cost < reserve) {
      const wait = secondsUntil(left.resetAt, at);
      throw new ResyncLimited(
        "github_budget_low",
        wait,
        `GitHub's rate limit for this installation has ${left.remaining} requests left until it resets; resync keeps the last ${reserve} for GitHub updates and events: try again in ${wait} seconds.`,
      );
    }
    const owner = randomUUID();
    const until = new Date(at.getTime() + RUN_LEASE_MS);
    // The cooldown is checked again as the project is taken: an applied run may have ended since.
    const take = await takeResyncRun(db, key, { owner, at, until, applying: !dryRun, cooldownMs });
    if (!take.taken) {
      if (take.cooldownFrom) throw coolingDown(take.cooldownFrom);
      throw new ResyncLimited(
        "resync_running",
        RUNNING_RETRY_SECONDS,
        `A resync of ${fullName} is in progress: try again in ${RUNNING_RETRY_SECONDS} seconds.`,
      );
    }
    let result: ResyncResult | undefined;
    let failed: FailedRun | undefined;
    try {
      // A run that ended between the look above and taking the project may have made the plan.
      const made = reusable(await findResyncRun(db, key));
      if (made) return made;
      result = await resync(fullName, options).catch((error: unknown) => {
        failed = failedRun(error);
        throw error;
      });
      return { ...result, plannedAt: at, reused: false };
    } finally {
      await finishResyncRun(db, key, owner, {
        githubRequests: result?.githubRequests ?? null,
        plan: dryRun ? (result ?? (failed && { failed }) ?? null) : null,
        plannedAt: at,
        applied: !dryRun && result !== undefined,
      });
    }
  };
}

/** A failed dry run as kept: a refusal (`Refused`) or GitHub's error status. */
interface FailedRun {
  status: number;
  code: string | null;
  message: string;
}

/** What of a dry run's error is kept; errors that are neither a refusal nor GitHub's are not. */
function failedRun(error: unknown): FailedRun | undefined {
  if (error instanceof ResyncLimited) return undefined;
  if (error instanceof Refused) return { status: error.status, code: error.code, message: error.message };
  const status = (error as { status?: unknown }).status;
  if (typeof status !== "number") return undefined;
  return { status, code: null, message: error instanceof Error ? error.message : String(error) };
}

/** The kept error, thrown again as the dry run threw it (the route answers it the same way). */
function failureOf(failed: FailedRun): Error {
  if (failed.code !== null && (failed.status === 404 || failed.status === 409)) {
    return new Refused(failed.status, failed.code, failed.message);
  }
  return Object.assign(new Error(failed.message), { status: failed.status });
}

function secondsUntil(when: number, at: Date): number {
  return Math.max(1, Math.ceil((when - at.getTime()) / 1000));
}
