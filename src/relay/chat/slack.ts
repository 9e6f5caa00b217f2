import type { ContextBlock, KnownBlock, SectionBlock } from "@slack/types";
import type { ChatSummary, Outcome } from "./chat-summary.ts";
import { escapeEntities, escapeSlack, linkUrl, listWithin, truncateEscaped } from "./text.ts";

/** Slack: a section's text is at most 3,000 characters; a message at most 50 blocks. */
const SECTION_LIMIT = 3000;
const FALLBACK_LIMIT = 3000;

const MARKS: Record<Outcome, string> = {
  success: ":large_green_circle:",
  failure: ":red_circle:",
  in_progress: ":large_yellow_circle:",
  cancelled: ":white_circle:",
};

/** `<url|label>`, with a URL that cannot end the link early (`>`, `|`); the label alone for a URL not http(s). */
function link(url: string, escapedLabel: string): string {
  const href = linkUrl(url);
  return href ? `<${href}|${escapedLabel}>` : escapedLabel;
}

const commitLine = (commit: NonNullable<ChatSummary["commit"]>) =>
  [
    link(commit.url, `\`${commit.shortSha}\``),
    escapeSlack(commit.subject),
    commit.author && `— ${escapeSlack(commit.author)}`,
  ]
    .filter(Boolean)
    .join(" ");

/** A Slack incoming-webhook message: `text` for notifications, `blocks` for the channel. */
export function slackMessage(summary: ChatSummary): { text: string; blocks: KnownBlock[] } {
  const blocks: KnownBlock[] = [
    section(
      `${MARKS[summary.outcome]} *${escapeSlack(summary.title)}* · ${summary.outcomeLabel}\n${escapeSlack(summary.text)}`,
    ),
  ];
  if (summary.commits.length > 1) {
    blocks.push(section(listWithin(summary.commits.map(commitLine), SECTION_LIMIT)));
  } else if (summary.commit) {
    blocks.push(section(commitLine(summary.commit)));
  }
  if (summary.log) {
    // Inside the fence only `&`, `<` and `>` need escaping; the fences take 6 characters.
    blocks.push(section(`\`\`\`${truncateEscaped(escapeEntities(summary.log), SECTION_LIMIT - 6)}\`\`\``));
  }
  const context = [
    link(summary.projectUrl, escapeSlack(summary.project)),
    summary.environmentUrl
      ? link(summary.environmentUrl, escapeSlack(summary.environment ?? "environment"))
      : null,
    summary.pullRequest
      ? link(summary.pullRequest.url, escapeSlack(`pull request #${summary.pullRequest.number}`))
      : null,
    summary.actor ? escapeSlack(summary.actor) : null,
  ].filter((element): element is string => element !== null);
  const footer: ContextBlock = {
    type: "context",
    elements: context.map((text) => ({ type: "mrkdwn", text })),
  };
  blocks.push(footer);
  return {
    text: truncateEscaped(
      escapeEntities(`${summary.title} · ${summary.outcomeLabel} (${summary.project})`),
      FALLBACK_LIMIT,
    ),
    blocks,
  };
}

function section(text: string): SectionBlock {
  return { type: "section", text: { type: "mrkdwn", text: truncateEscaped(text, SECTION_LIMIT) } };
}
