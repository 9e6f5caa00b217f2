import { globMatches } from "../relay/match-integration.ts";

/** A check of a commit as GitHub last showed it: a check suite, a check run or a commit status. */
export interface CommitCheck {
  kind: "suite" | "run" | "status";
  /** `suite:<id>`, `run:<id>` or `status:<context>`. */
  key: string;
  /** A run's name, a suite's app, a status's context. */
  name: string;
  /** The suite a run belongs to. */
  suiteId: number | null;
  status: "queued" | "in_progress" | "completed";
  /** For a completed check: GitHub's conclusion (a status's success, failure or error). */
  conclusion: string | null;
  htmlUrl: string | null;
}

export interface CheckWait {
  mode: "all" | "required";
  /** Globs of checks that never gate (envhooks/* included). */
  ignore: readonly string[];
  startedAt: Date;
  graceUntil: Date;
  timeoutAt: Date;
}

export type ChecksDecision =
  | { outcome: "wait"; pending: string[] }
  | { outcome: "proceed"; log: string }
  | { outcome: "fail"; log: string };

/** envhooks' own statuses (`envhooks/<environment>`, `envhooks/config`) never gate a build. */
export const OWN_CHECKS = "envhooks/*";

/** Conclusions that let a build go ahead: https://docs.github.com/en/rest/checks/runs */
const PASSING = new Set(["success", "neutral", "skipped"]);

/**
 * Whether a commit's checks let its build go ahead now. `required`: the names the branch requires
 * (`undefined` until read; unused with `mode: all`).
 *
 * - Every check that counts has completed: proceed when each passed (success, neutral, skipped),
 *   else fail naming the failing ones with their pages.
 * - Nothing that counts appeared by the grace: proceed without checks (a repository without CI).
 * - Past the timeout: fail naming those still pending.
 * - Otherwise: wait.
 *
 * `all`: a check suite is settled once it completed, and is named through its runs (the newest run
 * of each name: a re-run replaces the failed one); a run of a suite not seen, and every commit
 * status, count on their own. A suite still queued with no run by the grace never started (an
 * app that runs nothing for this push) and does not count. `required`: only runs and statuses
 * with a required name count, each pending until it completed; none required: proceed at once;
 * the required checks never read by the timeout: fail.
 */
export function decideChecks(
  wait: CheckWait,
  checks: readonly CommitCheck[],
  required: readonly string[] | undefined,
  now: Date,
): ChecksDecision {
  const ignored = (check: CommitCheck) => isIgnored(wait, check);
  const suites = new Map<number, CommitCheck>();
  for (const check of checks) if (check.kind === "suite" && !ignored(check)) suites.set(idOf(check), check);
  const ignoredSuites = new Set(
    checks.filter((check) => check.kind === "suite" && ignored(check)).map((check) => idOf(check)),
  );
  const runs = newestRuns(checks).filter(
    (run) => !ignored(run) && (run.suiteId === null || !ignoredSuites.has(run.suiteId)),
  );
  const statuses = checks.filter((check) => check.kind === "status" && !ignored(check));

  const pending: string[] = [];
  const failing: CommitCheck[] = [];
  const passed: CommitCheck[] = [];
  const judge = (check: CommitCheck) => {
    if (check.status !== "completed") pending.push(check.name);
    else if (PASSING.has(check.conclusion ?? "")) passed.push(check);
    else failing.push(check);
  };
  if (wait.mode === "required") {
    if (required === undefined) {
      // Never read (GitHub refused the read): the wait ends at its timeout all the same.
      if (now < wait.timeoutAt) return { outcome: "wait", pending: ["the branch's required checks"] };
      const minutes = Math.round((wait.timeoutAt.getTime() - wait.startedAt.getTime()) / 60_000);
      return {
        outcome: "fail",
        log: `The branch's required checks could not be read within ${minutes}m (wait_for_checks_timeout): the build does not go ahead.`,
      };
    }
    if (required.length === 0) {
      return { outcome: "proceed", log: "The branch requires no checks: the build goes ahead." };
    }
    for (const name of required) {
      const matching = [...runs, ...statuses].filter((check) => check.name === name);
      if (matching.length === 0) pending.push(name);
      for (const check of matching) judge(check);
    }
  } else {
    for (const suite of suites.values()) {
      const own = runs.filter((run) => run.suiteId === idOf(suite));
      if (own.length === 0) {
        // A suite GitHub made for an app that runs nothing on this push stays queued for ever.
        if (suite.status === "queued" && now >= wait.graceUntil) continue;
        judge(suite);
      } else if (suite.status !== "completed") {
        const running = own.filter((run) => run.status !== "completed");
        pending.push(...(running.length > 0 ? running : [suite]).map((check) => check.name));
      } else {
        for (const run of own) judge(run);
        if (
          !PASSING.has(suite.conclusion ?? "") &&
          !own.some((run) => run.status === "completed" && !PASSING.has(run.conclusion ?? ""))
        )
          failing.push(suite);
      }
    }
    for (const run of runs) if (run.suiteId === null || !suites.has(run.suiteId)) judge(run);
    for (const status of statuses) judge(status);
  }
  const seen = suites.size + runs.length + statuses.length;
  if (seen === 0 || pending.length + failing.length + passed.length === 0) {
    if (now >= wait.graceUntil) {
      const grace = Math.round((wait.graceUntil.getTime() - wait.startedAt.getTime()) / 1000);
      return {
        outcome: "proceed",
        log: `No check suite or commit status appeared within ${describeSeconds(grace)} of the push (wait_for_checks_grace): the build goes ahead without checks.`,
      };
    }
    if (seen === 0) return { outcome: "wait", pending: [] };
  }
  if (pending.length === 0) {
    if (failing.length === 0) {
      return {
        outcome: "proceed",
        log: `Checks passed: ${unique(passed.map((check) => `${check.name} (${check.conclusion})`)).join(", ")}.`,
      };
    }
    return {
      outcome: "fail",
      log: [
        "Checks failed: the build does not go ahead.",
        ...failing.map(
          (check) =>
            `- ${check.name}: ${check.conclusion ?? "failure"}${check.htmlUrl ? ` ${check.htmlUrl}` : ""}`,
        ),
      ].join("\n"),
    };
  }
  if (now >= wait.timeoutAt) {
    const minutes = Math.round((wait.timeoutAt.getTime() - wait.startedAt.getTime()) / 60_000);
    return {
      outcome: "fail",
      log: `Checks still pending after ${minutes}m (wait_for_checks_timeout): ${unique(pending).join(", ")}. The build does not go ahead.`,
    };
  }
  return { outcome: "wait", pending: unique(pending) };
}

/** Whether a wait ignores a check: envhooks' own, or one `wait_for_checks_ignore` names. */
export function isIgnored(wait: Pick<CheckWait, "ignore">, check: Pick<CommitCheck, "name">): boolean {
  return [...wait.ignore, OWN_CHECKS].some((pattern) => globMatches(pattern, check.name));
}

/** Of several runs of one name in a suite (a re-run), the newest (highest id) counts. */
function newestRuns(checks: readonly CommitCheck[]): CommitCheck[] {
  const newest = new Map<string, CommitCheck>();
  for (const check of checks) {
    if (check.kind !== "run") continue;
    const key = `${check.suiteId}:${check.name}`;
    const current = newest.get(key);
    if (!current || idOf(check) > idOf(current)) newest.set(key, check);
  }
  return [...newest.values()];
}

function idOf(check: CommitCheck): number {
  return Number(check.key.slice(check.key.indexOf(":") + 1));
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}

function describeSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}
