import { describe, expect, it } from "vitest";
import { type ChatSummary, summarize } from "../../src/relay/chat/chat-summary.ts";
import { discordMessage } from "../../src/relay/chat/discord.ts";
import { googleChatMessage } from "../../src/relay/chat/google-chat.ts";
import { hipchatMessage } from "../../src/relay/chat/hipchat.ts";
import { mattermostMessage } from "../../src/relay/chat/mattermost.ts";
import { slackMessage } from "../../src/relay/chat/slack.ts";
import { teamsMessage } from "../../src/relay/chat/teams.ts";
import { sampleActivity } from "../../src/relay/sample-activity.ts";

/** Each ends the link it is put in, in one markup or another, and starts a link of its own. */
const SLACK = "https://x.example.com/a><!channel> click <https://evil.example.com|here";
const MARKDOWN = "https://x.example.com/a) [click](https://evil.example.com";
const HTML = 'https://x.example.com/"><img src=x onerror=alert(1)>';
const SCRIPT = "javascript:alert(document.cookie)//https://x.example.com";

const base = summarize(sampleActivity("acme/shop"));
/** A summary whose every URL is `url`, as a formatter could be handed one. */
const withUrls = (url: string): ChatSummary => ({
  ...base,
  environment: "main",
  environmentUrl: url,
  pullRequest: { number: 7, url },
  commit: base.commit && { ...base.commit, url },
  commits: base.commits.map((commit) => ({ ...commit, url })),
});

const FORMATTERS = {
  slack: slackMessage,
  discord: discordMessage,
  mattermost: mattermostMessage,
  teams: teamsMessage,
  googlechat: (summary: ChatSummary) => googleChatMessage(summary),
  hipchat: hipchatMessage,
};

describe("a hostile URL cannot break out of its link", () => {
  it("Slack: no <!channel>, no second link, every <url|label> whole", () => {
    const body = JSON.stringify(slackMessage(withUrls(SLACK)));
    expect(body).not.toContain("<!channel>");
    expect(body).not.toContain("<https://evil");
    expect(body).toContain(
      "<https://x.example.com/a%3E%3C!channel%3E%20click%20%3Chttps://evil.example.com%7Chere|",
    );
  });

  it.each(["discord", "mattermost"] as const)("%s: the link target stays one target", (type) => {
    const body = JSON.stringify(FORMATTERS[type](withUrls(MARKDOWN)));
    expect(body).not.toContain("](https://evil");
    expect(body).toContain("(https://x.example.com/a%29%20%5Bclick%5D%28https://evil.example.com)");
  });

  it("Teams: the commit's markdown link stays one target", () => {
    const body = JSON.stringify(teamsMessage(withUrls(MARKDOWN)));
    expect(body).not.toContain("](https://evil");
  });

  it.each(["hipchat", "googlechat"] as const)("%s: the href attribute cannot be closed", (type) => {
    const body = JSON.stringify(FORMATTERS[type](withUrls(HTML)));
    expect(body).not.toContain("<img");
    expect(body).not.toMatch(/href=\\"[^"\\]*\\"></);
  });

  it.each(Object.keys(FORMATTERS) as Array<keyof typeof FORMATTERS>)(
    "%s: a javascript: URL is not linked at all",
    (type) => {
      const body = JSON.stringify(FORMATTERS[type](withUrls(SCRIPT)));
      expect(body).not.toMatch(/javascript:/i);
    },
  );

  it.each(Object.keys(FORMATTERS) as Array<keyof typeof FORMATTERS>)(
    "%s: an ordinary URL is linked as it was written",
    (type) => {
      const url = "https://pr-7.preview.example.com/shop/?a=1&b=two#top";
      const body = JSON.stringify(FORMATTERS[type](withUrls(url)));
      const shown = type === "hipchat" ? url.replace("&", "&amp;") : url;
      expect(body).toContain(shown);
    },
  );
});
