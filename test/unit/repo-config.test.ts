import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_REPO_CONFIG } from "../../src/config/repo-config.schema.ts";
import { repoConfigJsonSchema } from "../../src/config/repo-config-json-schema.ts";
import { readRepoConfig } from "../../src/intake/read-repo-config.ts";

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
    });
  });

  it("uses the defaults when the repository has no file", async () => {
    expect(await readRepoConfig(async () => null)).toEqual({ ok: true, config: DEFAULT_REPO_CONFIG });
  });

  it("merges the file over the defaults and ignores Probot's _extends", async () => {
    const result = await readRepoConfig(async () => ({ _extends: ".github", build_forks: true }));
    expect(result).toEqual({ ok: true, config: { ...DEFAULT_REPO_CONFIG, build_forks: true } });
  });

  it("names each bad field and what is wrong with it", async () => {
    const result = await readRepoConfig(async () => ({ fetch_branches: "yes", prune_brnaches: false }));
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^fetch_branches: .*expected boolean/),
        expect.stringMatching(/^prune_brnaches: unknown option/),
      ]),
    );
  });

  it("reports a file that is not a mapping", async () => {
    expect(await readRepoConfig(async () => ["a"])).toEqual({
      ok: false,
      problems: [expect.stringContaining("mapping")],
    });
  });

  it("throws GitHub API failures so the event is retried", async () => {
    const failure = Object.assign(new Error("Server Error"), { status: 502 });
    await expect(readRepoConfig(async () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it("ships a JSON Schema for editors that matches the zod schema (run `npm run schema` after a change)", () => {
    const shipped = JSON.parse(
      readFileSync(new URL("../../schema/envhooks.schema.json", import.meta.url), "utf8"),
    );
    expect(shipped).toEqual(repoConfigJsonSchema());
    expect(Object.keys(shipped.properties)).toHaveLength(7);
    for (const property of Object.values(shipped.properties) as Array<{ description?: string }>) {
      expect(property.description).toBeTruthy();
    }
  });
});
