import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_REPO_CONFIG, repoConfigSchema } from "../../src/config/repo-config.schema.ts";
import { repoConfigJsonSchema } from "../../src/config/repo-config-json-schema.ts";
import { validateRepoConfig } from "../../src/config/validate-repo-config.ts";

describe(".github/envhooks.yml", () => {
  it("defaults to Platform.sh's options", () => {
    expect(DEFAULT_REPO_CONFIG).toEqual({
      fetch_branches: true,
      prune_branches: true,
      build_pull_requests: true,
      build_draft_pull_requests: true,
      build_pull_requests_post_merge: false,
      pull_requests_clone_parent_data: true,
      build_forks: false,
      github: { deployments: true, statuses: true, comments: true },
      runner: "none",
      runner_timeout: "1h",
    });
  });

  it("names a bad environment_url placeholder, duration and github option", async () => {
    const result = validateRepoConfig({
      environment_url: "https://{branch}.preview.example.com",
      environment_ttl: "soon",
      runner_timeout: "10s",
      github: { deployment: false },
      build_forks: "maybe",
    });
    const problems = result.ok ? [] : result.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^environment_url: unknown placeholder \{branch\}; use \{machine_name\}/),
        expect.stringMatching(/^environment_ttl: must be a duration of at least a minute/),
        expect.stringMatching(/^runner_timeout: must be a duration of at least a minute/),
        expect.stringMatching(/^deployment: unknown option/),
        expect.stringMatching(/^build_forks: /),
      ]),
    );
  });

  it("accepts the GitHub, runner, expiry and label options", async () => {
    const options = {
      environment_url: "https://{machine_name}.preview.example.com/{owner}/{repo}?pr={pr}&sha={short_sha}",
      environment_ttl: "7d",
      runner: "external",
      runner_timeout: "30m",
      github: { comments: false },
      pull_requests_require_label: "preview",
      pull_requests_skip_label: "no-preview",
      build_forks: "approve",
      fork_reapprove: true,
    };
    const result = validateRepoConfig(options);
    expect(result).toEqual({
      ok: true,
      config: {
        ...DEFAULT_REPO_CONFIG,
        ...options,
        github: { deployments: true, statuses: true, comments: false },
      },
    });
  });

  it("accepts runner: github-actions with its workflow, and fills in the defaults", () => {
    const result = validateRepoConfig({
      runner: "github-actions",
      github_actions: { workflow: "preview.yml" },
    });
    expect(result).toEqual({
      ok: true,
      config: {
        ...DEFAULT_REPO_CONFIG,
        runner: "github-actions",
        github_actions: { workflow: "preview.yml", ref: "head", cancel_superseded: true, timeout: "60m" },
      },
    });
    expect(validateRepoConfig({ runner: "github-actions", github_actions: { workflow: 1234 } }).ok).toBe(
      true,
    );
  });

  it("names what is missing or wrong in github_actions", () => {
    const problems = (input: unknown) => {
      const result = validateRepoConfig(input);
      return result.ok ? [] : result.problems;
    };
    expect(problems({ runner: "github-actions" })).toEqual([
      "github_actions: runner: github-actions needs github_actions.workflow (e.g. preview.yml)",
    ]);
    expect(
      problems({
        runner: "github-actions",
        github_actions: { workflow: "../evil.sh", ref: "main", timeout: "5s", cancel: true },
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^github_actions\.workflow: /),
        expect.stringMatching(/^github_actions\.ref: /),
        expect.stringMatching(/^github_actions\.timeout: must be a duration of at least a minute/),
        expect.stringMatching(/^cancel: unknown option/),
      ]),
    );
  });

  it("accepts notify.repository_dispatch as true or a list of activity types, and names a wrong type", () => {
    expect(validateRepoConfig({ notify: { repository_dispatch: true } }).ok).toBe(true);
    expect(validateRepoConfig({ notify: { repository_dispatch: ["environment.push"] } }).ok).toBe(true);
    const result = validateRepoConfig({ notify: { repository_dispatch: ["environment.pushed"] } });
    expect(result.ok ? [] : result.problems).toEqual([expect.stringMatching(/^notify\.repository_dispatch/)]);
  });

  it("uses the defaults when the repository has no file", async () => {
    expect(validateRepoConfig(null)).toEqual({ ok: true, config: DEFAULT_REPO_CONFIG });
  });

  it("merges the file over the defaults and ignores Probot's _extends", async () => {
    const result = validateRepoConfig({ _extends: ".github", build_forks: true });
    expect(result).toEqual({ ok: true, config: { ...DEFAULT_REPO_CONFIG, build_forks: true } });
  });

  it("names each bad field and what is wrong with it", async () => {
    const result = validateRepoConfig({ fetch_branches: "yes", prune_brnaches: false });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^fetch_branches: .*expected boolean/),
        expect.stringMatching(/^prune_brnaches: unknown option/),
      ]),
    );
  });

  it("accepts the build gates: paths, paths_ignore, max_environments, on_environment_limit, stale_after", () => {
    const options = {
      paths: ["apps/web/**", "packages/ui/**"],
      paths_ignore: ["**/*.md", "docs/**"],
      max_environments: 10,
      on_environment_limit: "deactivate_oldest",
      stale_after: "14d",
    };
    expect(validateRepoConfig(options)).toEqual({ ok: true, config: { ...DEFAULT_REPO_CONFIG, ...options } });
  });

  it.each([
    [{ paths: "apps/**" }, /^paths: .*expected array/],
    [{ paths: [] }, /^paths: must list at least one pattern/],
    [{ paths: [""] }, /^paths\.0: must not be empty/],
    [{ paths_ignore: ["!docs/keep.md"] }, /^paths_ignore\.0: negation \(!\) is not supported/],
    [{ paths: ["apps/[ab]*"] }, /^paths\.0: character classes/],
    [{ max_environments: 0 }, /^max_environments: must be at least 1/],
    [{ max_environments: 2.5 }, /^max_environments: must be a whole number/],
    [{ max_environments: "10" }, /^max_environments: .*expected number/],
    [{ on_environment_limit: "delete_oldest" }, /^on_environment_limit: .*"refuse"\|"deactivate_oldest"/],
    [{ stale_after: "a fortnight" }, /^stale_after: must be a duration of at least a minute/],
  ])("names the field of a bad build gate: %j", (options, problem) => {
    const result = validateRepoConfig(options);
    expect(result.ok ? [] : result.problems).toEqual([expect.stringMatching(problem)]);
  });

  it("reports a file that is not a mapping", async () => {
    expect(validateRepoConfig(["a"])).toEqual({
      ok: false,
      problems: [expect.stringContaining("mapping")],
    });
  });

  it("ships a JSON Schema for editors that matches the zod schema (run `npm run schema` after a change)", () => {
    const shipped = JSON.parse(
      readFileSync(new URL("../../schema/envhooks.schema.json", import.meta.url), "utf8"),
    );
    expect(shipped).toEqual(repoConfigJsonSchema());
    expect(Object.keys(shipped.properties)).toEqual(Object.keys(repoConfigSchema.shape));
    for (const property of Object.values(shipped.properties) as Array<{ description?: string }>) {
      expect(property.description).toBeTruthy();
    }
  });
});
