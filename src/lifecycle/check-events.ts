import type { CommitCheck } from "./decide-checks.ts";

/** What a `check_suite`, `check_run` or `status` event says about a commit's checks. */
export interface ChecksUpdate {
  /** `owner/repo`, as the repository is named in the event. */
  repository: string;
  sha: string;
  check: CommitCheck;
  /** A suite GitHub re-runs (`rerequested`), or whose run is a re-run: queued again. */
  rerun: boolean;
  /**
   * With a run: its suite as the event shows it. Recorded, a suite still running keeps the wait
   * from ending at its first run's end; a new run re-opens a completed suite.
   */
  suite?: CommitCheck | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: checked field by field below
type Payload = Record<string, any>;

/**
 * Reads a check or status event (https://docs.github.com/en/webhooks/webhook-events-and-payloads#check_suite,
 * #check_run, #status); undefined for one that says nothing about a commit's checks.
 */
export function checksUpdateOf(name: string, payload: Payload): ChecksUpdate | undefined {
  const repository = String(payload.repository?.full_name ?? "");
  if (name === "status") {
    if (typeof payload.sha !== "string" || typeof payload.context !== "string") return undefined;
    const state = String(payload.state);
    return {
      repository,
      sha: payload.sha,
      rerun: false,
      check: {
        kind: "status",
        key: `status:${payload.context}`,
        name: payload.context,
        suiteId: null,
        status: state === "pending" ? "in_progress" : "completed",
        conclusion: state === "pending" ? null : state,
        htmlUrl: typeof payload.target_url === "string" ? payload.target_url : null,
      },
    };
  }
  if (name === "check_suite") {
    const suite = payload.check_suite;
    if (!suite || typeof suite.head_sha !== "string") return undefined;
    const rerun = payload.action === "rerequested" || payload.action === "requested";
    return {
      repository,
      sha: suite.head_sha,
      rerun,
      check: {
        kind: "suite",
        key: `suite:${suite.id}`,
        name: String(suite.app?.slug ?? suite.app?.name ?? "check suite"),
        suiteId: null,
        status: rerun ? "queued" : checkStatus(suite.status),
        conclusion: rerun ? null : (suite.conclusion ?? null),
        htmlUrl: null,
      },
    };
  }
  if (name === "check_run") {
    const run = payload.check_run;
    if (!run || typeof run.head_sha !== "string") return undefined;
    const rerun = payload.action === "rerequested";
    const suiteId = typeof run.check_suite?.id === "number" ? run.check_suite.id : null;
    return {
      repository,
      sha: run.head_sha,
      rerun,
      check: {
        kind: "run",
        key: `run:${run.id}`,
        name: String(run.name),
        suiteId,
        status: rerun ? "queued" : checkStatus(run.status),
        conclusion: rerun ? null : (run.conclusion ?? null),
        htmlUrl: typeof run.html_url === "string" ? run.html_url : null,
      },
      suite:
        suiteId === null
          ? undefined
          : {
              kind: "suite",
              key: `suite:${suiteId}`,
              name: String(run.app?.slug ?? run.app?.name ?? "check suite"),
              suiteId: null,
              status: checkStatus(run.check_suite?.status),
              conclusion: run.check_suite?.conclusion ?? null,
              htmlUrl: null,
            },
    };
  }
  return undefined;
}

/** GitHub's check statuses: queued, in_progress, completed (and waiting, requested, pending: not started). */
export function checkStatus(status: unknown): CommitCheck["status"] {
  if (status === "completed") return "completed";
  if (status === "in_progress") return "in_progress";
  return "queued";
}
