import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import type { Activity, ActivityEnvironment } from "../../src/activity/activity.ts";
import { buildActivity } from "../../src/activity/build-activity.ts";
import { chatMessage } from "../../src/relay/chat/chat-message.ts";
import { type ChatSummary, summarize } from "../../src/relay/chat/chat-summary.ts";
import { discordMessage } from "../../src/relay/chat/discord.ts";
import { googleChatMessage } from "../../src/relay/chat/google-chat.ts";
import { hipchatMessage } from "../../src/relay/chat/hipchat.ts";
import { mattermostMessage } from "../../src/relay/chat/mattermost.ts";
import { slackMessage } from "../../src/relay/chat/slack.ts";
import { teamsMessage } from "../../src/relay/chat/teams.ts";
import { escapeHtml, listWithin, truncate, truncateEscaped, utf8Bytes } from "../../src/relay/chat/text.ts";
import { CHAT_TYPES, type ChatType } from "../../src/relay/integration.schema.ts";

// The package's ES modules import without file extensions, which Node refuses; its bundle loads.
const AdaptiveCards = createRequire(import.meta.url)("adaptivecards/dist/adaptivecards.js") as {
  AdaptiveCard: new () => { parse(json: unknown, context: unknown): void };
  SerializationContext: new () => { eventCount: number; getEventAt(i: number): { message: string } };
};

const AT = new Date("2026-11-24T10:00:00Z");
const PROJECT = "acme/shop";
const sha = (n: number) => `${n.toString(16).padStart(4, "0")}c0ffee`.padEnd(40, "0");

function environment(name: string, extra: Partial<ActivityEnvironment> = {}): ActivityEnvironment {
  return {
    id: name,
    name,
    machine_name: name.replace(/[^a-z0-9]+/g, "-"),
    title: name,
    project: PROJECT,
    parent: "main",
    head_commit: sha(3),
    status: "active",
    is_main: false,
    is_dirty: false,
    has_code: true,
    deployment_target: "local",
    clone_parent_data: false,
    pull_request: null,
    url: null,
    created_at: AT.toISOString(),
    updated_at: AT.toISOString(),
    ...extra,
  };
}

const commit = (n: number, message: string, author = "Mona Lisa") => ({
  sha: sha(n),
  message,
  author: { name: author, email: "mona@example.com" },
});

const USER = { id: 1, login: "octocat" };

/** The four activities every formatter is shown with. */
const ACTIVITIES: Record<string, Activity> = {
  push: buildActivity({
    id: "push000000001",
    type: "environment.push",
    project: PROJECT,
    environment: environment("feature/login"),
    oldCommit: sha(1),
    newCommit: sha(3),
    commits: [commit(2, "Add the login form\n\nWith validation."), commit(3, "Fix the submit button")],
    user: USER,
    text: "octocat pushed 2 commits to feature/login: environment feature/login rebuilt.",
    log: "Rebuilding feature/login",
    result: "success",
    at: AT,
    github: { event: "push", delivery_id: "d1", pull_request: null },
  }),
  pullRequest: buildActivity({
    id: "prcreated0001",
    type: "environment.branch",
    project: PROJECT,
    environment: environment("pr-42", { pull_request: 42, title: "Pull request #42" }),
    oldCommit: null,
    newCommit: sha(3),
    commits: [commit(3, "Fix the submit button")],
    user: USER,
    text: "octocat opened pull request #42: environment pr-42 created.",
    log: "Creating pr-42",
    result: "success",
    at: AT,
    github: {
      event: "pull_request",
      delivery_id: "d2",
      pull_request: { number: 42, url: `https://github.com/${PROJECT}/pull/42` },
    },
  }),
  delete: buildActivity({
    id: "delete0000001",
    type: "environment.delete",
    project: PROJECT,
    environment: environment("feature/login", { status: "deleted" }),
    oldCommit: sha(3),
    newCommit: sha(3),
    commits: [],
    user: USER,
    text: "octocat deleted branch feature/login: environment feature/login deleted.",
    log: "Deleting feature/login",
    result: "success",
    at: AT,
    github: { event: "delete", delivery_id: "d3", pull_request: null },
  }),
  failure: buildActivity({
    id: "failure000001",
    type: "environment.push",
    project: PROJECT,
    environment: environment("main", { is_main: true, parent: null }),
    oldCommit: sha(1),
    newCommit: sha(2),
    commits: [commit(2, "Upgrade the database driver")],
    user: USER,
    text: "octocat pushed 1 commit to main: environment main rebuilt.",
    log: "Building application\nnpm ci\nE: npm ci exited with 1",
    result: "failure",
    at: AT,
    github: { event: "push", delivery_id: "d4", pull_request: null },
  }),
};

const ALL = Object.keys(ACTIVITIES);

describe.each(CHAT_TYPES)("%s messages", (type) => {
  it.each(ALL)("for a %s", (name) => {
    const activity = ACTIVITIES[name] as Activity;
    expect(chatMessage(type, activity, chatConfig(type))).toMatchSnapshot();
  });
});

function chatConfig(type: ChatType) {
  return {
    events: ["*"],
    states: ["complete" as const],
    environments: ["*"],
    excluded_environments: [],
    timeout_ms: 15_000,
    retry_schedule: [5, 300, 1800, 7200, 18000],
    ...(type === "googlechat" ? { thread_by_environment: true } : {}),
  };
}

/** Oversized input: many commits, a huge message, multi-byte characters where cuts fall. */
function oversized(): ChatSummary {
  const emoji = "🚀"; // two UTF-16 units, four UTF-8 bytes
  const huge = `${"é".repeat(10)}${emoji.repeat(25_000)} & <b>bold</b>`; // ≈ 100 KB, one line
  const commits = Array.from({ length: 300 }, (_, n) =>
    commit(n + 1, n === 0 ? huge : `Commit ${n} ${emoji} ümlaut & <tag>`),
  );
  const activity = buildActivity({
    id: "oversized0001",
    type: "environment.push",
    project: PROJECT,
    environment: environment("feature/login"),
    oldCommit: sha(1),
    newCommit: sha(300),
    commits,
    user: USER,
    text: `octocat pushed 300 commits to feature/login ${emoji.repeat(3000)}`,
    log: `${"x".repeat(40_000)}\n${emoji.repeat(5000)}\nE: failed & <stopped>`,
    result: "failure",
    at: AT,
    github: { event: "push", delivery_id: "d5", pull_request: null },
  });
  return summarize(activity);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every string inside a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === "object") return Object.values(value).flatMap(strings);
  return [];
}

describe("limits on oversized input (300 commits, a 100 KB message, multi-byte characters at the cut)", () => {
  const summary = oversized();

  it("Slack: sections ≤ 3,000 characters, ≤ 50 blocks, and it says what was left out", () => {
    const message = slackMessage(summary);
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    for (const block of message.blocks) {
      if (block.type === "section") expect(block.text?.text.length).toBeLessThanOrEqual(3000);
    }
    expect(JSON.stringify(message)).toMatch(/… and \d+ more/);
    expect(strings(message).some((s) => LONE_SURROGATE.test(s))).toBe(false);
  });

  it("Discord: title, description, fields and the embed total within their limits", () => {
    const message = discordMessage(summary);
    const [embed] = message.embeds ?? [];
    expect(message.content?.length).toBeLessThanOrEqual(2000);
    expect(embed?.title?.length).toBeLessThanOrEqual(256);
    expect(embed?.description?.length).toBeLessThanOrEqual(4096);
    expect(embed?.fields?.length).toBeLessThanOrEqual(25);
    for (const field of embed?.fields ?? []) expect(field.value.length).toBeLessThanOrEqual(1024);
    const total =
      (embed?.title?.length ?? 0) +
      (embed?.description?.length ?? 0) +
      (embed?.footer?.text.length ?? 0) +
      (embed?.fields ?? []).reduce((sum, f) => sum + f.name.length + f.value.length, 0);
    expect(total).toBeLessThanOrEqual(6000);
    expect(embed?.description).toMatch(/… and \d+ more/);
    expect(strings(message).some((s) => LONE_SURROGATE.test(s))).toBe(false);
  });

  it("Teams: under 28 KB, and a card the Adaptive Cards parser reads without complaint", () => {
    const message = teamsMessage(summary);
    expect(utf8Bytes(JSON.stringify(message))).toBeLessThanOrEqual(28 * 1024);
    expect(parseCardEvents(message.attachments[0]?.content)).toEqual([]);
    expect(strings(message).some((s) => LONE_SURROGATE.test(s))).toBe(false);
  });

  it("Mattermost: the post's text within 16,383 characters", () => {
    const message = mattermostMessage(summary);
    const [attachment] = message.attachments;
    expect(message.text.length + (attachment?.text.length ?? 0)).toBeLessThanOrEqual(16_383);
    expect(attachment?.text).toMatch(/… and \d+ more/);
    expect(strings(message).some((s) => LONE_SURROGATE.test(s))).toBe(false);
  });

  it("Google Chat: the whole message within 32,000 bytes", () => {
    const message = googleChatMessage(summary, { threadKey: "t" });
    expect(utf8Bytes(JSON.stringify(message))).toBeLessThanOrEqual(32_000);
    expect(strings(message).some((s) => LONE_SURROGATE.test(s))).toBe(false);
  });

  it("HipChat: the message within 10,000 characters, no entity cut", () => {
    const message = hipchatMessage(summary);
    expect(message.message.length).toBeLessThanOrEqual(10_000);
    expect(message.message).not.toMatch(/&[a-z#0-9]*…/i);
    expect(message.message).toMatch(/… and \d+ more/);
    expect(message.color).toBe("red");
    expect(LONE_SURROGATE.test(message.message)).toBe(false);
  });
});

describe("escaping: a commit message cannot mention everyone or restyle the message", () => {
  const hostile = summarize(
    buildActivity({
      id: "hostile000001",
      type: "environment.push",
      project: PROJECT,
      environment: environment("main"),
      oldCommit: sha(1),
      newCommit: sha(2),
      commits: [commit(2, "<@everyone> <!channel> @here *bold* _it_ ~gone~ `code` & <b>x</b>", "<!here>")],
      user: USER,
      text: "pushed",
      log: "",
      result: "success",
      at: AT,
      github: null,
    }),
  );

  it("Slack: <, > and & become entities; *, _, ~ and ` cannot start formatting", () => {
    const body = JSON.stringify(slackMessage(hostile));
    expect(body).not.toContain("<@everyone>");
    expect(body).not.toContain("<!channel>");
    expect(body).not.toContain("<!here>");
    expect(body).toContain("&lt;@everyone&gt;");
    expect(body).toContain("&amp;");
    expect(body).not.toMatch(/[^\u200B]\*bold/);
  });

  it("Discord: mentions are not parsed at all, and markdown is escaped", () => {
    const message = discordMessage(hostile);
    expect(message.allowed_mentions).toEqual({ parse: [] });
    const body = JSON.stringify(message);
    expect(body).toContain("\\\\*bold\\\\*");
    expect(body).toContain("@\u200Beveryone");
  });

  it("Mattermost: @here and @everyone are broken, markdown escaped", () => {
    const body = JSON.stringify(mattermostMessage(hostile));
    expect(body).toContain("@\u200Bhere");
    expect(body).not.toMatch(/[^\\]\*bold/);
  });

  it("HipChat and Google Chat: HTML is escaped", () => {
    expect(hipchatMessage(hostile).message).toContain("&lt;b&gt;x&lt;/b&gt;");
    expect(JSON.stringify(googleChatMessage(hostile))).toContain("&lt;b&gt;x&lt;/b&gt;");
  });
});

describe("text helpers", () => {
  it("truncate never splits a surrogate pair and ends in …", () => {
    const cut = truncate("ab🚀🚀🚀", 5);
    expect(cut).toBe("ab🚀…");
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("ééééé", 7, utf8Bytes)).toBe("éé…");
  });

  it("truncateEscaped drops an entity the cut would split", () => {
    expect(truncateEscaped(escapeHtml("ab & c"), 6)).toBe("ab …");
  });

  it("listWithin keeps whole items and counts the rest", () => {
    expect(listWithin(["one", "two", "three", "four", "five"], 20)).toBe("one\ntwo\n… and 3 more");
    expect(listWithin(["one", "two", "three", "four"], 18)).toBe("one\ntwo\nthree\nfour");
    expect(listWithin(["a", "b"], 10)).toBe("a\nb");
    expect(listWithin(["x".repeat(50)], 20)).toBe("… and 1 more");
  });
});

function parseCardEvents(card: unknown): string[] {
  const context = new AdaptiveCards.SerializationContext();
  new AdaptiveCards.AdaptiveCard().parse(card, context);
  return Array.from({ length: context.eventCount }, (_, i) => context.getEventAt(i).message);
}

describe("Teams cards for the four activities", () => {
  it.each(ALL)("the %s card parses without events", (name) => {
    const message = teamsMessage(summarize(ACTIVITIES[name] as Activity));
    expect(parseCardEvents(message.attachments[0]?.content)).toEqual([]);
  });
});
