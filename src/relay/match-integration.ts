import type { Activity } from "../activity/activity.ts";
import type { WebhookConfig } from "./integration.schema.ts";

/**
 * `*` matches any run of characters (slashes included: `feature/*` matches `feature/a/b`), `?` one.
 *
 * Greedy two-pointer matching with one backtrack point (the last `*` seen): when a later `*` is
 * reached, the earlier ones can never need to take more, so at most O(pattern × value) steps. A
 * regular expression built from the pattern backtracks exponentially in the number of stars
 * (`***********x` took a second per activity). picomatch (installed through vite) compiles to a
 * regular expression too, and its `*` stops at slashes, so it is not used.
 */
export function globMatches(pattern: string, value: string): boolean {
  return wildcardsMatch(pattern, value, "*", (token, item) => token === "?" || token === item);
}

/**
 * The walk `globMatches` makes over characters, for any sequence: `star` matches any run of items
 * (none included), every other token matches one item when `matchOne` says so. One backtrack point,
 * the last star seen, so at most O(pattern × value) calls of `matchOne`.
 */
export function wildcardsMatch<Token, Item>(
  pattern: ArrayLike<Token>,
  value: ArrayLike<Item>,
  star: Token,
  matchOne: (token: Token, item: Item) => boolean,
): boolean {
  let p = 0;
  let v = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (v < value.length) {
    const token = pattern[p];
    if (token === star) {
      starAt = p++;
      resumeAt = v;
    } else if (p < pattern.length && matchOne(token as Token, value[v] as Item)) {
      p++;
      v++;
    } else if (starAt !== -1) {
      p = starAt + 1;
      v = ++resumeAt;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === star) p++;
  return p === pattern.length;
}

/**
 * Whether an activity goes to an integration: its type is in `events`, its state in `states`, its
 * result in `results` (when set), and
 * its environment in `environments` but not in `excluded_environments`. An activity with no
 * environment (a config error) matches `environments: ["*"]` only.
 */
export function matchesIntegration(
  filters: Pick<WebhookConfig, "events" | "states" | "results" | "environments" | "excluded_environments">,
  activity: Pick<Activity, "type" | "state" | "result" | "environments">,
): boolean {
  if (!filters.events.some((pattern) => globMatches(pattern, activity.type))) return false;
  if (!filters.states.includes(activity.state)) return false;
  if (filters.results && !(activity.result !== null && filters.results.includes(activity.result)))
    return false;
  const environments = activity.environments;
  if (environments.length === 0) return filters.environments.includes("*");
  return environments.some(
    (name) =>
      filters.environments.some((pattern) => globMatches(pattern, name)) &&
      !filters.excluded_environments.some((pattern) => globMatches(pattern, name)),
  );
}

/**
 * Whether an owner-wide integration's `projects` filter lets a project's activities through: a
 * pattern with a slash is matched against `owner/repo`, one without against the repository's
 * name, both in lower case (as project keys are). No filter: every project.
 */
export function matchesProjects(patterns: readonly string[] | undefined, projectKey: string): boolean {
  if (!patterns) return true;
  const name = projectKey.slice(projectKey.indexOf("/") + 1);
  return patterns.some((pattern) => {
    const lower = pattern.toLowerCase();
    return globMatches(lower, lower.includes("/") ? projectKey : name);
  });
}
