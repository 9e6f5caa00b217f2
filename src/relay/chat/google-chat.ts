import { type ChatSummary, listedCommits } from "./chat-summary.ts";
import { CHAT_COLORS } from "./mattermost.ts";
import { escapeHtml, htmlLink, linkUrl, listWithin, truncateEscaped, utf8Bytes } from "./text.ts";

/** Google Chat refuses a message over 32,000 bytes. */
export const GOOGLE_CHAT_MESSAGE_LIMIT = 32_000;
const WIDGET_LIMIT = 8_000;

const commitLine = (commit: NonNullable<ChatSummary["commit"]>) =>
  [
    htmlLink(commit.url, commit.shortSha),
    escapeHtml(commit.subject),
    commit.author && `— ${escapeHtml(commit.author)}`,
  ]
    .filter(Boolean)
    .join(" ");

/** A button that opens `url`; none for a URL that is not http(s). */
function button(text: string, url: string | undefined) {
  const href = url && linkUrl(url);
  return href ? { text, onClick: { openLink: { url: href } } } : null;
}

/**
 * A Google Chat incoming-webhook message: `text` for notifications and a `cardsV2` card. With a
 * `threadKey`, one environment's messages reply in one thread.
 */
export function googleChatMessage(
  summary: ChatSummary,
  { threadKey }: { threadKey?: string | undefined } = {},
) {
  const widgets: object[] = [
    {
      decoratedText: {
        topLabel: "Result",
        text: `<font color="${CHAT_COLORS[summary.outcome]}"><b>${summary.outcomeLabel}</b></font>`,
      },
    },
    { textParagraph: { text: truncateEscaped(escapeHtml(summary.text), 2000) } },
  ];
  const commits = listedCommits(summary);
  if (commits.length > 0) {
    widgets.push({
      textParagraph: {
        text: listWithin(commits.map(commitLine), WIDGET_LIMIT, { separator: "<br>", measure: utf8Bytes }),
      },
    });
  }
  if (summary.log) {
    widgets.push({
      textParagraph: { text: `<i>${truncateEscaped(escapeHtml(summary.log), WIDGET_LIMIT, utf8Bytes)}</i>` },
    });
  }
  const buttons = [
    button("Open environment", summary.environmentUrl ?? undefined),
    summary.pullRequest
      ? button(`Pull request #${summary.pullRequest.number}`, summary.pullRequest.url)
      : null,
    button("View commit", summary.commit?.url),
  ].filter((b) => b !== null);
  if (buttons.length > 0) widgets.push({ buttonList: { buttons } });
  return {
    text: `${summary.title} · ${summary.outcomeLabel}`,
    cardsV2: [
      {
        cardId: "envhooks-activity",
        card: {
          header: {
            title: summary.title,
            subtitle: [summary.project, summary.actor && `by ${summary.actor}`].filter(Boolean).join(" · "),
          },
          sections: [{ widgets }],
        },
      },
    ],
    ...(threadKey ? { thread: { threadKey } } : {}),
  };
}
