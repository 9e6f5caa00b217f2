import { describe, expect, it } from "vitest";
import { DEFAULT_REPO_CONFIG, type RepoConfig } from "../../src/config/repo-config.schema.ts";
import type { GithubEvent } from "../../src/lifecycle/github-event.ts";
import {
  branchEnvironmentName,
  concernedEnvironments,
  planTransitions,
  pullRequestEnvironment,
} from "../../src/lifecycle/plan-transitions.ts";
import type { EnvironmentState } from "../../src/lifecycle/transition.ts";

const REPOSITORY = { full_name: "acme/shop", default_branch: "main" };
const SENDER = { id: 7, login: "octocat" };
const A = "a".repeat(40);
const B = "b".repeat(40);
const ZERO = "0".repeat(40);

function push(
  ref: string,
  extra: Partial<{ created: boolean; deleted: boolean; before: string; after: string }> = {},
) {
  return {
    name: "push",
    payload: {
      ref,
      before: A,
      after: B,
      created: false,
      deleted: false,
      commits: [{ id: B, message: "Fix checkout", author: { name: "Mona", email: "mona@example.com" } }],
      repository: REPOSITORY,
      sender: SENDER,
      ...extra,
    },
  } satisfies GithubEvent;
}
const ref = (name: "create" | "delete", refName: string, refType: "branch" | "tag" = "branch") =>
  ({
    name,
    payload: { ref: refName, ref_type: refType, repository: REPOSITORY, sender: SENDER },
  }) satisfies GithubEvent;

function pr(
  action: string,
  extra: {
    draft?: boolean;
    merged?: boolean;
    fork?: boolean;
    number?: number;
    labels?: string[];
    label?: string;
  } = {},
) {
  const number = extra.number ?? 5;
  return {
    name: "pull_request",
    payload: {
      action,
      number,
      ...(extra.label ? { label: { name: extra.label } } : {}),
      ...(action === "synchronize" ? { before: A, after: B } : {}),
      pull_request: {
        number,
        title: "Add cart",
        html_url: `https://github.com/acme/shop/pull/${number}`,
        draft: extra.draft ?? false,
        merged: extra.merged ?? false,
        labels: (extra.labels ?? []).map((name) => ({ name })),
        head: { ref: "cart", sha: B, repo: { full_name: extra.fork ? "mallory/shop" : "acme/shop" } },
        base: { ref: "main", sha: A, repo: { full_name: "acme/shop" } },
      },
      repository: REPOSITORY,
      sender: SENDER,
    },
  } satisfies GithubEvent;
}

function comment(body: string, canWrite: boolean, onPullRequest = true) {
  return {
    name: "issue_comment",
    canWrite,
    payload: {
      action: "created",
      issue: { number: 5, ...(onPullRequest ? { pull_request: { url: "x" } } : {}) },
      comment: { id: 1, body, user: { id: 9, login: "mona" } },
      repository: REPOSITORY,
      sender: { id: 9, login: "mona" },
    },
  } satisfies GithubEvent;
}

const branchEnv = (name: string, extra: Partial<EnvironmentState> = {}): EnvironmentState => ({
  name,
  kind: "branch",
  pullRequest: null,
  parent: name === "main" ? null : "main",
  headCommit: A,
  status: "active",
  isMain: name === "main",
  ...extra,
});
const prEnv = (number: number, extra: Partial<EnvironmentState> = {}): EnvironmentState => ({
  name: `pr-${number}`,
  kind: "pull_request",
  pullRequest: number,
  parent: "main",
  headCommit: A,
  status: "active",
  ...{ isMain: false },
  ...extra,
});

interface Row {
  rule: string;
  event: GithubEvent;
  environments?: EnvironmentState[];
  options?: Partial<RepoConfig>;
  /** [action, environment] of each transition, in order. */
  expected: Array<[string, string]>;
  note?: RegExp;
}

const rows: Row[] = [
  {
    rule: "create branch → environment.branch",
    event: ref("create", "feature"),
    expected: [["create", "feature"]],
  },
  {
    rule: "create branch that exists (push came first) → nothing",
    event: ref("create", "feature"),
    environments: [branchEnv("feature")],
    expected: [],
    note: /exists already/,
  },
  {
    rule: "create branch with fetch_branches false → nothing",
    event: ref("create", "feature"),
    options: { fetch_branches: false },
    expected: [],
    note: /fetch_branches is false/,
  },
  { rule: "create tag → nothing", event: ref("create", "v1.0", "tag"), expected: [], note: /tag v1.0/ },
  {
    rule: "push created:true with no environment → environment.branch",
    event: push("refs/heads/feature", { created: true, before: ZERO }),
    expected: [["create", "feature"]],
  },
  {
    rule: "push created:true after create → head tracked, no activity",
    event: push("refs/heads/feature", { created: true }),
    environments: [branchEnv("feature", { headCommit: null })],
    expected: [["track-head", "feature"]],
  },
  {
    rule: "push to a branch with an environment → environment.push",
    event: push("refs/heads/feature"),
    environments: [branchEnv("feature")],
    expected: [["rebuild", "feature"]],
  },
  {
    rule: "push to a branch with no environment, fetch_branches → environment.branch",
    event: push("refs/heads/feature"),
    expected: [["create", "feature"]],
  },
  {
    rule: "push to a branch with no environment, fetch_branches false → nothing",
    event: push("refs/heads/feature"),
    options: { fetch_branches: false },
    expected: [],
    note: /fetch_branches is false/,
  },
  {
    rule: "push to the default branch always has an environment",
    event: push("refs/heads/main"),
    options: { fetch_branches: false },
    expected: [["create", "main"]],
  },
  { rule: "push to a tag → nothing", event: push("refs/tags/v1"), expected: [], note: /not a branch/ },
  {
    rule: "push deleted:true → environment.delete",
    event: push("refs/heads/feature", { deleted: true, after: ZERO }),
    environments: [branchEnv("feature")],
    expected: [["delete", "feature"]],
  },
  {
    rule: "delete branch → environment.delete",
    event: ref("delete", "feature"),
    environments: [branchEnv("feature")],
    expected: [["delete", "feature"]],
  },
  {
    rule: "delete branch again (second event) → nothing",
    event: ref("delete", "feature"),
    expected: [],
    note: /no environment/,
  },
  {
    rule: "delete branch with prune_branches false → nothing",
    event: ref("delete", "feature"),
    environments: [branchEnv("feature")],
    options: { prune_branches: false },
    expected: [],
    note: /prune_branches is false/,
  },
  {
    rule: "delete the default branch → never deleted",
    event: ref("delete", "main"),
    environments: [branchEnv("main")],
    expected: [],
    note: /never deleted/,
  },
  { rule: "delete tag → nothing", event: ref("delete", "v1", "tag"), expected: [] },
  { rule: "PR opened → environment.branch pr-N", event: pr("opened"), expected: [["create", "pr-5"]] },
  {
    rule: "PR reopened with no environment → environment.branch",
    event: pr("reopened"),
    expected: [["create", "pr-5"]],
  },
  {
    rule: "PR ready_for_review → environment.branch",
    event: pr("ready_for_review"),
    expected: [["create", "pr-5"]],
  },
  {
    rule: "PR opened with build_pull_requests false → nothing",
    event: pr("opened"),
    options: { build_pull_requests: false },
    expected: [],
    note: /build_pull_requests is false/,
  },
  {
    rule: "draft PR opened, drafts built by default → environment.branch",
    event: pr("opened", { draft: true }),
    expected: [["create", "pr-5"]],
  },
  {
    rule: "draft PR opened, build_draft_pull_requests false → nothing",
    event: pr("opened", { draft: true }),
    options: { build_draft_pull_requests: false },
    expected: [],
    note: /draft/,
  },
  {
    rule: "PR converted_to_draft, build_draft_pull_requests false → environment.deactivate",
    event: pr("converted_to_draft", { draft: true }),
    environments: [prEnv(5)],
    options: { build_draft_pull_requests: false },
    expected: [["deactivate", "pr-5"]],
  },
  {
    rule: "PR converted_to_draft while drafts are built → nothing",
    event: pr("converted_to_draft", { draft: true }),
    environments: [prEnv(5)],
    expected: [],
    note: /keeps its environment/,
  },
  {
    rule: "PR ready_for_review with an inactive environment → environment.activate",
    event: pr("ready_for_review"),
    environments: [prEnv(5, { status: "inactive" })],
    options: { build_draft_pull_requests: false },
    expected: [["activate", "pr-5"]],
  },
  {
    rule: "PR synchronize → environment.push",
    event: pr("synchronize"),
    environments: [prEnv(5)],
    expected: [["rebuild", "pr-5"]],
  },
  {
    rule: "PR synchronize with no environment → environment.branch",
    event: pr("synchronize"),
    expected: [["create", "pr-5"]],
  },
  {
    rule: "PR closed (merged) → environment.delete",
    event: pr("closed", { merged: true }),
    environments: [prEnv(5)],
    expected: [["delete", "pr-5"]],
  },
  {
    rule: "PR closed (not merged) → environment.delete",
    event: pr("closed"),
    environments: [prEnv(5)],
    expected: [["delete", "pr-5"]],
  },
  { rule: "PR closed with no environment → nothing", event: pr("closed"), expected: [] },
  {
    rule: "PR from a fork → skipped with the reason",
    event: pr("opened", { fork: true }),
    expected: [],
    note: /fork mallory\/shop and build_forks is false/,
  },
  {
    rule: "PR from a fork with build_forks → environment.branch",
    event: pr("opened", { fork: true }),
    options: { build_forks: true },
    expected: [["create", "pr-5"]],
  },
  {
    rule: "PR labeled → nothing",
    event: pr("labeled"),
    environments: [prEnv(5)],
    expected: [],
    note: /does not change/,
  },
  {
    rule: "PR without the required label → skipped with the reason",
    event: pr("opened"),
    options: { pull_requests_require_label: "preview" },
    expected: [],
    note: /does not carry the label preview \(pull_requests_require_label\)/,
  },
  {
    rule: "required label added → environment.branch",
    event: pr("labeled", { label: "preview", labels: ["preview"] }),
    options: { pull_requests_require_label: "preview" },
    expected: [["create", "pr-5"]],
  },
  {
    rule: "required label removed → environment.delete",
    event: pr("unlabeled", { label: "preview", labels: [] }),
    environments: [prEnv(5)],
    options: { pull_requests_require_label: "preview" },
    expected: [["delete", "pr-5"]],
  },
  {
    rule: "PR with the skip label → skipped",
    event: pr("opened", { labels: ["no-preview"] }),
    options: { pull_requests_skip_label: "no-preview" },
    expected: [],
    note: /carries the label no-preview/,
  },
  {
    rule: "skip label added → environment.delete",
    event: pr("labeled", { label: "no-preview", labels: ["no-preview"] }),
    environments: [prEnv(5)],
    options: { pull_requests_skip_label: "no-preview" },
    expected: [["delete", "pr-5"]],
  },
  {
    rule: "skip label removed → environment.branch",
    event: pr("unlabeled", { label: "no-preview", labels: [] }),
    options: { pull_requests_skip_label: "no-preview" },
    expected: [["create", "pr-5"]],
  },
  {
    rule: "fork PR with build_forks: approve → waits for the approve label",
    event: pr("opened", { fork: true }),
    options: { build_forks: "approve" },
    expected: [],
    note: /maintainer must add the label envhooks:approve/,
  },
  {
    rule: "approve label added to a fork PR → environment.branch",
    event: pr("labeled", { fork: true, label: "envhooks:approve", labels: ["envhooks:approve"] }),
    options: { build_forks: "approve" },
    expected: [["create", "pr-5"]],
  },
  {
    rule: "approved fork PR pushed to → environment.push",
    event: pr("synchronize", { fork: true, labels: ["envhooks:approve"] }),
    environments: [prEnv(5)],
    options: { build_forks: "approve" },
    expected: [["rebuild", "pr-5"]],
  },
  {
    rule: "approved fork PR pushed to with fork_reapprove → not rebuilt until approved again",
    event: pr("synchronize", { fork: true, labels: ["envhooks:approve"] }),
    environments: [prEnv(5)],
    options: { build_forks: "approve", fork_reapprove: true },
    expected: [],
    note: /need approving again/,
  },
  {
    rule: "approve label re-added after a push → environment.push at the new head",
    event: pr("labeled", { fork: true, label: "envhooks:approve", labels: ["envhooks:approve"] }),
    environments: [prEnv(5)],
    options: { build_forks: "approve", fork_reapprove: true },
    expected: [["rebuild", "pr-5"]],
  },
  ...(["reopened", "ready_for_review"] as const).map(
    (action): Row => ({
      rule: `approved fork PR ${action} at a commit not approved, with fork_reapprove → not rebuilt until approved again`,
      event: pr(action, { fork: true, labels: ["envhooks:approve"] }),
      environments: [prEnv(5)],
      options: { build_forks: "approve", fork_reapprove: true },
      expected: [],
      note: /not the commit a maintainer approved/,
    }),
  ),
  {
    rule: "another label added to an approved fork PR at a commit not approved, with fork_reapprove → not rebuilt",
    event: pr("labeled", { fork: true, label: "preview", labels: ["envhooks:approve", "preview"] }),
    environments: [prEnv(5)],
    options: { build_forks: "approve", fork_reapprove: true, pull_requests_require_label: "preview" },
    expected: [],
    note: /not the commit a maintainer approved/,
  },
  {
    rule: "approved fork PR reopened without an environment, with fork_reapprove → waits for approval again",
    event: pr("reopened", { fork: true, labels: ["envhooks:approve"] }),
    options: { build_forks: "approve", fork_reapprove: true },
    expected: [],
    note: /not the commit a maintainer approved/,
  },
  {
    rule: "approved fork PR reopened at its approved commit, with fork_reapprove → unchanged",
    event: pr("reopened", { fork: true, labels: ["envhooks:approve"] }),
    environments: [prEnv(5, { headCommit: B })],
    options: { build_forks: "approve", fork_reapprove: true },
    expected: [],
    note: /up to date/,
  },
  {
    rule: "fork_reapprove is on by default with runner: github-actions",
    event: pr("synchronize", { fork: true, labels: ["envhooks:approve"] }),
    environments: [prEnv(5)],
    options: { build_forks: "approve", runner: "github-actions" },
    expected: [],
    note: /need approving again|not the commit a maintainer approved/,
  },
  {
    rule: "approve label removed → environment kept",
    event: pr("unlabeled", { fork: true, label: "envhooks:approve", labels: [] }),
    environments: [prEnv(5)],
    options: { build_forks: "approve" },
    expected: [],
    note: /approval withdrawn/,
  },
  {
    rule: "approve label on a PR of the repository itself → nothing",
    event: pr("labeled", { label: "envhooks:approve", labels: ["envhooks:approve"] }),
    environments: [prEnv(5)],
    options: { build_forks: "approve" },
    expected: [],
    note: /does not change/,
  },
  {
    rule: "/envhooks redeploy by a writer → environment.redeploy",
    event: comment("/envhooks redeploy", true),
    environments: [prEnv(5)],
    expected: [["redeploy", "pr-5"]],
  },
  {
    rule: "/envhooks redeploy by someone without write access → refused with a reply",
    event: comment("/envhooks redeploy please", false),
    environments: [prEnv(5)],
    expected: [],
    note: /only people with write access/,
  },
  {
    rule: "/envhooks redeploy on a PR with no environment → a reply",
    event: comment("/envhooks redeploy", true),
    expected: [],
    note: /has no environment to redeploy/,
  },
  {
    rule: "a comment that is no command → nothing",
    event: comment("looks good, redeploy later", true),
    environments: [prEnv(5)],
    expected: [],
    note: /not an envhooks command/,
  },
  {
    rule: "push to a PR's base without post-merge builds → only the base",
    event: push("refs/heads/main"),
    environments: [branchEnv("main"), prEnv(5)],
    expected: [["rebuild", "main"]],
  },
  {
    rule: "push to a PR's base with build_pull_requests_post_merge → base and PR rebuilt",
    event: push("refs/heads/main"),
    environments: [
      branchEnv("main"),
      prEnv(5),
      prEnv(6, { parent: "develop" }),
      prEnv(7, { status: "inactive" }),
    ],
    options: { build_pull_requests_post_merge: true },
    expected: [
      ["rebuild", "main"],
      ["rebuild", "pr-5"],
    ],
  },
  // A branch named like a pull request's environment (pr-<N>) and the pull request never share one.
  {
    rule: "push creating branch pr-6 → environment branch:pr-6, not PR #6's",
    event: push("refs/heads/pr-6", { created: true, before: ZERO }),
    environments: [prEnv(6)],
    expected: [["create", "branch:pr-6"]],
  },
  {
    rule: "push to branch pr-6 while PR #6 has an environment → the branch's own is made, PR #6's left alone",
    event: push("refs/heads/pr-6"),
    environments: [prEnv(6)],
    expected: [["create", "branch:pr-6"]],
  },
  {
    rule: "push to branch pr-6 with its environment → branch:pr-6 rebuilt",
    event: push("refs/heads/pr-6"),
    environments: [prEnv(6), branchEnv("branch:pr-6")],
    expected: [["rebuild", "branch:pr-6"]],
  },
  {
    rule: "push to branch PR-7 (any case) → environment branch:PR-7",
    event: push("refs/heads/PR-7"),
    expected: [["create", "branch:PR-7"]],
  },
  {
    rule: "create branch pr-6 while PR #6 has an environment → environment branch:pr-6",
    event: ref("create", "pr-6"),
    environments: [prEnv(6)],
    expected: [["create", "branch:pr-6"]],
  },
  {
    rule: "delete branch pr-6 while only PR #6 has an environment → nothing",
    event: ref("delete", "pr-6"),
    environments: [prEnv(6)],
    expected: [],
    note: /has no environment/,
  },
  {
    rule: "delete branch pr-6 → only branch:pr-6 deleted",
    event: ref("delete", "pr-6"),
    environments: [prEnv(6), branchEnv("branch:pr-6")],
    expected: [["delete", "branch:pr-6"]],
  },
  {
    rule: "push deleting branch pr-6 while only PR #6 has an environment → nothing",
    event: push("refs/heads/pr-6", { deleted: true, after: ZERO }),
    environments: [prEnv(6)],
    expected: [],
  },
  {
    rule: "PR #5 opened while a branch environment is named pr-5 (from before the rule) → the branch's left alone",
    event: pr("opened"),
    environments: [branchEnv("pr-5")],
    expected: [],
    note: /belongs to a branch/,
  },
  {
    rule: "PR #5 synchronized while a branch environment is named pr-5 → nothing rebuilt",
    event: pr("synchronize"),
    environments: [branchEnv("pr-5")],
    expected: [],
  },
  {
    rule: "PR #5 closed while a branch environment is named pr-5 → nothing deleted",
    event: pr("closed"),
    environments: [branchEnv("pr-5")],
    expected: [],
  },
  {
    rule: "/envhooks redeploy on PR #5 while a branch environment is named pr-5 → a reply",
    event: comment("/envhooks redeploy", true),
    environments: [branchEnv("pr-5")],
    expected: [],
    note: /has no environment to redeploy/,
  },
  {
    rule: "push to branch pr-6, the base of PR #7, with post-merge builds → both rebuilt",
    event: push("refs/heads/pr-6"),
    environments: [branchEnv("branch:pr-6"), prEnv(7, { parent: "branch:pr-6" }), prEnv(6)],
    options: { build_pull_requests_post_merge: true },
    expected: [
      ["rebuild", "branch:pr-6"],
      ["rebuild", "pr-7"],
    ],
  },
  {
    rule: "push to an inactive branch environment → environment.activate",
    event: push("refs/heads/feature"),
    environments: [branchEnv("feature", { status: "inactive" })],
    expected: [["activate", "feature"]],
  },
  {
    rule: "paths: push changing a file under paths → environment.push",
    event: { ...push("refs/heads/feature"), changed: { files: ["docs/a.md", "apps/web/a.ts"] } },
    environments: [branchEnv("feature")],
    options: { paths: ["apps/web/**"] },
    expected: [["rebuild", "feature"]],
  },
  {
    rule: "paths: push changing no file under paths → skipped, no transition",
    event: { ...push("refs/heads/feature"), changed: { files: ["apps/api/a.ts"] } },
    environments: [branchEnv("feature", { lastBuildSucceeded: true })],
    options: { paths: ["apps/web/**"] },
    expected: [],
    note: /environment feature: skipped: no changed file under paths/,
  },
  {
    rule: "paths: push changing no file under paths, the last build failed or is pending → environment.push",
    event: { ...push("refs/heads/feature"), changed: { files: ["apps/api/a.ts"] } },
    environments: [branchEnv("feature", { lastBuildSucceeded: false })],
    options: { paths: ["apps/web/**"] },
    expected: [["rebuild", "feature"]],
    note: /environment feature: built although no changed file is under paths: its last build did not succeed/,
  },
  {
    rule: "paths: push changing no file under paths, the last build not known → environment.push",
    event: { ...push("refs/heads/feature"), changed: { files: ["apps/api/a.ts"] } },
    environments: [branchEnv("feature")],
    options: { paths: ["apps/web/**"] },
    expected: [["rebuild", "feature"]],
  },
  {
    rule: "paths: push changing no file under paths, the environment's head is not the push's before → environment.push",
    event: { ...push("refs/heads/feature"), changed: { files: ["apps/api/a.ts"] } },
    environments: [branchEnv("feature", { headCommit: "c".repeat(40), lastBuildSucceeded: true })],
    options: { paths: ["apps/web/**"] },
    expected: [["rebuild", "feature"]],
    note: /environment feature: built although .*its head ccccccc is not where the change started/,
  },
  {
    rule: "paths_ignore: push changing only ignored files → skipped",
    event: { ...push("refs/heads/feature"), changed: { files: ["README.md", "docs/x.png"] } },
    environments: [branchEnv("feature", { lastBuildSucceeded: true })],
    options: { paths_ignore: ["**/*.md", "docs/**"] },
    expected: [],
    note: /skipped: no changed file under paths/,
  },
  {
    rule: "paths: push whose files are unknown → environment.push (never skip on doubt)",
    event: { ...push("refs/heads/feature"), changed: { unknown: "GitHub did not compare" } },
    environments: [branchEnv("feature")],
    options: { paths: ["apps/web/**"] },
    expected: [["rebuild", "feature"]],
  },
  {
    rule: "paths: a new branch's push changing no file under paths → environment.branch (never skipped)",
    event: { ...push("refs/heads/feature", { created: true, before: ZERO }), changed: { files: ["x.md"] } },
    options: { paths: ["apps/web/**"] },
    expected: [["create", "feature"]],
  },
  {
    rule: "paths: push to an inactive environment changing no file under paths → environment.activate",
    event: { ...push("refs/heads/feature"), changed: { files: ["x.md"] } },
    environments: [branchEnv("feature", { status: "inactive" })],
    options: { paths: ["apps/web/**"] },
    expected: [["activate", "feature"]],
  },
  {
    rule: "paths: synchronize changing no file under paths → skipped",
    event: { ...pr("synchronize"), changed: { files: ["apps/api/a.ts"] } },
    environments: [prEnv(5, { lastBuildSucceeded: true })],
    options: { paths: ["apps/web/**"] },
    expected: [],
    note: /environment pr-5: skipped/,
  },
  {
    rule: "paths: synchronize changing no file under paths, the last build cancelled → environment.push",
    event: { ...pr("synchronize"), changed: { files: ["apps/api/a.ts"] } },
    environments: [prEnv(5, { lastBuildSucceeded: false })],
    options: { paths: ["apps/web/**"] },
    expected: [["rebuild", "pr-5"]],
  },
  {
    rule: "paths: PR opened changing no file under paths → environment.branch (never skipped)",
    event: { ...pr("opened"), changed: { files: ["apps/api/a.ts"] } },
    options: { paths: ["apps/web/**"] },
    expected: [["create", "pr-5"]],
  },
  {
    rule: "paths: branch deleted → environment.delete (never skipped)",
    event: { ...push("refs/heads/feature", { deleted: true }), changed: { files: [] } },
    environments: [branchEnv("feature")],
    options: { paths: ["apps/web/**"] },
    expected: [["delete", "feature"]],
  },
];

describe("lifecycle rules", () => {
  it.each(rows)("$rule", ({ event, environments = [], options, expected, note }) => {
    const plan = planTransitions(event, { ...DEFAULT_REPO_CONFIG, ...options }, environments);
    expect(
      plan.transitions.map((t) => [
        t.action,
        "environment" in t && typeof t.environment === "object" ? t.environment.name : t.environment,
      ]),
    ).toEqual(expected);
    if (note) expect(plan.notes.join(" ")).toMatch(note);
    if (note?.source.includes("skipped")) expect(plan.skipped?.length).toBeGreaterThan(0);
  });

  // apply-event loads only the environments an event concerns (one SQL query, the same filter).
  it.each(rows)(
    "$rule: plans the same from the concerned environments alone",
    ({ event, environments = [], options }) => {
      const config = { ...DEFAULT_REPO_CONFIG, ...options };
      const bystanders = [branchEnv("other"), prEnv(99, { parent: "other" }), branchEnv("feature-x")];
      const all = [
        ...environments,
        ...bystanders.filter((b) => !environments.some((e) => e.name === b.name)),
      ];
      const { names, basedOn } = concernedEnvironments(event);
      const concerned = all.filter(
        (e) =>
          names.includes(e.name) || (e.kind === "pull_request" && basedOn !== null && e.parent === basedOn),
      );
      expect(planTransitions(event, config, concerned)).toEqual(planTransitions(event, config, all));
      expect(concerned.length).toBeLessThan(all.length);
    },
  );

  it("a new branch's environment has the default branch as parent and the pushed head", () => {
    const [transition] = planTransitions(push("refs/heads/feature"), DEFAULT_REPO_CONFIG, []).transitions;
    expect(transition).toMatchObject({
      action: "create",
      environment: { name: "feature", kind: "branch", parent: "main", headCommit: B, isMain: false },
      oldCommit: A,
      newCommit: B,
    });
  });

  it("a push rebuild carries old and new commits and the commit list", () => {
    const [transition] = planTransitions(push("refs/heads/feature"), DEFAULT_REPO_CONFIG, [
      branchEnv("feature"),
    ]).transitions;
    expect(transition).toMatchObject({
      action: "rebuild",
      oldCommit: A,
      newCommit: B,
      commits: [{ sha: B, message: "Fix checkout", author: { name: "Mona", email: "mona@example.com" } }],
      reason: "pushed 1 commit to feature",
    });
  });

  it("a PR environment has the base ref as parent, the head sha, and clone_parent_data from the options", () => {
    const [transition] = planTransitions(
      pr("opened"),
      { ...DEFAULT_REPO_CONFIG, pull_requests_clone_parent_data: false },
      [],
    ).transitions;
    expect(transition).toMatchObject({
      action: "create",
      environment: {
        name: "pr-5",
        kind: "pull_request",
        pullRequest: 5,
        parent: "main",
        headCommit: B,
        cloneParentData: false,
      },
    });
  });

  it("makes commit messages storable wherever they come from (a synchronize's commits are looked up on GitHub)", () => {
    const commits = [{ id: B, message: "fix\u0000es \ud800", author: { name: "Mo\u0000na", email: null } }];
    const event = { ...pr("synchronize"), commits };
    const [transition] = planTransitions(event, DEFAULT_REPO_CONFIG, [prEnv(5)]).transitions;
    expect(transition).toMatchObject({
      commits: [{ sha: B, message: "fixes \ufffd", author: { name: "Mona", email: null } }],
    });
  });

  it("a pull request based on the branch pr-6 has that branch's environment as parent", () => {
    const event = pr("opened");
    event.payload.pull_request.base.ref = "pr-6";
    const [transition] = planTransitions(event, DEFAULT_REPO_CONFIG, []).transitions;
    expect(transition).toMatchObject({ environment: { name: "pr-5", parent: "branch:pr-6" } });
  });

  it("names environments so that no branch and no pull request can share one", () => {
    // `:` is refused by git in every ref name, and pull requests' names are `pr-<N>`.
    expect(branchEnvironmentName("pr-6")).toBe("branch:pr-6");
    expect(branchEnvironmentName("Pr-06")).toBe("branch:Pr-06");
    expect(branchEnvironmentName("pr-6x")).toBe("pr-6x");
    expect(branchEnvironmentName("branch-pr-6")).toBe("branch-pr-6");
    expect(branchEnvironmentName("feature/pr-6")).toBe("feature/pr-6");
    expect(pullRequestEnvironment(6)).toBe("pr-6");
  });

  it("asks GitHub to remove the approval when a fork pushes and fork_reapprove is on, and says why on the PR", () => {
    const plan = planTransitions(
      pr("synchronize", { fork: true, labels: ["envhooks:approve"] }),
      { ...DEFAULT_REPO_CONFIG, build_forks: "approve", fork_reapprove: true },
      [prEnv(5)],
    );
    expect(plan.github).toEqual([
      {
        kind: "comment",
        pullRequest: 5,
        body: expect.stringContaining("must add the label `envhooks:approve`"),
      },
      { kind: "remove-label", pullRequest: 5, label: "envhooks:approve" },
    ]);
  });

  it("replies to a refused redeploy, naming the commenter", () => {
    const plan = planTransitions(comment("/envhooks redeploy", false), DEFAULT_REPO_CONFIG, [prEnv(5)]);
    expect(plan.github).toEqual([
      {
        kind: "reply",
        pullRequest: 5,
        body: "@mona only people with write access to this repository can redeploy its environments.",
      },
    ]);
  });
});
