import type { RESTPostAPIWebhookWithTokenJSONBody } from "discord-api-types/v10";
import {
  type ChatSummary,
  listedCommits,
  markdownCommitLine,
  type Outcome,
  titleLink,
} from "./chat-summary.ts";
import { escapeMarkdown, listWithin, markdownLink, truncate } from "./text.ts";

/** Discord's embed limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits */
const LIMITS = {
  content: 2000,
  title: 256,
  description: 4096,
  fieldName: 256,
  fieldValue: 1024,
  fields: 25,
  total: 6000,
};

export const DISCORD_COLORS: Record<Outcome, number> = {
  success: 0x2eb67d,
  failure: 0xe01e5a,
  in_progress: 0xecb22e,
  cancelled: 0x979c9f,
};

/** A Discord webhook message: one embed, and no mention in it can ping anyone. */
export function discordMessage(summary: ChatSummary): RESTPostAPIWebhookWithTokenJSONBody {
  const fields: Array<{ name: string; value: string; inline?: boolean }> = [
    {
      name: "Project",
      value: markdownLink(escapeMarkdown(summary.project), summary.projectUrl),
      inline: true,
    },
  ];
  if (summary.environment) {
    const name = escapeMarkdown(summary.environment);
    fields.push({
      name: "Environment",
      value: summary.environmentUrl ? markdownLink(name, summary.environmentUrl) : name,
      inline: true,
    });
  }
  if (summary.pullRequest) {
    fields.push({
      name: "Pull request",
      value: markdownLink(`#${summary.pullRequest.number}`, summary.pullRequest.url),
      inline: true,
    });
  }
  fields.push({ name: "Result", value: summary.outcomeLabel, inline: true });
  if (summary.log) {
    fields.push({
      name: "Log",
      value: `\`\`\`\n${truncate(summary.log.replace(/`/g, "'"), LIMITS.fieldValue - 8)}\n\`\`\``,
    });
  }

  const title = truncate(summary.title, LIMITS.title);
  const footer = summary.actor ? `by ${summary.actor}` : "envhooks";
  const fixed =
    title.length +
    footer.length +
    fields.reduce((sum, field) => sum + field.name.length + field.value.length, 0);
  const commits = listedCommits(summary);
  const budget = Math.min(LIMITS.description, LIMITS.total - fixed);
  const text = truncate(escapeMarkdown(summary.text), Math.floor(budget / 2));
  const list = listWithin(commits.map(markdownCommitLine), budget - text.length - 2);
  const description = [text, list].filter(Boolean).join("\n\n");
  return {
    content: truncate(`**${escapeMarkdown(summary.title)}** · ${summary.outcomeLabel}`, LIMITS.content),
    embeds: [
      {
        title,
        url: titleLink(summary),
        description,
        color: DISCORD_COLORS[summary.outcome],
        fields: fields.slice(0, LIMITS.fields),
        footer: { text: footer.slice(0, 2048) },
        timestamp: summary.at,
      },
    ],
    allowed_mentions: { parse: [] },
  };
}
