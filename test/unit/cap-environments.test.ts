import { describe, expect, it } from "vitest";
import { type ActiveEnvironment, capEnvironments } from "../../src/lifecycle/cap-environments.ts";
import type { Plan, Transition } from "../../src/lifecycle/transition.ts";

const at = (day: number) => new Date(Date.UTC(2026, 0, day));
const branch = (name: string, day: number): ActiveEnvironment => ({
  name,
  kind: "branch",
  pullRequest: null,
  updatedAt: at(day),
});
const pr = (number: number, day: number): ActiveEnvironment => ({
  name: `pr-${number}`,
  kind: "pull_request",
  pullRequest: number,
  updatedAt: at(day),
});
const create = (name: string, isMain = false): Transition => ({
  action: "create",
  environment: {
    name,
    kind: name.startsWith("pr-") ? "pull_request" : "branch",
    pullRequest: name.startsWith("pr-") ? Number(name.slice(3)) : null,
    parent: isMain ? null : "main",
    headCommit: "a".repeat(40),
    isMain,
    cloneParentData: false,
  },
  oldCommit: null,
  newCommit: "a".repeat(40),
  commits: [],
  reason: `created ${name}`,
});
const activate = (name: string): Transition => ({
  action: "activate",
  environment: name,
  newCommit: null,
  reason: "reopened",
});
const plan = (...transitions: Transition[]): Plan => ({ transitions, notes: [] });
const summary = (result: Plan) => ({
  transitions: result.transitions.map((t) => [
    t.action,
    typeof t.environment === "string" ? t.environment : t.environment.name,
  ]),
  refused: (result.refused ?? []).map((r) => [r.transition.action, r.limit]),
});

describe("capEnvironments", () => {
  it.each([
    {
      rule: "no max_environments → unchanged",
      options: {},
      active: [branch("a", 1), branch("b", 2)],
      plan: plan(create("c")),
      expected: { transitions: [["create", "c"]], refused: [] },
    },
    {
      rule: "room left → created",
      options: { max_environments: 3 },
      active: [branch("a", 1), branch("b", 2)],
      plan: plan(create("c")),
      expected: { transitions: [["create", "c"]], refused: [] },
    },
    {
      rule: "refuse at the limit → refused, nothing created",
      options: { max_environments: 2 },
      active: [branch("a", 1), branch("b", 2)],
      plan: plan(create("c")),
      expected: { transitions: [], refused: [["create", 2]] },
    },
    {
      rule: "refuse is the default",
      options: { max_environments: 2, on_environment_limit: undefined },
      active: [branch("a", 1), pr(4, 2)],
      plan: plan(activate("pr-3")),
      expected: { transitions: [], refused: [["activate", 2]] },
    },
    {
      rule: "the default branch's environment is never refused",
      options: { max_environments: 1 },
      active: [branch("a", 1)],
      plan: plan(create("main", true)),
      expected: { transitions: [["create", "main"]], refused: [] },
    },
    {
      rule: "a deletion in the same plan makes room",
      options: { max_environments: 1 },
      active: [branch("a", 1)],
      plan: plan({ action: "delete", environment: "a", reason: "deleted" }, create("c")),
      expected: {
        transitions: [
          ["delete", "a"],
          ["create", "c"],
        ],
        refused: [],
      },
    },
    {
      rule: "deactivate_oldest → the least recently deployed branch (no PR) goes first, before PRs",
      options: { max_environments: 3, on_environment_limit: "deactivate_oldest" as const },
      active: [pr(1, 1), branch("b", 5), branch("a", 3)],
      plan: plan(create("pr-9")),
      expected: {
        transitions: [
          ["deactivate", "a"],
          ["create", "pr-9"],
        ],
        refused: [],
      },
    },
    {
      rule: "deactivate_oldest with only PRs → the oldest PR's, however recently deployed",
      options: { max_environments: 2, on_environment_limit: "deactivate_oldest" as const },
      active: [pr(7, 1), pr(3, 9)],
      plan: plan(create("pr-9")),
      expected: {
        transitions: [
          ["deactivate", "pr-3"],
          ["create", "pr-9"],
        ],
        refused: [],
      },
    },
    {
      rule: "deactivate_oldest never deactivates what the plan itself made active",
      options: { max_environments: 1, on_environment_limit: "deactivate_oldest" as const },
      active: [],
      plan: plan(create("x"), create("y")),
      expected: { transitions: [["create", "x"]], refused: [["create", 1]] },
    },
  ])("$rule", ({ options, active, plan: input, expected }) => {
    const result = capEnvironments(input, options, active);
    expect(summary(result)).toEqual(expected);
    if (expected.refused.length > 0) {
      expect(result.notes.join(" ")).toMatch(/not created: environment limit \(\d+\) reached/);
    }
  });
});
