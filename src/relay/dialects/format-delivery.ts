import type { Activity } from "../../activity/activity.ts";
import { chatMessage } from "../chat/chat-message.ts";
import type { WebhookFormat } from "../integration.schema.ts";
import type { Integration } from "../integration.ts";

/** What a delivery carries: the event name its headers announce and the JSON body. */
export interface FormattedDelivery {
  event: string;
  body: unknown;
}

/** Facts about an activity that are not in its JSON. */
export interface FormatContext {
  /** The activity's position in the store: increases with every activity (Divshot's `version`). */
  sequence: number;
}

type Formatter = (activity: Activity, context: FormatContext) => FormattedDelivery | undefined;

const RELEASE_TYPES = new Set([
  "environment.branch",
  "environment.push",
  "environment.redeploy",
  "environment.activate",
]);

/** The last commit of an activity, if it has any. */
function headCommit(activity: Activity) {
  return activity.payload.commits.at(-1);
}

const isComplete = (activity: Activity) => activity.state === "complete";
const succeeded = (activity: Activity) => activity.state === "complete" && activity.result === "success";

/** Platform.sh's generic webhook: the activity JSON itself. */
const platformsh: Formatter = (activity) => ({ event: activity.type, body: activity });

/** Dockership's post-deploy hook: sent when an activity completes; a failure keeps the previous revision. */
const dockership: Formatter = (activity) => {
  if (!isComplete(activity)) return undefined;
  const failed = activity.result !== "success";
  const previous = activity.parameters.old_commit;
  return {
    event: "deploy",
    body: {
      previous_revision: previous,
      current_revision: failed ? previous : activity.parameters.new_commit,
      project: activity.project,
      environment: activity.parameters.environment,
      errors: failed ? [activity.log.split("\n").filter(Boolean).at(-1) ?? `${activity.type} failed`] : [],
    },
  };
};

/** Kudu's PostDeployment hook. */
const kudu: Formatter = (activity) => {
  const commit = headCommit(activity);
  const status =
    activity.state === "pending"
      ? "pending"
      : activity.state === "in_progress"
        ? "building"
        : succeeded(activity)
          ? "success"
          : "failed";
  return {
    event: "PostDeployment",
    body: {
      id: activity.parameters.new_commit ?? activity.parameters.old_commit ?? activity.id,
      status,
      author_email: commit?.author.email ?? null,
      author: commit?.author.name ?? activity.payload.user?.display_name ?? null,
      message: commit?.message ?? activity.text,
      deployer: activity.payload.user?.display_name ?? "envhooks",
      start_time: activity.started_at ?? activity.created_at,
      end_time: activity.completed_at,
    },
  };
};

/** Divshot's `release` event: a new version of an environment went live. */
const divshot: Formatter = (activity, { sequence }) => {
  if (!succeeded(activity) || !RELEASE_TYPES.has(activity.type)) return undefined;
  const environment = activity.payload.environment;
  const completed = activity.completed_at ?? activity.updated_at;
  return {
    event: "release",
    body: {
      event: "release",
      data: {
        app: { name: activity.project, id: activity.project },
        release: {
          env: activity.parameters.environment,
          version: sequence,
          author: headCommit(activity)?.author.email ?? activity.payload.user?.display_name ?? null,
          rollback: false,
          source: "envhooks",
          source_env: environment?.parent ?? null,
          timestamp: Math.floor(Date.parse(completed) / 1000),
          url: (environment as { url?: string } | null)?.url ?? null,
          permanent_url: null,
        },
      },
    },
  };
};

/** Shipway's `build_finish`, with the activity as the build. */
const shipway: Formatter = (activity, { sequence }) => {
  if (!isComplete(activity)) return undefined;
  const commit = headCommit(activity);
  const [owner = "", name = ""] = activity.project.split("/");
  const ok = activity.result === "success";
  return {
    event: "build_finish",
    body: {
      build: {
        build_num: sequence,
        created_at: activity.created_at,
        dockerfile_dir: "/",
        exit_code: ok ? 0 : 1,
        status: ok ? "succeeded" : "failed",
        finished_at: activity.completed_at,
        updated_at: activity.updated_at,
      },
      commit: {
        author: { login: activity.payload.user?.display_name ?? null, name: commit?.author.name ?? null },
        message: commit?.message ?? activity.text,
        sha: activity.parameters.new_commit,
      },
      image_tags: [],
      images: [],
      repository: {
        clone_url: `https://github.com/${activity.project}.git`,
        id: null,
        name,
        owner: { id: null, login: owner },
      },
    },
  };
};

const FORMATTERS: Record<WebhookFormat, Formatter> = { platformsh, dockership, kudu, divshot, shipway };

/** The delivery an activity makes in a dialect, or undefined when the dialect has nothing to say about it. */
export function formatDelivery(
  format: WebhookFormat,
  activity: Activity,
  context: FormatContext,
): FormattedDelivery | undefined {
  return FORMATTERS[format](activity, context);
}

/**
 * What an integration sends for an activity: a webhook's dialect, or a chat channel's message
 * (under the activity's type); undefined when there is nothing to send.
 */
export function formatForIntegration(
  integration: Integration,
  activity: Activity,
  context: FormatContext,
): FormattedDelivery | undefined {
  if (integration.type === "webhook") return formatDelivery(integration.config.format, activity, context);
  return { event: activity.type, body: chatMessage(integration.type, activity, integration.config) };
}
