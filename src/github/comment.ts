import type { Activity } from "../activity/activity.ts";

/** Hidden in the rendered comment; finds envhooks' comment again if its id is lost. */
export const COMMENT_MARKER = "<!-- envhooks:environment -->";

const TITLES: Record<string, string> = {
  "environment.branch": "created",
  "environment.push": "rebuilt",
  "environment.redeploy": "redeployed",
  "environment.activate": "activated",
  "environment.deactivate": "deactivated",
  "environment.delete": "deleted",
};

/** How the activity stands, in a few words. */
function standing(activity: Activity): string {
  switch (activity.state) {
    case "pending":
      return "⏳ Waiting for the deploy runner";
    case "in_progress":
      return `🔄 Deploying (${activity.completion_percent} %)`;
    case "cancelled":
      return "⚪ Cancelled";
    case "complete":
      return activity.result === "failure" ? "🔴 Failed" : "🟢 Succeeded";
  }
}

/** The dashboard's page of an activity under ENVHOOKS_PUBLIC_URL. */
export function activityPageUrl(publicUrl: string, activityId: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/activities/${encodeURIComponent(activityId)}`;
}

/**
 * The pull request comment for an environment's newest activity (Markdown). The activity links to
 * its dashboard page (`pageUrl`); a deploy runner's own log (`logUrl`), when it reported one, is a
 * row of its own.
 */
export function renderActivityComment(
  activity: Activity,
  links: { pageUrl?: string | undefined; logUrl?: string | undefined },
): string {
  const { pageUrl, logUrl } = links;
  const environment = activity.payload.environment;
  if (!environment) return activity.text;
  const name = `\`${environment.name}\``;
  const deleted = environment.status === "deleted";
  const commit = activity.parameters.new_commit ?? environment.head_commit;
  const rows: Array<[string, string]> = [
    ["Environment", deleted || !environment.url ? name : `[${name}](${environment.url})`],
    ["Status", `${standing(activity)}, ${TITLES[activity.type] ?? activity.type}`],
  ];
  if (commit && !deleted) rows.push(["Commit", `\`${commit.slice(0, 7)}\``]);
  rows.push(["Activity", pageUrl ? `[\`${activity.id}\`](${pageUrl})` : `\`${activity.id}\``]);
  if (logUrl && logUrl !== pageUrl) rows.push(["Log", `[deploy log](${logUrl})`]);
  rows.push(["Updated", `${activity.updated_at.slice(0, 16).replace("T", " ")} UTC`]);
  return [
    `**envhooks** · environment ${name} ${TITLES[activity.type] ?? ""}`.trim(),
    "",
    "| | |",
    "| --- | --- |",
    ...rows.map(([key, value]) => `| ${key} | ${value} |`),
    "",
    escapeText(activity.text),
  ].join("\n");
}

/** Keeps user-written text (branch names, logins) from becoming Markdown or HTML. */
function escapeText(text: string): string {
  return text.replace(/[\\`*_{}[\]<>|#]/g, (character) => `\\${character}`);
}
