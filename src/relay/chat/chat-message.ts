import type { Activity } from "../../activity/activity.ts";
import type { ChatConfig, ChatType } from "../integration.schema.ts";
import { summarize } from "./chat-summary.ts";
import { discordMessage } from "./discord.ts";
import { googleChatMessage } from "./google-chat.ts";
import { hipchatMessage } from "./hipchat.ts";
import { mattermostMessage } from "./mattermost.ts";
import { slackMessage } from "./slack.ts";
import { teamsMessage } from "./teams.ts";

/** The request body a chat channel gets for an activity. */
export function chatMessage(type: ChatType, activity: Activity, config: ChatConfig): object {
  const summary = summarize(activity);
  switch (type) {
    case "slack":
      return slackMessage(summary);
    case "discord":
      return discordMessage(summary);
    case "teams":
      return teamsMessage(summary);
    case "mattermost":
      return mattermostMessage(summary);
    case "googlechat":
      return googleChatMessage(summary, {
        threadKey:
          config.thread_by_environment && summary.environment
            ? `envhooks/${activity.project}/${summary.environment}`
            : undefined,
      });
    case "hipchat":
      return hipchatMessage(summary);
  }
}
