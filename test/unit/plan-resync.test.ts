import { describe, expect, it } from "vitest";
import { DEFAULT_REPO_CONFIG, type RepoConfig } from "../../src/config/repo-config.schema.ts";
import {
  type ListedPullRequest,
  planResync,
  type RepositoryListing,
} from "../../src/lifecycle/plan-resync.ts";
import type { EnvironmentState } from "../../src/lifecycle/transition.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);

function listing(extra: Partial<RepositoryListing> = {}): RepositoryListing {
  return {
    fullName: "acme/shop",
    defaultBranch: "main",
    branches: [{ name: "main", sha: A }],
    allBranches: true,
    pullRequests: [],
    ...extra,
  };
}

function pull(
  number: number,
  extra: { draft?: boolean; labels?: string[]; fork?: boolean } = {},
): ListedPullRequest {
  return {
    number,
    title: `PR ${number}`,
    draft: extra.draft ?? false,
    labels: (extra.labels ?? []).map((name) => ({ name })),
    head: { ref: "cart", sha: B, repo: { full_name: extra.fork ? "mallory/shop" : "acme/shop" } },
    base: { ref: "main", sha: A, repo: { full_name: "acme/shop" } },
  };
}

function environment(name: string, extra: Partial<EnvironmentState> = {}): EnvironmentState {
  const pr = /^pr-(\d+)$/.exec(name);
  return {
    name,
    kind: pr ? "pull_request" : "branch",
    pullRequest: pr ? Number(pr[1]) : null,
    parent: name === "main" ? null : "main",
    headCommit: name === "main" ? A : B,
    status: "active",
    isMain: name === "main",
    ...extra,
  };
}

const options = (extra: Partial<RepoConfig> = {}): RepoConfig => ({ ...DEFAULT_REPO_CONFIG, ...extra });

/** `action environment` for each planned change, in order. */
function changes(found: RepositoryListing, config: RepoConfig, environments: EnvironmentState[]): string[] {
  return planResync(found, config, environments).transitions.map(
    (t) => `${t.action} ${typeof t.environment === "string" ? t.environment : t.environment.name}`,
  );
}

describe("planResync", () => {
  it.each([
    {
      case: "a new repository gets the default branch, its branches and pull requests, parents first",
      found: listing({
        branches: [
          { name: "main", sha: A },
          { name: "cart", sha: B },
        ],
        pullRequests: [pull(5)],
      }),
      config: options(),
      environments: [],
      expected: ["create main", "create cart", "create pr-5"],
    },
    {
      case: "fetch_branches false: only the default branch",
      found: listing({
        branches: [
          { name: "main", sha: A },
          { name: "cart", sha: B },
        ],
      }),
      config: options({ fetch_branches: false }),
      environments: [],
      expected: ["create main"],
    },
    {
      case: "a branch gone is deleted with prune_branches, kept without",
      found: listing(),
      config: options(),
      environments: [environment("main"), environment("old")],
      expected: ["delete old"],
    },
    {
      case: "prune_branches false keeps it",
      found: listing(),
      config: options({ prune_branches: false }),
      environments: [environment("main"), environment("old")],
      expected: [],
    },
    {
      case: "only the default branch listed: other branches are not taken for gone",
      found: listing({ allBranches: false }),
      config: options({ fetch_branches: false, prune_branches: false }),
      environments: [environment("main"), environment("old")],
      expected: [],
    },
    {
      case: "the default branch's environment is never deleted, and is rebuilt when behind",
      found: listing({ branches: [{ name: "main", sha: B }] }),
      config: options(),
      environments: [environment("main")],
      expected: ["rebuild main"],
    },
    {
      case: "a pull request closed on GitHub loses its environment",
      found: listing(),
      config: options(),
      environments: [environment("main"), environment("pr-5")],
      expected: ["delete pr-5"],
    },
    {
      case: "build_pull_requests false: pull request environments go",
      found: listing({ pullRequests: null }),
      config: options({ build_pull_requests: false }),
      environments: [environment("main"), environment("pr-5")],
      expected: ["delete pr-5"],
    },
    {
      case: "a draft is not built when build_draft_pull_requests is false; one it has stays",
      found: listing({ pullRequests: [pull(5, { draft: true }), pull(6, { draft: true })] }),
      config: options({ build_draft_pull_requests: false }),
      environments: [environment("main"), environment("pr-6")],
      expected: [],
    },
    {
      case: "a skip label takes the environment away; a fork is not built",
      found: listing({ pullRequests: [pull(5, { labels: ["no-env"] }), pull(6, { fork: true })] }),
      config: options({ pull_requests_skip_label: "no-env" }),
      environments: [environment("main"), environment("pr-5")],
      expected: ["delete pr-5"],
    },
    {
      case: "max_environments: refuse creates only while there is room, after what is gone makes room",
      found: listing({
        branches: [
          { name: "main", sha: A },
          { name: "a", sha: B },
        ],
        pullRequests: [pull(5), pull(6)],
      }),
      config: options({ max_environments: 2 }),
      environments: [environment("main"), environment("gone")],
      expected: ["delete gone", "create a", "create pr-5"],
    },
    {
      case: "max_environments: deactivate_oldest deactivates the oldest branch's to make room",
      found: listing({
        branches: [
          { name: "main", sha: A },
          { name: "old", sha: B },
        ],
        pullRequests: [pull(5)],
      }),
      config: options({ max_environments: 1, on_environment_limit: "deactivate_oldest" }),
      environments: [environment("main"), environment("old")],
      expected: ["deactivate old", "create pr-5"],
    },
    {
      case: "a branch named like a pull request's environment has its own",
      found: listing({
        branches: [
          { name: "main", sha: A },
          { name: "pr-5", sha: B },
        ],
        pullRequests: [pull(5)],
      }),
      config: options(),
      environments: [],
      expected: ["create main", "create branch:pr-5", "create pr-5"],
    },
  ])("$case", ({ found, config, environments, expected }) => {
    expect(changes(found, config, environments)).toEqual(expected);
  });

  it("names the environments max_environments kept out", () => {
    const found = listing({ pullRequests: [pull(5), pull(6)] });
    const plan = planResync(found, options({ max_environments: 1 }), [environment("main")]);
    expect(plan.refused?.map((refused) => refused.limit)).toEqual([1]);
    expect(plan.notes).toContain("environment pr-6 not created: environment limit (1) reached");
  });

  it("says so when everything matches", () => {
    const plan = planResync(listing({ pullRequests: [pull(5)] }), options(), [
      environment("main"),
      environment("pr-5"),
    ]);
    expect(plan.transitions).toEqual([]);
    expect(plan.notes).toEqual(["every environment matches GitHub"]);
  });
});
