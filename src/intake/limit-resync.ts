import { randomUUID } from "node:crypto";
import type { Window } from "../github/rate-budget.ts";
import type { Queryable } from "../store/database.ts";
import { findProjectByKey, projectKey } from "../store/projects.ts";
import { findResyncRun, finishResyncRun, type ResyncRun, takeResyncRun } from "../store/resync-runs.ts";
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
    const reusable = (run: ResyncRun | undefined): ResyncResult | undefined =>
      dryRun && run?.plan && run.plannedAt && at.getTime() - run.plannedAt.getTime() < planReusedMs
        ? { ...(run.plan as ResyncResult), plannedAt: run.plannedAt, reused: true }
        : undefined;
    const run = await findResyncRun(db, key);
    const kept = reusable(run);
    if (kept) return kept;
    if (!dryRun && run?.appliedAt && at.getTime() - run.appliedAt.getTime() < cooldownMs) {
      const wait = secondsUntil(run.appliedAt.getTime() + cooldownMs, at);
      throw new ResyncLimited(
        "resync_cooldown",
        wait,
        `${fullName} was resynced less than ${Math.round(cooldownMs / 1000)} seconds ago: try again in ${wait} seconds.`,
      );
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
    if (!(await takeResyncRun(db, key, { owner, at, until, applying: !dryRun }))) {
      throw new ResyncLimited(
        "resync_running",
        RUNNING_RETRY_SECONDS,
        `A resync of ${fullName} is in progress: try again in ${RUNNING_RETRY_SECONDS} seconds.`,
      );
    }
    let result: ResyncResult | undefined;
    try {
      // A run that ended between the look above and taking the project may have made the plan.
      const made = reusable(await findResyncRun(db, key));
      if (made) return made;
      result = await resync(fullName, options);
      return { ...result, plannedAt: at, reused: false };
    } finally {
      await finishResyncRun(db, key, owner, {
        githubRequests: result?.githubRequests ?? null,
        plan: dryRun && result ? result : null,
        plannedAt: at,
        applied: !dryRun && result !== undefined,
      });
    }
  };
}

function secondsUntil(when: number, at: Date): number {
  return Math.max(1, Math.ceil((when - at.getTime()) / 1000));
}
