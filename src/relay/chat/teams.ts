import type { ChatSummary, Outcome } from "./chat-summary.ts";
import { linkUrl, listWithin, markdownLink, truncate, utf8Bytes } from "./text.ts";

/** Teams rejects a message over 28 KB; envhooks keeps well under it. */
export const TEAMS_MESSAGE_LIMIT = 28 * 1024;
const LIST_LIMIT = 8 * 1024;

const COLORS: Record<Outcome, "Good" | "Attention" | "Warning" | "Default"> = {
  success: "Good",
  failure: "Attention",
  in_progress: "Warning",
  cancelled: "Default",
};

const commitLine = (commit: NonNullable<ChatSummary["commit"]>) =>
  [markdownLink(commit.shortSha, commit.url), commit.subject, commit.author && `— ${commit.author}`]
    .filter(Boolean)
    .join(" ");

/**
 * A Microsoft Teams message for a Workflows webhook: an Adaptive Card 1.4 attachment (Office 365
 * connectors, and their MessageCard, are retired).
 */
export function teamsMessage(summary: ChatSummary) {
  const facts = [
    { title: "Project", value: summary.project },
    summary.environment ? { title: "Environment", value: summary.environment } : null,
    summary.commit ? { title: "Commit", value: commitLine(summary.commit) } : null,
    summary.actor ? { title: "By", value: summary.actor } : null,
  ].filter((fact): fact is { title: string; value: string } => fact !== null);
  const body: object[] = [
    { type: "TextBlock", text: summary.title, weight: "Bolder", size: "Medium", wrap: true },
    {
      type: "TextBlock",
      text: summary.outcomeLabel,
      color: COLORS[summary.outcome],
      weight: "Bolder",
      spacing: "None",
    },
    { type: "TextBlock", text: truncate(summary.text, 2000), wrap: true },
    { type: "FactSet", facts },
  ];
  if (summary.commits.length > 1) {
    body.push({
      type: "TextBlock",
      text: listWithin(
        summary.commits.map((c) => `- ${commitLine(c)}`),
        LIST_LIMIT,
      ),
      wrap: true,
    });
  }
  if (summary.log) {
    body.push({
      type: "TextBlock",
      text: truncate(summary.log, LIST_LIMIT),
      wrap: true,
      fontType: "Monospace",
    });
  }
  const openUrl = (title: string, url: string | undefined) => {
    const href = url && linkUrl(url);
    return href ? { type: "Action.OpenUrl", title, url: href } : null;
  };
  const actions = [
    openUrl("Open environment", summary.environmentUrl ?? undefined),
    summary.pullRequest
      ? openUrl(`Pull request #${summary.pullRequest.number}`, summary.pullRequest.url)
      : null,
    openUrl("View commit", summary.commit?.url),
  ].filter((action) => action !== null);
  const message = {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body,
          ...(actions.length > 0 ? { actions } : {}),
        },
      },
    ],
  };
  if (utf8Bytes(JSON.stringify(message)) > TEAMS_MESSAGE_LIMIT) {
    throw new Error("a Teams message outgrew its limit; the lists above are meant to keep it small");
  }
  return message;
}
