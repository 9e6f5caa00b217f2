import { z } from "zod";

/**
 * `.github/envhooks.yml`: per-repository options, named and defaulted like Platform.sh's GitHub
 * integration. Unknown keys are refused so that a typo never silently falls back to a default.
 */
export const repoConfigSchema = z
  .object({
    /** Create an environment for every branch pushed or created on GitHub (not only pull requests). */
    fetch_branches: z
      .boolean()
      .default(true)
      .describe(
        "Create an environment for every branch pushed or created on GitHub (not only pull requests).",
      ),
    /** Delete a branch's environment when the branch is deleted on GitHub. */
    prune_branches: z
      .boolean()
      .default(true)
      .describe("Delete a branch's environment when the branch is deleted on GitHub."),
    /** Create an environment `pr-<number>` for every pull request. */
    build_pull_requests: z
      .boolean()
      .default(true)
      .describe("Create an environment `pr-<number>` for every pull request."),
    /** Build draft pull requests too; when false, a PR converted to draft has its environment deactivated. */
    build_draft_pull_requests: z
      .boolean()
      .default(true)
      .describe(
        "Build draft pull requests too; when false, a PR converted to draft has its environment deactivated.",
      ),
    /** Rebuild a pull request's environment when its base branch moves, as the result of merging it would. */
    build_pull_requests_post_merge: z
      .boolean()
      .default(false)
      .describe(
        "Rebuild a pull request's environment when its base branch moves, as the result of merging it would.",
      ),
    /** A pull request's environment starts from a copy of its parent environment's data. */
    pull_requests_clone_parent_data: z
      .boolean()
      .default(true)
      .describe("A pull request's environment starts from a copy of its parent environment's data."),
    /** Build pull requests whose head branch lives in a fork (untrusted code). */
    build_forks: z
      .boolean()
      .default(false)
      .describe("Build pull requests whose head branch lives in a fork (untrusted code)."),
  })
  .strict();

export type RepoConfig = z.infer<typeof repoConfigSchema>;

/** The options a repository without `.github/envhooks.yml` gets. */
export const DEFAULT_REPO_CONFIG: RepoConfig = repoConfigSchema.parse({});

/** Describes every problem in one sentence per field, e.g. `build_forks: expected boolean, received string`. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.join(".");
    if (issue.code === "unrecognized_keys") {
      return `${issue.keys.join(", ")}: unknown option${issue.keys.length > 1 ? "s" : ""} (${issue.message})`;
    }
    return `${path || "(file)"}: ${issue.message}`;
  });
}
