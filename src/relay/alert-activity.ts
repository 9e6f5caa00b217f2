import type { Activity, ActivityEnvironment, AlertType, AlertWindow } from "../activity/activity.ts";
import { newActivityId } from "../activity/activity-id.ts";
import { buildActivity } from "../activity/build-activity.ts";

/** What went wrong, to be recorded as a failed activity of its project. */
export interface Alert {
  type: AlertType;
  /** The project, as activities name it (`owner/repo`). */
  project: string;
  /** The environment concerned, if any: the alert is ordered and filtered with its activities. */
  environment: ActivityEnvironment | null;
  /** One plain sentence. */
  text: string;
  log: string;
  /** An integration's alert: which, and the alerts it counts. */
  alert?: AlertWindow;
}

/**
 * An alert as an activity: complete and failed from the start, so that integrations filtering on
 * `states: ["complete"]` (the default) and `results: ["failure"]` receive it.
 */
export function alertActivity(alert: Alert, at: Date): Activity {
  const activity = buildActivity({
    id: newActivityId(),
    type: alert.type,
    project: alert.project,
    environment: alert.environment,
    oldCommit: null,
    newCommit: null,
    commits: [],
    user: null,
    text: alert.text,
    log: alert.log,
    result: "failure",
    at,
    github: null,
  });
  return alert.alert ? { ...activity, alert: alert.alert } : activity;
}

/** Alerts are never raised about an alert's own delivery: a failing channel cannot feed itself. */
export function isAlert(activity: Pick<Activity, "type">): boolean {
  return (
    activity.type === "integration.disabled" ||
    activity.type === "integration.delivery.failed" ||
    activity.type === "environment.runner.timeout"
  );
}
