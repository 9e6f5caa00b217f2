import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { HANDLED_EVENTS } from "../lifecycle/github-event.ts";
import type { Metrics } from "../metrics.ts";
import { readJobState, saveJobState } from "../store/background-jobs.ts";
import type { Queryable } from "../store/database.ts";
import { knownDeliveryGuids, pruneRedeliveries, recordRedelivery } from "../store/github-redeliveries.ts";
import { rateLimitWaitMs } from "./rate-budget.ts";

type Octokit = InstanceType<typeof ProbotOctokit>;

/** How much one run may do: a backlog bigger than this is worked through by the next runs. */
export interface RecoveryLimits {
  /** Pages of `GET /app/hook/deliveries` listed per run. */
  maxPages: number;
  /** Deliveries per page (GitHub allows 100 at most). */
  perPage: number;
  /** Redeliveries asked for per run. */
  maxRedeliveries: number;
}

export const RECOVERY_LIMITS: RecoveryLimits = { maxPages: 10, perPage: 100, maxRedeliveries: 100 };

/** GitHub keeps an app's deliveries this long: https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks */
const GITHUB_KEEPS_MS = 3 * 24 * 3600_000;
/**
 * A scan goes this far past the newest delivery the previous one saw: GitHub lists a delivery once
 * it was attempted (it waits up to 10 s for an answer), so one with a lower id may appear later.
 */
const OVERLAP_MS = 60_000;
/**
 * A delivery whose redelivery failed too (envhooks' ingress not ready yet) is asked for again by a
 * run at least this much later, up to `MAX_ASKS` times in all.
 */
const ASK_AGAIN_AFTER_MS = 5 * 60_000;

/** The events envhooks acts on: redelivering any other would only be ignored again. */
const RECOVERABLE: ReadonlySet<string> = new Set([
  ...HANDLED_EVENTS,
  "installation",
  "installation_repositories",
]);

export interface RecoverDeps {
  db: Queryable;
  log: Logger;
  /** An Octokit authenticated as the App (its JWT): the webhook deliveries are the App's, not an installation's. */
  appOctokit(): Promise<Octokit>;
  now: () => Date;
  metrics?: Metrics | undefined;
  /** False stops the run before its next request (the lease lost, the process stopping). */
  keepGoing?: () => boolean;
  limits?: RecoveryLimits;
}

/** What a run remembers for the next one (background_jobs.state). */
interface RecoveryState {
  /** Every delivery up to this id (and delivered before `checkedAt` less the overlap) was checked. */
  checkedThrough?: number;
  checkedAt?: string;
  /** An unfinished scan: the newest id it saw, when it began, and the page it goes on from. */
  scanTop?: number;
  scanAt?: string;
  cursor?: string;
  /** GitHub asked for a pause (rate limits) until then. */
  restUntil?: string;
}

/** A delivery as `GET /app/hook/deliveries` lists it: https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook */
interface HookDelivery {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  status: string;
  status_code: number;
  event: string;
  action: string | null;
}

export interface RecoveryRun {
  /** The GUIDs asked for again, in the order asked. */
  redelivered: string[];
  pages: number;
  /** Why the run ended: done (everything new was checked), or the bound, pause or error that stopped it. */
  ended: "done" | "pages" | "redeliveries" | "rate_limited" | "error" | "stopped" | "resting";
}

/**
 * Asks GitHub to send again the deliveries it failed to deliver to envhooks (envhooks was down or
 * unreachable) and that envhooks does not have: lists the App's deliveries newest first, down to
 * what the previous run checked (or GitHub's 3 days), and asks for each failed one (again, up to 3
 * times, while its redeliveries fail too). Bounded per run (`limits`); an unfinished scan goes on
 * from its page at the next run.
 */
export async function recoverDeliveries(deps: RecoverDeps): Promise<RecoveryRun> {
  const { db, log, metrics, limits = RECOVERY_LIMITS, keepGoing = () => true } = deps;
  const state = await readJobState<RecoveryState>(db, "recover-github-deliveries");
  const run: RecoveryRun = { redelivered: [], pages: 0, ended: "done" };
  if (state.restUntil && Date.parse(state.restUntil) > Date.now()) return { ...run, ended: "resting" };

  const startedAt = deps.now();
  const oldest = startedAt.getTime() - GITHUB_KEEPS_MS;
  await pruneRedeliveries(db, new Date(oldest));
  const checkedThrough = state.checkedThrough ?? 0;
  const checkedBefore = state.checkedAt ? Date.parse(state.checkedAt) - OVERLAP_MS : Number.POSITIVE_INFINITY;
  let scan = state.cursor
    ? { top: state.scanTop ?? checkedThrough, at: state.scanAt ?? startedAt.toISOString() }
    : undefined;
  let cursor = state.cursor;
  /** GUIDs GitHub did deliver, among those listed: an older failure of the same event needs nothing. */
  const delivered = new Set<string>();
  const seen = new Set<string>();
  const octokit = await deps.appOctokit();

  /** Ends the run: an unfinished scan goes on from `cursor` next time. */
  async function end(ended: RecoveryRun["ended"], restMs?: number): Promise<RecoveryRun> {
    const next: RecoveryState =
      ended === "done"
        ? {
            checkedThrough: Math.max(scan?.top ?? 0, checkedThrough),
            checkedAt: scan?.at ?? state.checkedAt ?? startedAt.toISOString(),
          }
        : { ...state, scanTop: scan?.top, scanAt: scan?.at, cursor, restUntil: undefined };
    if (restMs !== undefined) next.restUntil = new Date(Date.now() + restMs).toISOString();
    await saveJobState(db, "recover-github-deliveries", next, startedAt);
    return { ...run, ended };
  }

  for (;;) {
    if (run.pages >= limits.maxPages) return end("pages");
    if (!keepGoing()) return end("stopped");
    let page: { data: HookDelivery[]; headers: Record<string, unknown> };
    try {
      page = (await octokit.request("GET /app/hook/deliveries", {
        per_page: limits.perPage,
        ...(cursor ? { cursor } : {}),
      })) as unknown as typeof page;
    } catch (error) {
      metrics?.githubDeliveryRecoveryFailures.inc({ step: "list" });
      const waitMs = rateLimitWaitMs(error);
      log.warn(
        { err: error, waitMs },
        "listing the App's GitHub deliveries failed; the next run tries again",
      );
      const status = Number((error as { status?: unknown }).status);
      if (waitMs === undefined && status >= 400 && status < 500) {
        // A cursor GitHub refuses (expired) would be refused again: the next run starts afresh.
        cursor = undefined;
        scan = undefined;
      }
      return end(waitMs === undefined ? "error" : "rate_limited", waitMs);
    }
    run.pages++;
    scan ??= { top: page.data[0]?.id ?? checkedThrough, at: startedAt.toISOString() };

    let reachedChecked = false;
    const failed: HookDelivery[] = [];
    for (const item of page.data) {
      const at = Date.parse(item.delivered_at);
      if (at < oldest || (item.id <= checkedThrough && at < checkedBefore)) {
        reachedChecked = true;
        break;
      }
      if (item.status_code >= 200 && item.status_code < 300) delivered.add(item.guid);
      else if (RECOVERABLE.has(item.event) && !delivered.has(item.guid) && !seen.has(item.guid)) {
        seen.add(item.guid);
        failed.push(item);
      }
    }
    const known = await knownDeliveryGuids(
      db,
      failed.map((item) => item.guid),
      new Date(deps.now().getTime() - ASK_AGAIN_AFTER_MS),
    );
    for (const item of failed) {
      if (known.has(item.guid)) continue;
      if (run.redelivered.length >= limits.maxRedeliveries) return end("redeliveries");
      if (!keepGoing()) return end("stopped");
      let refused: unknown;
      try {
        await octokit.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: item.id });
      } catch (error) {
        metrics?.githubDeliveryRecoveryFailures.inc({ step: "redeliver" });
        const waitMs = rateLimitWaitMs(error);
        if (waitMs !== undefined) {
          log.warn({ waitMs }, "GitHub rate-limits the delivery recovery; it goes on after the pause");
          return end("rate_limited", waitMs);
        }
        refused = error;
      }
      // A refusal (a delivery GitHub no longer has) would be the same next time: it is the last ask.
      await recordRedelivery(
        db,
        {
          guid: item.guid,
          hookDeliveryId: item.id,
          event: item.event,
          action: item.action,
          statusCode: item.status_code,
        },
        deps.now(),
        { final: refused !== undefined },
      );
      if (refused) {
        log.warn(
          { err: refused, delivery: item.guid, event: item.event },
          "GitHub refused to send a delivery again",
        );
        continue;
      }
      run.redelivered.push(item.guid);
      metrics?.githubDeliveriesRecovered.inc({ event: item.event });
      log.info(
        {
          delivery: item.guid,
          event: item.event,
          action: item.action,
          deliveredAt: item.delivered_at,
          githubStatus: item.status,
        },
        "GitHub delivery missed while envhooks was unreachable: asked GitHub to send it again",
      );
    }
    const next = nextCursor(page.headers.link);
    if (reachedChecked || !next) {
      cursor = undefined;
      return end("done");
    }
    cursor = next;
  }
}

/** The `cursor` of the Link header's next page: GitHub pages deliveries by cursor, not by number. */
export function nextCursor(link: unknown): string | undefined {
  if (typeof link !== "string") return undefined;
  const next = link.split(",").find((part) => /rel="next"/.test(part));
  const url = next && /<([^>]+)>/.exec(next)?.[1];
  return url ? (new URL(url).searchParams.get("cursor") ?? undefined) : undefined;
}
