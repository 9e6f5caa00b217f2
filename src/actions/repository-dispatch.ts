import type { Activity } from "../activity/activity.ts";
import { ACTIVITY_TYPE_NAMES, type RepoConfig } from "../config/repo-config.schema.ts";

/** `POST /repos/{owner}/{repo}/dispatches` for an activity that completed (`notify.repository_dispatch`). */
export interface RepositoryDispatchRequest {
  kind: "repository-dispatch";
  eventType: string;
  clientPayload: Record<string, string | number | null>;
}

/** GitHub's limits: https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event */
export const EVENT_TYPE_MAX = 100;
export const CLIENT_PAYLOAD_MAX_KEYS = 10;
export const CLIENT_PAYLOAD_MAX_BYTES = 64 * 1024;
/** Each text value is cut to this many characters, so the payload stays far under 64 KB. */
const VALUE_MAX = 2_000;

/**
 * The `repository_dispatch` sent when an activity completes, for the activity types the repository
 * names (`true`: every environment activity): `event_type` `envhooks.<type>` (e.g.
 * `envhooks.environment.push`), and a `client_payload` of ten keys at most.
 */
export function repositoryDispatchTask(
  activity: Activity,
  config: RepoConfig,
): RepositoryDispatchRequest | undefined {
  const wanted = config.notify?.repository_dispatch;
  const environment = activity.payload.environment;
  if (!wanted || activity.state !== "complete" || !environment) return undefined;
  const types: readonly string[] = Array.isArray(wanted) ? wanted : ACTIVITY_TYPE_NAMES;
  if (!types.includes(activity.type)) return undefined;
  const text = (value: string | null | undefined) => (value == null ? null : value.slice(0, VALUE_MAX));
  return {
    kind: "repository-dispatch",
    eventType: `envhooks.${activity.type}`.slice(0, EVENT_TYPE_MAX),
    clientPayload: {
      id: activity.id,
      type: activity.type,
      state: activity.state,
      result: activity.result,
      environment: text(environment.name),
      environment_url: text(environment.url),
      sha: activity.parameters.new_commit ?? environment.head_commit,
      pr: environment.pull_request,
      log_url: text(activity.log_url),
      project: activity.project,
    },
  };
}
