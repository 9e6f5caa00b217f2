import type { Activity } from "../../activity/activity.ts";
import { escapeMarkdown, firstLine, linkUrl, markdownLink, truncate } from "./text.ts";

/** A commit's first line is cut to this many characters: a message shows many commits. */
const SUBJECT_LIMIT = 200;

/** How an activity went, as every chat shows it: a word and a colour. */
export type Outcome = "success" | "failure" | "in_progress" | "cancelled";

export interface ChatCommit {
  sha: string;
  shortSha: string;
  url: string;
  subject: string;
  author: string | null;
}

/** What a chat message says about an activity, before any service's markup. */
export interface ChatSummary {
  /** "Environment rebuilt: main" */
  title: string;
  outcome: Outcome;
  /** "Succeeded", "Failed", "In progress", "Cancelled" */
  outcomeLabel: string;
  project: string;
  projectUrl: string;
  environment: string | null;
  environmentUrl: string | null;
  pullRequest: { number: number; url: string } | null;
  /** The head commit, when the activity has one. */
  commit: ChatCommit | null;
  /** Every commit the activity carries, oldest first. */
  commits: ChatCommit[];
  actor: string | null;
  /** The activity's own sentence. */
  text: string;
  /** The end of the log, for failures. */
  log: string | null;
  at: string;
}

const VERBS: Record<Activity["type"], string> = {
  "environment.branch": "Environment created",
  "environment.push": "Environment rebuilt",
  "environment.delete": "Environment deleted",
  "environment.activate": "Environment activated",
  "environment.deactivate": "Environment deactivated",
  "environment.redeploy": "Environment redeployed",
  "integration.github.config": "Invalid .github/envhooks.yml",
  "integration.disabled": "Integration disabled",
  "integration.delivery.failed": "Delivery failed",
  "environment.runner.timeout": "Deploy runner timed out",
};

const OUTCOME_LABELS: Record<Outcome, string> = {
  success: "Succeeded",
  failure: "Failed",
  in_progress: "In progress",
  cancelled: "Cancelled",
};

export function outcomeOf(activity: Activity): Outcome {
  if (activity.state === "cancelled") return "cancelled";
  if (activity.state !== "complete") return "in_progress";
  return activity.result === "success" ? "success" : "failure";
}

export function summarize(activity: Activity): ChatSummary {
  const projectUrl = `https://github.com/${activity.project}`;
  const toCommit = (commit: Activity["payload"]["commits"][number]): ChatCommit => ({
    sha: commit.sha,
    shortSha: commit.sha.slice(0, 7),
    url: `${projectUrl}/commit/${commit.sha}`,
    subject: truncate(firstLine(commit.message), SUBJECT_LIMIT),
    author: commit.author.name || null,
  });
  const commits = activity.payload.commits.map(toCommit);
  const head = activity.parameters.new_commit;
  const commit =
    commits.find((c) => c.sha === head) ??
    commits.at(-1) ??
    (head
      ? {
          sha: head,
          shortSha: head.slice(0, 7),
          url: `${projectUrl}/commit/${head}`,
          subject: "",
          author: null,
        }
      : null);
  const environment = activity.parameters.environment;
  const pr = activity.github?.pull_request ?? null;
  const outcome = outcomeOf(activity);
  const environmentUrl = (activity.payload.environment as { url?: unknown } | null)?.url;
  return {
    title: environment ? `${VERBS[activity.type]}: ${environment}` : VERBS[activity.type],
    outcome,
    outcomeLabel: OUTCOME_LABELS[outcome],
    project: activity.project,
    projectUrl,
    environment,
    environmentUrl: typeof environmentUrl === "string" ? environmentUrl : null,
    pullRequest: pr ? { number: pr.number, url: pr.url ?? `${projectUrl}/pull/${pr.number}` } : null,
    commit,
    commits,
    actor: activity.payload.user?.display_name ?? null,
    text: activity.text,
    log: outcome === "failure" && activity.log ? activity.log.split("\n").slice(-20).join("\n") : null,
    at: activity.completed_at ?? activity.updated_at,
  };
}

/** The commits a message lists: those the activity carries, or at least its head commit. */
export function listedCommits(summary: ChatSummary): ChatCommit[] {
  if (summary.commits.length > 0) return summary.commits;
  return summary.commit ? [summary.commit] : [];
}

/** A commit as one line of markdown (Discord, Mattermost): linked short sha, subject, author. */
export function markdownCommitLine(commit: ChatCommit): string {
  return [
    markdownLink(`\`${commit.shortSha}\``, commit.url),
    escapeMarkdown(commit.subject),
    commit.author && `— ${escapeMarkdown(commit.author)}`,
  ]
    .filter(Boolean)
    .join(" ");
}

/** Where a message's title links: the environment, else the pull request, the commit, the project. */
export function titleLink(summary: ChatSummary): string | undefined {
  const candidates = [
    summary.environmentUrl,
    summary.pullRequest?.url,
    summary.commit?.url,
    summary.projectUrl,
  ];
  for (const url of candidates) {
    const href = url ? linkUrl(url) : undefined;
    if (href) return href;
  }
  return undefined;
}
