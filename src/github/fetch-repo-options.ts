import type { ProbotOctokit } from "probot";
import { type ConfigResult, validateRepoConfig } from "../config/validate-repo-config.ts";
import type { OptionsSource } from "../store/projects.ts";
import { parseYamlBounded, YamlProblem } from "./parse-yaml-bounded.ts";

/** Where a repository's options live, as Probot's `context.config("envhooks.yml")` reads them. */
export const OPTIONS_PATH = ".github/envhooks.yml";

/** The largest options file envhooks reads: a larger one is an invalid config, whatever it holds. */
export const MAX_OPTIONS_BYTES = 64 * 1024;

/** The repository's own file, the owner's `.github` one, and a few `_extends` steps at most. */
const MAX_FILES = 5;

/** A file whose parsed value is larger than this as JSON (aliases expand) is refused: options are small. */
const MAX_PARSED_BYTES = 128 * 1024;

/** One file as GitHub answered a (conditional) contents request for it. */
export type FileAnswer =
  | { status: "found"; etag: string | null; sha: string; size: number; text: string | null }
  | { status: "unchanged" }
  | { status: "missing" }
  | { status: "not-a-file" };

/** Reads one file of a repository's default branch; `etag` makes it a conditional request. */
export type ReadFile = (file: {
  owner: string;
  repo: string;
  path: string;
  etag: string | null;
}) => Promise<FileAnswer>;

export interface FetchedOptions {
  result: ConfigResult;
  /** The files read, in Probot's order (the repository's own first), each with what identifies it. */
  sources: OptionsSource[];
  /** Requests made, and how many GitHub answered 304 (free of rate limit). */
  requests: number;
  unchanged: number;
}

/**
 * Reads a repository's options the way Probot's config plugin does: `.github/envhooks.yml` in the
 * repository, else in the owner's `.github` repository, then the `_extends` chain from the last one
 * found, deep-merged with the repository's own values winning. `known` (the sources read last time)
 * turns every request into a conditional one: a file that did not change answers 304 and is taken
 * from `known`. A file over 64 KB, or one that does not parse within the bounds of
 * `parseYamlBounded`, is an invalid config saying so; a GitHub failure is thrown.
 */
export async function fetchRepoOptions(
  readFile: ReadFile,
  target: { owner: string; repo: string },
  known: OptionsSource[] | null,
): Promise<FetchedOptions> {
  const sources: OptionsSource[] = [];
  let requests = 0;
  let unchanged = 0;
  const problems: string[] = [];

  async function read(owner: string, repo: string, path: string): Promise<OptionsSource> {
    const name = `${owner}/${repo}`.toLowerCase();
    const before = known?.find((source) => source.repo === name && source.path === path);
    requests++;
    const answer = await readFile({ owner, repo, path, etag: before?.etag ?? null });
    const source: OptionsSource = { repo: name, path, etag: null, sha: null, config: null };
    if (answer.status === "unchanged" && before) {
      unchanged++;
      // A file that was unusable is still unusable: its problem is reported again.
      if (before.problem) problems.push(before.problem);
      return before;
    }
    if (answer.status === "missing" || answer.status === "unchanged") return { ...source, missing: true };
    const where = `${owner}/${repo}:${path}`;
    const refuse = (problem: string) => {
      source.problem = `${where}: ${problem}`;
      problems.push(source.problem);
      return source;
    };
    if (answer.status === "not-a-file") return refuse("is a directory or a submodule, not a file");
    Object.assign(source, { etag: answer.etag, sha: answer.sha });
    if (answer.size > MAX_OPTIONS_BYTES || answer.text === null) {
      return refuse(`is ${formatSize(answer.size)}; envhooks reads at most 64 KB`);
    }
    let value: unknown;
    try {
      // An empty file (or a false one) is an empty mapping, as in Probot.
      value = (await parseYamlBounded(answer.text)) || {};
    } catch (error) {
      if (!(error instanceof YamlProblem)) throw error;
      return refuse(error.message);
    }
    if (!isMapping(value)) return refuse("must be a mapping of option: value");
    if (JSON.stringify(value).length > MAX_PARSED_BYTES)
      return refuse("expands to more than 128 KB of options");
    source.config = value;
    return source;
  }

  const { owner, repo } = target;
  sources.push(await read(owner, repo, OPTIONS_PATH));
  // Probot's fallback: only when the repository has no file at all.
  if (sources[0]?.missing && problems.length === 0 && repo.toLowerCase() !== ".github") {
    sources.push(await read(owner, ".github", OPTIONS_PATH));
  }
  for (let last = sources.at(-1); last && problems.length === 0; last = sources.at(-1)) {
    const base = baseOf(last, owner);
    if (base === undefined) break;
    if (typeof base === "string") {
      problems.push(base);
      break;
    }
    const name = `${base.owner}/${base.repo}`.toLowerCase();
    if (sources.some((source) => source.repo === name && source.path === base.path)) {
      problems.push(`_extends: ${name}:${base.path} is already part of these options (a loop)`);
      break;
    }
    if (sources.length >= MAX_FILES) {
      problems.push(`_extends: more than ${MAX_FILES} files in one chain`);
      break;
    }
    sources.push(await read(base.owner, base.repo, base.path));
  }

  if (problems.length > 0) return { result: { ok: false, problems }, sources, requests, unchanged };
  const found = sources.map((source) => source.config).filter((config) => config !== null);
  const merged =
    found.length === 0 ? null : found.reverse().reduce<unknown>((base, over) => deepMerge(base, over), {});
  const result = validateRepoConfig(merged);
  return { result, sources, requests, unchanged };
}

/** Probot's `_extends` syntax: `repo`, `owner/repo`, with `:path/to/file.yml` optionally. */
const EXTENDS = /^(?:([a-z\d](?:[a-z\d]|-(?=[a-z\d])){0,38})\/)?([-_.\w]+)(?::([-_./\w]+\.ya?ml))?$/i;

/** The file a source extends: undefined when none, a problem when `_extends` is not understood. */
function baseOf(
  source: OptionsSource,
  owner: string,
): { owner: string; repo: string; path: string } | string | undefined {
  const config = source.config;
  if (config === null || typeof config !== "object" || Array.isArray(config)) return undefined;
  const value = (config as Record<string, unknown>)._extends;
  if (value === undefined) return undefined;
  const match = typeof value === "string" ? EXTENDS.exec(value) : null;
  if (!match)
    return `_extends: ${JSON.stringify(value)} is not a repository (\`repo\`, \`owner/repo\` or \`owner/repo:path.yml\`)`;
  return { owner: match[1] ?? owner, repo: match[2] ?? "", path: match[3] ?? OPTIONS_PATH };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** deepmerge's rules, as Probot applies them: mappings merge, lists concatenate, the later value wins. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over];
  if (!isMapping(base) || !isMapping(over)) return over;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    // As deepmerge does: keys that would reach the prototype are not merged.
    if (key === "__proto__" || key === "constructor" || key === "prototype") continue;
    merged[key] = Object.hasOwn(merged, key) ? deepMerge(merged[key], value) : value;
  }
  return merged;
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/** GitHub gives up on nothing by itself: a config read waits at most this long for its answer. */
const READ_TIMEOUT_MS = 10_000;

/**
 * Reads files through the installation's Octokit: the contents API's object form (with the blob
 * sha and size, and no content past 1 MB), conditional on the ETag read last time. A 304 costs no
 * rate limit: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
 */
export function readFileWith(octokit: InstanceType<typeof ProbotOctokit>): ReadFile {
  return async ({ owner, repo, path, etag }) => {
    try {
      const response = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
        owner,
        repo,
        path,
        headers: etag ? { "if-none-match": etag } : {},
        request: { signal: AbortSignal.timeout(READ_TIMEOUT_MS) },
      });
      const data = response.data;
      if (Array.isArray(data) || data.type !== "file") return { status: "not-a-file" };
      const content = "content" in data ? data.content : undefined;
      const text =
        "encoding" in data && data.encoding === "base64" && content
          ? Buffer.from(content, "base64").toString("utf8")
          : data.size === 0
            ? ""
            : null;
      return { status: "found", etag: response.headers.etag ?? null, sha: data.sha, size: data.size, text };
    } catch (error) {
      const status = (error as { status?: unknown }).status;
      if (status === 304) return { status: "unchanged" };
      if (status === 404) return { status: "missing" };
      throw error;
    }
  };
}
