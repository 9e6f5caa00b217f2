import type { Activity } from "../activity/activity.ts";

/** At most one alert per integration and type in this long: later ones count into the first. */
export const ALERT_WINDOW_MS = 10 * 60_000;

/** The log keeps this many failures' lines; the count says how many more there were. */
const LOGGED = 20;

/**
 * Whether an alert raised at `at` counts into the one its integration raised first at `firstAt`:
 * within 10 minutes after it. A clock gone back opens a new window rather than hiding alerts.
 */
export function isWindowOpen(window: { firstAt: Date } | undefined, at: Date): boolean {
  if (!window) return false;
  const since = at.getTime() - window.firstAt.getTime();
  return since >= 0 && since < ALERT_WINDOW_MS;
}

/** One more alert of a window, as data. */
export interface CountedAlert {
  at: Date;
  /** The new alert's own sentence, kept as the newest failure's. */
  text: string;
  /** Its log lines. */
  log: string;
  /** What the count counts, as a plural sentence's middle ("deliveries to the webhook integration x failed for good"). */
  noun: string;
}

/**
 * The window's alert with one more counted in: its count and span, a sentence saying both and the
 * newest failure, the new log lines after the old (the first 20 failures', then how many more).
 * Its id, position and creation time stay: it is the same alert, updated.
 */
export function countIntoAlert(activity: Activity, counted: CountedAlert): Activity {
  const window = activity.alert;
  if (!window) throw new Error(`activity ${activity.id} is no integration's alert`);
  const count = window.count + 1;
  const at = counted.at.toISOString();
  const newest = counted.text.replace(/\.$/, "");
  const lines = activity.log.split("\n").filter((line) => !/^… and \d+ more/.test(line));
  const entry = `${at}: ${counted.log.split("\n")[0] ?? ""}`;
  const log =
    count <= LOGGED
      ? [...lines, entry].join("\n")
      : [...lines, `… and ${count - LOGGED} more (the newest: ${entry})`].join("\n");
  return {
    ...activity,
    text: `${count} ${counted.noun} between ${window.first_at} and ${at}; the newest: ${newest}.`,
    log,
    updated_at: at,
    alert: { ...window, count, last_at: at },
  };
}
