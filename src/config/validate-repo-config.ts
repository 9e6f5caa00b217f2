import {
  DEFAULT_REPO_CONFIG,
  describeIssues,
  type RepoConfig,
  repoConfigSchema,
} from "./repo-config.schema.ts";

/** The repository's options, or why `.github/envhooks.yml` could not be used. */
export type ConfigResult = { ok: true; config: RepoConfig } | { ok: false; problems: string[] };

/**
 * Validates the options read from `.github/envhooks.yml` (merged with what it extends; null when
 * there is none). A value that breaks the schema is an invalid config, reported as a failed activity.
 */
export function validateRepoConfig(raw: unknown): ConfigResult {
  if (raw === null || raw === undefined) return { ok: true, config: DEFAULT_REPO_CONFIG };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return { ok: false, problems: ["(file): must be a mapping of option: value"] };
  }
  // `_extends` is Probot's inheritance key; it was resolved when the files were read.
  const { _extends, ...options } = raw as Record<string, unknown>;
  const parsed = repoConfigSchema.safeParse(options);
  return parsed.success
    ? { ok: true, config: parsed.data }
    : { ok: false, problems: describeIssues(parsed.error) };
}
