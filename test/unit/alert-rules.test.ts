import { describe, expect, it } from "vitest";
import { supersede } from "../../src/intake/cancel-superseded.ts";
import { alertActivity, isAlert } from "../../src/relay/alert-activity.ts";
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
