import type { Activity } from "../activity/activity.ts";
import type { WebhookConfig } from "./integration.schema.ts";

/** `*` matches any run of characters (slashes included: `feature/*` matches `feature/a/b`), `?` one. */
export function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(value);
}

/**
 * Whether an activity goes to an integration: its type is in `events`, its state in `states`, and
 * its environment in `environments` but not in `excluded_environments`. An activity with no
 * environment (a config error) matches `environments: ["*"]` only.
 */
export function matchesIntegration(
  filters: Pick<WebhookConfig, "events" | "states" | "environments" | "excluded_environments">,
  activity: Pick<Activity, "type" | "state" | "environments">,
): boolean {
  if (!filters.events.some((pattern) => globMatches(pattern, activity.type))) return false;
  if (!filters.states.includes(activity.state)) return false;
  const environments = activity.environments;
  if (environments.length === 0) return filters.environments.includes("*");
  return environments.some(
    (name) =>
      filters.environments.some((pattern) => globMatches(pattern, name)) &&
      !filters.excluded_environments.some((pattern) => globMatches(pattern, name)),
  );
}
