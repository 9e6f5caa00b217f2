import type { RepoConfig } from "../config/repo-config.schema.ts";
import { globMatches, wildcardsMatch } from "../relay/match-integration.ts";

/**
 * Whether a file path matches a gitignore-style glob (https://git-scm.com/docs/gitignore#_pattern_format):
 * `*` and `?` stay within one path segment, `**` spans any number of them; a pattern with no slash
 * but a trailing one (`*.md`, `docs/`) matches at any depth, one with a slash is anchored at the
 * repository's root (a leading `/` too); a pattern naming a directory matches every file under it,
 * and a trailing `/` matches directories only.
 *
 * The segments are matched like `globMatches` matches characters (it matches each segment): one
 * backtrack point, the last `**` seen, so at most O(pattern segments × path segments) segment
 * matches, each linear. Negation and character classes are refused by the schema.
 */
export function pathMatches(pattern: string, path: string): boolean {
  let glob = pattern.trim();
  const directoryOnly = glob.endsWith("/");
  glob = glob.replace(/\/+$/, "");
  const anchored = glob.includes("/");
  glob = glob.replace(/^\/+/, "");
  const segments = glob.split("/").filter((segment) => segment !== "");
  if (!anchored) segments.unshift("**");
  // A directory matches what is under it; `docs/` matches only under it (the paths are files).
  if (directoryOnly) segments.push("*");
  segments.push("**");
  return segmentsMatch(segments, path.split("/"));
}

function segmentsMatch(pattern: readonly string[], value: readonly string[]): boolean {
  return wildcardsMatch(pattern, value, "**", globMatches);
}

/** The files a change touched, or why they are not known (then the environment is built). */
export type ChangedFiles = { files: readonly string[] } | { unknown: string };

/** Above this many changed files GitHub's compare stops listing them: they are not known. */
export const MAX_CHANGED_FILES = 300;

/**
 * Whether changed files can skip a rebuild under `paths` / `paths_ignore`: a file is relevant when it
 * matches `paths` (any file when unset) and not `paths_ignore`; with none relevant, the rebuild is
 * skipped. Returns the reason to skip, or undefined to build: no filter, unknown files, too many,
 * or a relevant one. Never skips on doubt.
 */
export function whySkipByPaths(
  options: Pick<RepoConfig, "paths" | "paths_ignore">,
  changed: ChangedFiles | undefined,
): string | undefined {
  const { paths, paths_ignore: ignored } = options;
  if (!paths && !ignored) return undefined;
  if (!changed || "unknown" in changed) return undefined;
  if (changed.files.length === 0 || changed.files.length > MAX_CHANGED_FILES) return undefined;
  const relevant = changed.files.some(
    (file) =>
      (!paths || paths.some((glob) => pathMatches(glob, file))) &&
      !(ignored ?? []).some((glob) => pathMatches(glob, file)),
  );
  return relevant ? undefined : PATHS_SKIPPED;
}

/** What a skipped rebuild says: the event's outcome, the dashboard and the commit status. */
export const PATHS_SKIPPED = "skipped: no changed file under paths";
