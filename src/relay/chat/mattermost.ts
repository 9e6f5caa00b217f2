import {
  type ChatSummary,
  listedCommits,
  markdownCommitLine,
  type Outcome,
  titleLink,
} from "./chat-summary.ts";
import { escapeMarkdown, listWithin, markdownLink, truncate } from "./text.ts";

/** Mattermost cuts a post's text at 16,383 characters; envhooks keeps the whole message under it. */
export const MATTERMOST_TEXT_LIMIT = 16_383;

export const CHAT_COLORS: Record<Outcome, string> = {
  success: "#2eb67d",
  failure: "#e01e5a",
  in_progress: "#ecb22e",
  cancelled: "#979c9f",
};

/** A Mattermost incoming-webhook post: Slack-compatible `text` and one coloured attachment. */
export function mattermostMessage(summary: ChatSummary) {
  const budget = MATTERMOST_TEXT_LIMIT - 2000;
  const commits = listedCommits(summary);
  const parts = [
    truncate(escapeMarkdown(summary.text), 2000),
    listWithin(commits.map(markdownCommitLine), budget / 2),
  ];
  if (summary.log) parts.push(`\`\`\`\n${truncate(summary.log.replace(/`/g, "'"), budget / 2 - 8)}\n\`\`\``);
  const fields = [
    {
      short: true,
      title: "Project",
      value: markdownLink(escapeMarkdown(summary.project), summary.projectUrl),
    },
    summary.environment
      ? {
          short: true,
          title: "Environment",
          value: summary.environmentUrl
            ? markdownLink(escapeMarkdown(summary.environment), summary.environmentUrl)
            : escapeMarkdown(summary.environment),
        }
      : null,
    summary.pullRequest
      ? {
          short: true,
          title: "Pull request",
          value: markdownLink(`#${summary.pullRequest.number}`, summary.pullRequest.url),
        }
      : null,
    { short: true, title: "Result", value: summary.outcomeLabel },
  ].filter((field) => field !== null);
  const title = truncate(summary.title, 250);
  return {
    text: `#### ${escapeMarkdown(title)} · ${summary.outcomeLabel}`,
    attachments: [
      {
        fallback: `${title} · ${summary.outcomeLabel}`,
        color: CHAT_COLORS[summary.outcome],
        title,
        title_link: titleLink(summary),
        text: parts.filter(Boolean).join("\n\n"),
        fields,
        footer: summary.actor ? `by ${summary.actor}` : "envhooks",
      },
    ],
  };
}
