import ms from "ms";
import { z } from "zod";

/**
 * `.github/envhooks.yml`: per-repository options, named and defaulted like Platform.sh's GitHub
 * integration. Unknown keys are refused so that a typo never silently falls back to a default.
 */
/** What `environment_url` may name, each written `{name}`. */
export const URL_PLACEHOLDERS = ["machine_name", "name", "pr", "sha", "short_sha", "owner", "repo"] as const;

const labelName = z.string().trim().min(1).max(50);

const urlTemplate = z
  .string()
  .max(500)
  .superRefine((template, context) => {
    for (const [, name] of template.matchAll(/\{([^}]*)\}/g)) {
      if (!(URL_PLACEHOLDERS as readonly string[]).includes(name ?? "")) {
        context.addIssue({
          code: "custom",
          message: `unknown placeholder {${name}}; use ${URL_PLACEHOLDERS.map((n) => `{${n}}`).join(", ")}`,
        });
      }
    }
    const sample = template.replace(/\{[^}]*\}/g, "x");
    if (!/^https?:\/\//.test(sample) || !URL.canParse(sample)) {
      context.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
    }
  });

/** The environment activity types (`environment.push`, …), as `notify.repository_dispatch` names them. */
export const ACTIVITY_TYPE_NAMES = [
  "environment.branch",
  "environment.push",
  "environment.delete",
  "environment.deactivate",
  "environment.activate",
  "environment.redeploy",
] as const;

/** A duration such as `90m`, `12h`, `7d` (the `ms` package's syntax), kept as written. */
const duration = z.string().refine((text) => {
  const value = ms(text as ms.StringValue);
  return typeof value === "number" && value >= 60_000;
}, "must be a duration of at least a minute, such as 30m, 12h or 7d");

/** A duration option in milliseconds. */
export function durationMs(text: string): number {
  return ms(text as ms.StringValue);
}

/** `github_actions:` in `.github/envhooks.yml`. */
const githubActions = z
  .object({
    /** A file in `.github/workflows` (`preview.yml`), or the workflow's numeric id. */
    workflow: z
      .union([
        z
          .string()
          .regex(
            /^[\w.-]+\.ya?ml$/,
            "must be a file name in .github/workflows (preview.yml) or a numeric id",
          ),
        z.number().int().positive(),
      ])
      .describe("A file in `.github/workflows` (e.g. `preview.yml`), or the workflow's numeric id."),
    /** `head`: the environment's branch (a pull request's base branch); `default`: the default branch. */
    ref: z
      .enum(["head", "default"])
      .default("head")
      .describe(
        "The branch whose workflow file runs: `head`, the environment's branch (for a pull request, its base branch: a fork's branch is not in the repository), or `default`, the default branch. The commit to build is the `sha` input either way.",
      ),
    /** Cancel the run of an activity that a newer one superseded. */
    cancel_superseded: z
      .boolean()
      .default(true)
      .describe("Cancel the run of an activity that a newer one of its environment superseded."),
    /** The activity fails when its run has not finished this long after it began. */
    timeout: duration
      .default("60m")
      .describe(
        "The activity completes as a failure when its run has not finished this long (e.g. `60m`) after it began.",
      ),
  })
  .strict();

// ── Build gates: changed-path filters and the environment cap (issue 25, sections 2 and 3) ──

/** A gitignore-style glob over the repository's file paths (see `src/lifecycle/match-paths.ts`). */
const pathGlob = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(200)
  .refine((glob) => !glob.startsWith("!"), "negation (!) is not supported: list the pattern in paths_ignore")
  .refine((glob) => !/[[\]\\]/.test(glob), "character classes ([...]) and escapes (\\) are not supported");

const pathGlobs = z.array(pathGlob).min(1, "must list at least one pattern").max(100);

/** The options that decide whether a push builds at all, kept together (spread into the schema below). */
const buildGateOptions = {
  /** A push rebuilds an environment only when a changed file matches one of these. */
  paths: pathGlobs
    .optional()
    .describe(
      'Rebuild an environment only when a changed file matches one of these gitignore-style globs (e.g. `["apps/web/**", "packages/ui/**"]`). Creating and deleting environments are never skipped; when the changed files are not known for sure (more than 300, a compare that failed, more than 2048 commits), the environment is rebuilt.',
    ),
  /** Changed files matching these never cause a rebuild by themselves. */
  paths_ignore: pathGlobs
    .optional()
    .describe(
      'Changed files matching these gitignore-style globs (e.g. `["**/*.md", "docs/**"]`) never cause a rebuild by themselves.',
    ),
  /** At most this many active environments besides the default branch's. */
  max_environments: z
    .number()
    .int("must be a whole number")
    .min(1, "must be at least 1 (leave it out for no limit)")
    .max(10_000)
    .optional()
    .describe(
      "At most this many active environments besides the default branch's; no limit when left out. What happens at the limit: `on_environment_limit`.",
    ),
  /** `refuse`: a new environment over the cap is not created; `deactivate_oldest`: the oldest makes room. */
  on_environment_limit: z
    .enum(["refuse", "deactivate_oldest"])
    .optional()
    .describe(
      "With `max_environments`: `refuse` (the default: a new environment over the limit is not created; its activity, commit status and pull request comment say why) or `deactivate_oldest` (the least recently deployed environment without a pull request, then the oldest pull request's, is deactivated to make room).",
    ),
  /** Active environments with no activity for this long are deactivated (kept, not deleted). */
  stale_after: duration
    .optional()
    .describe(
      "Deactivate branch and pull request environments with no activity for this long (e.g. `14d`): they are kept and come back with the next push. `environment_ttl` deletes them instead; with both, deactivation comes first and deletion `environment_ttl` after it.",
    ),
};

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
    /** Build pull requests whose head branch lives in a fork (untrusted code); `approve`: once a maintainer adds the `envhooks:approve` label. */
    build_forks: z
      .union([z.boolean(), z.literal("approve")])
      .default(false)
      .describe(
        "Build pull requests whose head branch lives in a fork (untrusted code): true, false, or `approve` (once a maintainer adds the `envhooks:approve` label).",
      ),
    /**
     * With `build_forks: approve`, every new push to a fork's pull request needs approving again.
     * Unset: on with `runner: github-actions` (its workflow runs with the repository's secrets), off otherwise.
     */
    fork_reapprove: z
      .boolean()
      .optional()
      .describe(
        "With `build_forks: approve`, every new push to a fork's pull request needs approving again (envhooks removes the label): only the commit a maintainer approved is built. Default: true with `runner: github-actions`, false otherwise.",
      ),
    /** Pull requests get an environment only while they carry this label. */
    pull_requests_require_label: labelName
      .optional()
      .describe("Pull requests get an environment only while they carry this label."),
    /** Pull requests carrying this label get no environment. */
    pull_requests_skip_label: labelName
      .optional()
      .describe("Pull requests carrying this label get no environment."),
    /** The environment's address, e.g. `https://{machine_name}.preview.example.com`. */
    environment_url: urlTemplate
      .optional()
      .describe(
        `The environment's address, e.g. \`https://{machine_name}.preview.example.com\`; placeholders: ${URL_PLACEHOLDERS.map((name) => `{${name}}`).join(", ")}.`,
      ),
    /** What envhooks shows on GitHub. */
    github: z
      .object({
        deployments: z
          .boolean()
          .default(true)
          .describe("A GitHub Deployment per environment change, with statuses that follow the activity."),
        statuses: z
          .boolean()
          .default(true)
          .describe("A commit status `envhooks/<environment>` on the environment's head commit."),
        comments: z
          .boolean()
          .default(true)
          .describe("One comment per pull request, edited in place as its environment changes."),
      })
      .strict()
      .default({ deployments: true, statuses: true, comments: true })
      .describe("What envhooks shows on GitHub."),
    /**
     * `external`: activities start `pending` and a deploy system reports their progress.
     * `github-actions`: each activity starts a workflow (`github_actions`), followed from GitHub's events.
     */
    runner: z
      .enum(["none", "external", "github-actions"])
      .default("none")
      .describe(
        "`external`: activities start `pending` and a deploy system reports their progress (POST /api/activities/{id}/progress). `github-actions`: each activity starts the workflow `github_actions.workflow` and follows its run.",
      ),
    /** With `runner: github-actions`: the workflow each activity starts, and how its run is followed. */
    github_actions: githubActions
      .optional()
      .describe(
        "With `runner: github-actions`: the workflow each activity starts (workflow_dispatch), and how its run is followed.",
      ),
    /** With `runner: external`, an activity with no report for this long completes as a failure. */
    runner_timeout: duration
      .default("1h")
      .describe(
        "With `runner: external`, an activity with no report for this long (e.g. `1h`) completes as a failure.",
      ),
    /** What envhooks tells the repository itself. */
    notify: z
      .object({
        repository_dispatch: z
          .union([z.boolean(), z.array(z.enum(ACTIVITY_TYPE_NAMES)).min(1)])
          .default(false)
          .describe(
            "Send a `repository_dispatch` event `envhooks.<activity type>` when an activity completes: `true` for every environment activity, or a list of activity types (e.g. `[environment.push]`).",
          ),
      })
      .strict()
      .optional()
      .describe("What envhooks tells the repository itself (repository_dispatch events for its workflows)."),
    /** Branch and pull request environments with no activity for this long are deleted. */
    environment_ttl: duration
      .optional()
      .describe(
        "Branch and pull request environments with no activity for this long (e.g. `7d`) are deleted; the default branch's never.",
      ),
    ...buildGateOptions,
  })
  .strict()
  .refine((config) => config.runner !== "github-actions" || config.github_actions !== undefined, {
    path: ["github_actions"],
    message: "runner: github-actions needs github_actions.workflow (e.g. preview.yml)",
  });

/** The label a maintainer adds to a fork's pull request to let it have an environment. */
export const APPROVE_LABEL = "envhooks:approve";

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
