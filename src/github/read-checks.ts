import type { ProbotOctokit } from "probot";
import { checkStatus } from "../lifecycle/check-events.ts";
import type { CommitCheck } from "../lifecycle/decide-checks.ts";

type Octokit = InstanceType<typeof ProbotOctokit>;

/** A `read-checks` task: the state of a waited-for commit's checks, read once (and after a restart). */
export interface ReadChecksRequest {
  kind: "read-checks";
  sha: string;
  /** With `required`: the branch whose required checks are read too (unless known). */
  requiredOf: string | null;
}

export interface ChecksRead {
  checks: CommitCheck[];
  /** The branch's required checks, when they were read. */
  required?: { branch: string; names: string[] } | undefined;
}

/**
 * Reads a commit's check suites, check runs and combined status, 100 of each (more is rare on
 * one commit; events bring the rest):
 * https://docs.github.com/en/rest/checks/suites#list-check-suites-for-a-git-reference,
 * https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference,
 * https://docs.github.com/en/rest/commits/statuses#get-the-combined-status-for-a-specific-reference
 */
export async function readCommitChecks(
  octokit: Octokit,
  { owner, repo, sha }: { owner: string; repo: string; sha: string },
): Promise<CommitCheck[]> {
  const [suites, runs, combined] = await Promise.all([
    octokit.rest.checks.listSuitesForRef({ owner, repo, ref: sha, per_page: 100 }),
    octokit.rest.checks.listForRef({ owner, repo, ref: sha, per_page: 100, filter: "all" }),
    octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: sha, per_page: 100 }),
  ]);
  const checks: CommitCheck[] = [];
  for (const suite of suites.data.check_suites ?? []) {
    checks.push({
      kind: "suite",
      key: `suite:${suite.id}`,
      name: String(suite.app?.slug ?? suite.app?.name ?? "check suite"),
      suiteId: null,
      status: checkStatus(suite.status),
      conclusion: suite.conclusion ?? null,
      htmlUrl: null,
    });
  }
  for (const run of runs.data.check_runs ?? []) {
    checks.push({
      kind: "run",
      key: `run:${run.id}`,
      name: run.name,
      suiteId: run.check_suite?.id ?? null,
      status: checkStatus(run.status),
      conclusion: run.conclusion ?? null,
      htmlUrl: run.html_url ?? null,
    });
  }
  for (const status of combined.data.statuses ?? []) {
    checks.push({
      kind: "status",
      key: `status:${status.context}`,
      name: status.context,
      suiteId: null,
      status: status.state === "pending" ? "in_progress" : "completed",
      conclusion: status.state === "pending" ? null : status.state,
      htmlUrl: status.target_url ?? null,
    });
  }
  return checks;
}

/**
 * The checks a branch requires: its protection's required status checks (in `GET …/branches/{branch}`,
 * readable with contents permission) and the `required_status_checks` rules of the rulesets that
 * apply to it (https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch).
 */
export async function readRequiredChecks(
  octokit: Octokit,
  { owner, repo, branch }: { owner: string; repo: string; branch: string },
): Promise<string[]> {
  const names = new Set<string>();
  try {
    const { data } = await octokit.rest.repos.getBranch({ owner, repo, branch });
    const required = data.protection?.required_status_checks;
    for (const context of required?.contexts ?? []) names.add(context);
    for (const check of required?.checks ?? []) names.add(check.context);
  } catch (error) {
    // A branch gone since the push requires nothing any more.
    if ((error as { status?: unknown }).status !== 404) throw error;
  }
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/rules/branches/{branch}", {
      owner,
      repo,
      branch,
      per_page: 100,
    });
    for (const rule of data as Array<{ type: string; parameters?: Record<string, unknown> }>) {
      if (rule.type !== "required_status_checks") continue;
      const checks = (rule.parameters?.required_status_checks ?? []) as Array<{ context: string }>;
      for (const check of checks) names.add(check.context);
    }
  } catch (error) {
    // GitHub Enterprise Server before rulesets: protection only.
    if ((error as { status?: unknown }).status !== 404) throw error;
  }
  return [...names].sort();
}
