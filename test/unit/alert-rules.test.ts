import { describe, expect, it } from "vitest";
import { supersede } from "../../src/intake/cancel-superseded.ts";
import { alertActivity, isAlert } from "../../src/relay/alert-activity.ts";
import { ALERT_WINDOW_MS, countIntoAlert, isWindowOpen } from "../../src/relay/coalesce-alert.ts";
import { matchesIntegration, matchesProjects } from "../../src/relay/match-integration.ts";
import { sampleActivity } from "../../src/relay/sample-activity.ts";

const filters = {
  events: ["*"],
  states: ["complete" as const],
  environments: ["*"],
  excluded_environments: [],
};

describe("results filter", () => {
  const activity = sampleActivity("acme/shop");
  it.each([
    [undefined, "success", true],
    [undefined, "failure", true],
    [["failure" as const], "failure", true],
    [["failure" as const], "success", false],
    [["success" as const, "failure" as const], "success", true],
  ] as const)("results %j lets a %s through: %s", (results, result, expected) => {
    expect(
      matchesIntegration({ ...filters, results: results && [...results] }, { ...activity, result }),
    ).toBe(expected);
  });
  it("an activity with no result yet never matches a results filter", () => {
    const pending = { ...activity, state: "pending" as const, result: null };
    expect(matchesIntegration({ ...filters, states: ["pending"], results: ["failure"] }, pending)).toBe(
      false,
    );
    expect(matchesIntegration({ ...filters, states: ["pending"] }, pending)).toBe(true);
  });
});

describe("projects filter of owner-wide integrations", () => {
  it.each([
    [undefined, "acme/shop", true],
    [["shop-*"], "acme/shop-api", true],
    [["shop-*"], "acme/shop", false],
    [["Shop-*"], "acme/shop-web", true],
    [["acme/api"], "acme/api", true],
    [["acme/api"], "acme/api-v2", false],
    [["*/api*"], "acme/api-v2", true],
    [["api", "web"], "acme/web", true],
  ] as const)("%j takes %s: %s", (patterns, key, expected) => {
    expect(matchesProjects(patterns && [...patterns], key)).toBe(expected);
  });
});

describe("alerts and superseded activities", () => {
  it("an alert is a complete, failed activity of its project, and is known as one", () => {
    const alert = alertActivity(
      { type: "integration.disabled", project: "acme/shop", environment: null, text: "t", log: "l" },
      new Date("2026-01-01T00:00:00Z"),
    );
    expect(alert).toMatchObject({
      state: "complete",
      result: "failure",
      project: "acme/shop",
      environments: [],
    });
    expect(isAlert(alert)).toBe(true);
    expect(isAlert(sampleActivity("acme/shop"))).toBe(false);
  });
  it("a superseded activity is cancelled by the newer one, at its time, saying so", () => {
    const older = { ...sampleActivity("acme/shop"), state: "pending" as const, result: null, log: "" };
    const newer = { ...sampleActivity("acme/shop"), id: "newer", created_at: "2026-01-02T00:00:00.000Z" };
    const done = supersede(older, newer);
    expect(done).toMatchObject({
      state: "cancelled",
      result: "failure",
      superseded_by: "newer",
      completed_at: newer.created_at,
      updated_at: newer.created_at,
    });
    expect(done.text).toContain("superseded by newer");
    expect(done.log).toMatch(/^Superseded by activity newer/);
  });
});

describe("coalescing alerts: one per integration and kind per 10 minutes", () => {
  const first = new Date("2026-01-01T10:00:00Z");
  const later = (ms: number) => new Date(first.getTime() + ms);
  it.each([
    ["no alert yet", undefined, first, false],
    ["the same instant", first, first, true],
    ["9 min 59 s after the first", first, later(ALERT_WINDOW_MS - 1000), true],
    ["10 min after the first", first, later(ALERT_WINDOW_MS), false],
    ["an hour after the first", first, later(3600_000), false],
    ["a clock gone back before the first", first, later(-60_000), false],
  ] as const)("%s: counted into it is %s", (_name, firstAt, at, expected) => {
    expect(isWindowOpen(firstAt && { firstAt }, at)).toBe(expected);
  });

  it("a counted alert carries the count, the span and the newest failure, and its log stays short", () => {
    const alert = alertActivity(
      {
        type: "integration.delivery.failed",
        project: "acme/shop",
        environment: null,
        text: "Delivery msg_1 of environment.push to the webhook integration abc failed for good after 6 attempts: HTTP 500.",
        log: "Delivery msg_1 failed 6 times.",
        alert: { integration: "abc", count: 1, first_at: first.toISOString(), last_at: first.toISOString() },
      },
      first,
    );
    let counted = alert;
    for (let n = 2; n <= 60; n++) {
      counted = countIntoAlert(counted, {
        at: later(n * 1000),
        text: `Delivery msg_${n} of environment.push to the webhook integration abc failed for good after 6 attempts: HTTP 502.`,
        log: `Delivery msg_${n} failed 6 times.`,
        noun: "deliveries to the webhook integration abc failed for good",
      });
    }
    expect(counted).toMatchObject({
      id: alert.id,
      created_at: alert.created_at,
      updated_at: later(60_000).toISOString(),
      alert: {
        integration: "abc",
        count: 60,
        first_at: first.toISOString(),
        last_at: later(60_000).toISOString(),
      },
    });
    expect(counted.text).toMatch(/^60 deliveries to the webhook integration abc failed for good between /);
    expect(counted.text).toContain("msg_60");
    expect(counted.log).toContain("msg_1 ");
    expect(counted.log.split("\n").length).toBeLessThanOrEqual(25);
    expect(counted.log).toMatch(/and \d+ more/);
  });
});
