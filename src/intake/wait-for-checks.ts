import { dispatchTask } from "../actions/workflow-tasks.ts";
import type { Activity } from "../activity/activity.ts";
import { writeActivityTask, writeTask } from "../github/github-outbox.ts";
import type { ChecksRead } from "../github/read-checks.ts";
import { type ChecksUpdate, checksUpdateOf } from "../lifecycle/check-events.ts";
import { type CommitCheck, decideChecks, isIgnored } from "../lifecycle/decide-checks.ts";
import { parseGithubPayload } from "../lifecycle/github-event.schema.ts";
import { type LockedActivity, lockActivity, updateActivity } from "../store/activities.ts";
import {
  commitChecks,
  deleteCheckWaits,
  dueCheckWaits,
  findRequiredChecks,
  lockCheckWaits,
  markCheckWaitsGraced,
  requeueSuite,
  type StoredCheckWait,
  saveCommitChecks,
  saveRequiredChecks,
  waitedCommits,
} from "../store/check-waits.ts";
import type { Queryable } from "../store/database.ts";
import { markEventProcessed, markEventsProcessed } from "../store/github-events.ts";
import { findProjectByKey, projectKey } from "../store/projects.ts";
import { type ApplyDeps, inTransaction, runnerDeadlineOf, storedConfig, type Wakes } from "./apply-event.ts";
import { BatchAppliedAlready } from "./apply-events.ts";
import { readChecksTask } from "./begin-check-wait.ts";
import { applyProgress } from "./report-progress.ts";

/** A branch's required checks read this long ago are read again at a new wait, as the options are checked. */
export const REQUIRED_CHECKS_KEPT_MS = 10 * 60_000;

/**
 * Applies a check or status event to the activities waiting on its commit, in one transaction with
 * the event's processed mark: the check is recorded, and each wait it settles proceeds or fails.
 * An event about a commit nobody waits on records nothing. Returns the outcome.
 */
export async function followChecks(
  deps: ApplyDeps,
  update: ChecksUpdate,
  deliveryId: string,
): Promise<string> {
  const now = (deps.now ?? (() => new Date()))();
  const key = projectKey(update.repository);
  const outcome = await inTransaction(deps, async (tx, wakes) => {
    const waits = await lockCheckWaits(tx, key, update.sha);
    let outcome: string;
    if (waits.length === 0) outcome = `no activity waits for checks on ${update.sha}`;
    else {
      await recordUpdate(tx, key, update, waits, now);
      outcome = await settleWaits(tx, deps, wakes, key, update.sha, waits, now);
    }
    if (!(await markEventProcessed(tx, { deliveryId }, outcome))) throw new AppliedAlready(deliveryId);
    return outcome;
  }).catch((error: unknown) => {
    if (error instanceof AppliedAlready) return "applied already";
    throw error;
  });
  deps.settled?.add(deliveryId);
  return outcome;
}

/** Applies what a read of a commit's checks found (the first wait's, or one after a restart). */
export async function applyChecksRead(
  deps: ApplyDeps,
  key: string,
  sha: string,
  read: ChecksRead,
): Promise<string> {
  const now = (deps.now ?? (() => new Date()))();
  return inTransaction(deps, async (tx, wakes) => {
    if (read.required) await saveRequiredChecks(tx, key, read.required.branch, read.required.names, now);
    const waits = await lockCheckWaits(tx, key, sha);
    if (waits.length === 0) return `no activity waits for checks on ${sha}`;
    const ignoredSuites = new Set(
      read.checks
        .filter((check) => check.kind === "suite" && ignoredByAll(check, waits))
        .map((suite) => Number(suite.key.slice("suite:".length))),
    );
    const kept = read.checks.filter(
      (check) => !ignoredByAll(check, waits) && (check.suiteId === null || !ignoredSuites.has(check.suiteId)),
    );
    await saveCommitChecks(tx, key, sha, kept, now);
    return settleWaits(tx, deps, wakes, key, sha, waits, now);
  });
}

/** Whether a branch's required checks were read recently enough to serve a new wait. */
export async function requiredChecksKnown(deps: ApplyDeps, key: string, branch: string): Promise<boolean> {
  const now = (deps.now ?? (() => new Date()))();
  const since = new Date(now.getTime() - REQUIRED_CHECKS_KEPT_MS);
  return (await findRequiredChecks(deps.db, key, branch, since)) !== undefined;
}

/**
 * Ends the waits time decides (a timeout; at the grace, no checks or only suites that never
 * started) and forgets those whose activity
 * waits no more (superseded): the sweep's part, so that both survive a restart.
 */
export async function settleDueCheckWaits(deps: ApplyDeps, now: Date): Promise<number> {
  let settled = 0;
  for (const { projectKey: key, sha } of await dueCheckWaits(deps.db, now)) {
    await inTransaction(deps, async (tx, wakes) => {
      const waits = await lockCheckWaits(tx, key, sha);
      await settleWaits(tx, deps, wakes, key, sha, waits, now);
      await markCheckWaitsGraced(tx, key, sha, now);
    });
    settled++;
  }
  return settled;
}

/**
 * After a restart: every waited-for commit's checks are read again (events may have been missed
 * while no process listened), as GitHub tasks of their projects.
 */
export async function readWaitedCommitsAgain(deps: ApplyDeps): Promise<number> {
  const commits = await waitedCommits(deps.db);
  if (commits.length === 0 || !deps.github) return 0;
  await inTransaction(deps, async (tx, wakes) => {
    for (const commit of commits) {
      await writeTask(tx, commit.projectKey, readChecksTask(commit));
      wakes.github.add(commit.projectKey);
    }
  });
  return commits.length;
}

async function recordUpdate(
  tx: Queryable,
  key: string,
  update: ChecksUpdate,
  waits: readonly StoredCheckWait[],
  now: Date,
): Promise<void> {
  const { sha, check, suite } = update;
  // An ignored app's suite is ignored with its runs.
  if (ignoredByAll(check, waits) || (suite && ignoredByAll(suite, waits))) return;
  if (check.kind === "suite" && update.rerun) {
    await requeueSuite(tx, key, sha, Number(check.key.slice("suite:".length)));
    await saveCommitChecks(tx, key, sha, [check], now, { rerun: true });
    return;
  }
  if (check.kind === "run" && suite) {
    const known = await commitChecks(tx, key, sha);
    const stored = known.find((seen) => seen.key === suite.key);
    // A run new to a suite seen completed, with an older run of its name: a re-run, which opens
    // the suite again (GitHub tells only the suite's own app of the re-request itself).
    const isRerun =
      stored?.status === "completed" &&
      suite.status !== "completed" &&
      !known.some((seen) => seen.key === check.key) &&
      known.some((seen) => seen.kind === "run" && seen.suiteId === check.suiteId && seen.name === check.name);
    if (isRerun) await requeueSuite(tx, key, sha, Number(suite.key.slice("suite:".length)));
    else if (!stored) await saveCommitChecks(tx, key, sha, [suite], now);
  }
  await saveCommitChecks(tx, key, sha, [check], now, { rerun: update.rerun });
}

/** A check every wait on its commit ignores (envhooks' own statuses, wait_for_checks_ignore) is not kept. */
function ignoredByAll(check: CommitCheck, waits: readonly StoredCheckWait[]): boolean {
  return waits.every((wait) => isIgnored(wait, check));
}

/** Decides each locked wait on a commit; those decided proceed or fail, and their rows go. */
async function settleWaits(
  tx: Queryable,
  deps: ApplyDeps,
  wakes: Wakes,
  key: string,
  sha: string,
  waits: readonly StoredCheckWait[],
  now: Date,
): Promise<string> {
  const checks = await commitChecks(tx, key, sha);
  const ended: string[] = [];
  const outcomes: string[] = [];
  for (const wait of waits) {
    const locked = await lockActivity(tx, wait.activityId);
    if (!locked?.activity.waiting_for_checks || locked.activity.state !== "pending") {
      ended.push(wait.activityId);
      continue;
    }
    const required =
      wait.mode === "required" ? await findRequiredChecks(tx, key, wait.branch, new Date(0)) : undefined;
    const decision = decideChecks(wait, checks, required, now);
    if (decision.outcome === "wait") {
      outcomes.push(
        `activity ${wait.activityId} waits for ${decision.pending.length > 0 ? decision.pending.join(", ") : "checks to appear"}`,
      );
      continue;
    }
    ended.push(wait.activityId);
    const next =
      decision.outcome === "proceed"
        ? await proceed(tx, deps, wakes, locked, decision.log, now)
        : await applyProgress(
            deps,
            tx,
            wakes,
            { ...locked, activity: failedWait(locked.activity, sha) },
            { state: "complete", result: "failure", log: decision.log },
            now,
          );
    outcomes.push(`activity ${next.id} ${decision.outcome === "proceed" ? "proceeds" : "failed its checks"}`);
  }
  if (ended.length > 0) await deleteCheckWaits(tx, key, sha, ended);
  return outcomes.join("; ") || `no activity waits for checks on ${sha} any more`;
}

/**
 * The activity goes ahead: without a runner it completes; with one it is relayed again, still
 * `pending` but no longer waiting (a runner starts now), and with `runner: github-actions` its
 * workflow is dispatched.
 */
async function proceed(
  tx: Queryable,
  deps: ApplyDeps,
  wakes: Wakes,
  locked: LockedActivity,
  log: string,
  now: Date,
): Promise<Activity> {
  const resumed = resumedActivity(locked.activity);
  const project = await findProjectByKey(tx, locked.projectKey);
  const config = storedConfig(project?.config);
  if (config.runner === "none") {
    return applyProgress(deps, tx, wakes, { ...locked, activity: resumed }, { state: "complete", log }, now);
  }
  const next: Activity = {
    ...resumed,
    updated_at: now.toISOString(),
    log: [resumed.log, log].join("\n"),
  };
  await updateActivity(tx, next, runnerDeadlineOf(config, now));
  wakes.activities.push(next);
  for (const id of (await deps.outbox?.write(tx, locked.projectKey, [
    { activity: next, sequence: locked.sequence },
  ])) ?? []) {
    wakes.integrations.add(id);
  }
  if (deps.github && (await writeActivityTask(tx, locked.projectKey, next, config.github))) {
    wakes.github.add(locked.projectKey);
  }
  const dispatch = deps.github && project && dispatchTask(next, config, project.defaultBranch);
  if (dispatch) {
    await writeTask(tx, locked.projectKey, dispatch);
    wakes.github.add(locked.projectKey);
  }
  return next;
}

const OUTCOME: Partial<Record<Activity["type"], string>> = {
  "environment.branch": "created",
  "environment.push": "rebuilt",
  "environment.activate": "activated",
};

/** The activity no longer waiting: its text says what it does again. */
function resumedActivity(activity: Activity): Activity {
  const { waiting_for_checks: _waiting, ...rest } = activity;
  const outcome = OUTCOME[activity.type] ?? "rebuilt";
  return { ...rest, text: activity.text.replace(/ waiting for checks on \w+\.$/, ` ${outcome}.`) };
}

function failedWait(activity: Activity, sha: string): Activity {
  const { waiting_for_checks: _waiting, ...rest } = activity;
  const outcome = OUTCOME[activity.type] ?? "rebuilt";
  return {
    ...rest,
    text: activity.text.replace(
      / waiting for checks on \w+\.$/,
      ` not ${outcome}: checks did not pass on ${sha.slice(0, 7)}.`,
    ),
  };
}

/** Thrown to roll the transaction back: the delivery was applied already. */
class AppliedAlready extends Error {}

/** The events `applyCheckEvents` applies together. */
export const CHECK_EVENTS: ReadonlySet<string> = new Set(["check_suite", "check_run", "status"]);

/**
 * Applies a run of one project's stored check and status events in one transaction, as
 * `followChecks` would one at a time: each is recorded against the waits on its commit, and each
 * commit they touched is settled once, at the end, from all they said. CI sends several events per
 * commit: one at a time through Probot, a busy repository's would pile up behind its pushes.
 * Throws (having applied none) when one cannot be read or the transaction fails: the caller applies
 * them one at a time then. Returns how many it applied.
 */
export async function applyCheckEvents(
  deps: ApplyDeps,
  events: ReadonlyArray<{ id: number; name: string; payload: string }>,
): Promise<number> {
  const now = (deps.now ?? (() => new Date()))();
  await inTransaction(deps, async (tx, wakes) => {
    const outcomes: Array<{ id: number; outcome: string }> = [];
    const commits = new Map<string, { key: string; sha: string; waits: StoredCheckWait[]; last: number }>();
    for (const event of events) {
      const update = checksUpdateOf(event.name, parseGithubPayload(event.name, JSON.parse(event.payload)));
      if (!update) {
        outcomes.push({ id: event.id, outcome: "no check of a commit" });
        continue;
      }
      const key = projectKey(update.repository);
      const at = `${key} ${update.sha}`;
      let commit = commits.get(at);
      if (!commit) {
        commit = { key, sha: update.sha, waits: await lockCheckWaits(tx, key, update.sha), last: 0 };
        commits.set(at, commit);
      }
      commit.last = outcomes.length;
      if (commit.waits.length === 0) {
        outcomes.push({ id: event.id, outcome: `no activity waits for checks on ${update.sha}` });
        continue;
      }
      await recordUpdate(tx, key, update, commit.waits, now);
      outcomes.push({ id: event.id, outcome: `${update.check.key} of ${update.sha} recorded` });
    }
    for (const commit of commits.values()) {
      if (commit.waits.length === 0) continue;
      const settled = await settleWaits(tx, deps, wakes, commit.key, commit.sha, commit.waits, now);
      const last = outcomes[commit.last];
      if (last) last.outcome = `${last.outcome}: ${settled}`;
    }
    if ((await markEventsProcessed(tx, outcomes)) !== outcomes.length) {
      throw new BatchAppliedAlready(`some of ${outcomes.length} check events were applied already`);
    }
  });
  return events.length;
}
