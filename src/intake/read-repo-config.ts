import { DEFAULT_REPO_CONFIG, describeIssues, repoConfigSchema } from "../config/repo-config.schema.ts";
import type { ConfigResult } from "./apply-event.ts";

/** Reads a repository's raw `.github/envhooks.yml` (Probot's `context.config`); null when there is none. */
export type LoadConfig = () => Promise<unknown>;

/**
 * Reads and validates `.github/envhooks.yml`. A file that cannot be parsed or breaks the schema is
 * an invalid config (reported as a failed activity); a GitHub API failure is thrown, so the event is
 * retried with backoff rather than applied with the wrong options.
 */
export async function readRepoConfig(load: LoadConfig): Promise<ConfigResult> {
  let raw: unknown;
  try {
    raw = await load();
  } catch (error) {
    // Octokit's RequestError carries the HTTP status: GitHub failed, not the file.
    if (typeof (error as { status?: unknown }).status === "number") throw error;
    return {
      ok: false,
      problems: [(error as Error).message.replace(/^\[@probot\/octokit-plugin-config\] /, "")],
    };
  }
  if (raw === null || raw === undefined) return { ok: true, config: DEFAULT_REPO_CONFIG };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return { ok: false, problems: ["(file): must be a mapping of option: value"] };
  }
  // `_extends` is Probot's inheritance key; it was resolved when the file was read.
  const { _extends, ...options } = raw as Record<string, unknown>;
  const parsed = repoConfigSchema.safeParse(options);
  return parsed.success
    ? { ok: true, config: parsed.data }
    : { ok: false, problems: describeIssues(parsed.error) };
}
