import { type ChatSummary, listedCommits, type Outcome } from "./chat-summary.ts";
import { htmlLink as a, escapeHtml, listWithin, truncateEscaped } from "./text.ts";

/** HipChat's room notification `message` is at most 10,000 characters. */
export const HIPCHAT_MESSAGE_LIMIT = 10_000;

const COLORS: Record<Outcome, "green" | "red" | "yellow" | "gray"> = {
  success: "green",
  failure: "red",
  in_progress: "yellow",
  cancelled: "gray",
};

/** A HipChat API v2 room notification in HTML; failures notify the room's members. */
export function hipchatMessage(summary: ChatSummary) {
  const head = [
    `<b>${escapeHtml(summary.title)}</b> · ${summary.outcomeLabel}`,
    [
      a(summary.projectUrl, summary.project),
      summary.environmentUrl ? a(summary.environmentUrl, summary.environment ?? "environment") : null,
      summary.pullRequest ? a(summary.pullRequest.url, `pull request #${summary.pullRequest.number}`) : null,
    ]
      .filter(Boolean)
      .join(" · "),
    escapeHtml(summary.text),
  ].join("<br>");
  const commits = listedCommits(summary).map((commit) =>
    [
      a(commit.url, commit.shortSha),
      escapeHtml(commit.subject),
      commit.author && `— ${escapeHtml(commit.author)}`,
    ]
      .filter(Boolean)
      .join(" "),
  );
  const budget = HIPCHAT_MESSAGE_LIMIT - head.length - 20;
  const parts = [truncateEscaped(head, HIPCHAT_MESSAGE_LIMIT / 2)];
  if (commits.length > 0)
    parts.push(listWithin(commits, summary.log ? budget / 2 : budget, { separator: "<br>" }));
  if (summary.log) parts.push(`<pre>${truncateEscaped(escapeHtml(summary.log), budget / 2 - 11)}</pre>`);
  return {
    message: truncateEscaped(parts.join("<br>"), HIPCHAT_MESSAGE_LIMIT),
    message_format: "html" as const,
    color: COLORS[summary.outcome],
    notify: summary.outcome === "failure",
  };
}
