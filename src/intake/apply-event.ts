import type { Activity, ActivityEnvironment } from "../activity/activity.ts";
import { newActivityId } from "../activity/activity-id.ts";
import { buildActivity, describeTransition, transitionLog } from "../activity/build-activity.ts";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { GithubEvent } from "../lifecycle/github-event.ts";
import { machineName, machineNameCandidates } from "../lifecycle/machine-name.ts";
import { concernedEnvironments, planTransitions } from "../lifecycle/plan-transitions.ts";
import { ACTIVITY_TYPES, type Transition } from "../lifecycle/transition.ts";
import type { WriteDeliveries } from "../relay/write-deliveries.ts";
import { insertActivity } from "../store/activities.ts";
import type { Database, Queryable } from "../store/database.ts";
import {
  deleteEnvironment,
  findEnvironments,
  insertEnvironment,
  type StoredEnvironment,
  setLastActivity,
  takenMachineNames,
  updateEnvironment,
} from "../store/environments.ts";
import { claimEvent, markEventProcessed } from "../store/github-events.ts";
import { lockProject, type Project } from "../store/projects.ts";

/** The repository's options, or why `.github/envhooks.yml` could not be used. */
export type ConfigResult = { ok: true; config: RepoConfig } | { ok: false; problems: string[] };

export interface ApplyDeps {
  db: Database;
  now?: () => Date;
  /**
   * The outbox: each stored activity's deliveries are written in the same transaction, and the
   * integrations that have something new to send are woken once it commits.
   */
  outbox?: Outbox;
}

export interface Outbox {
  write: WriteDeliveries;
  wake(integrationId: string): void;
}

export interface Applied {
  /** False when the delivery was applied already (by another worker, or before a crash). */
  applied: boolean;
  activities: Activity[];
  notes: string[];
}

/**
 * Applies one stored GitHub delivery: plans its transitions against the project's environments,
 * changes them, records one activity per change, and marks the delivery processed, all in one
 * transaction under the project's row lock.
 */
export async function applyEvent(
  deps: ApplyDeps,
  deliveryId: string,
  event: GithubEvent,
  installationId: number | null,
  config: ConfigResult,
): Promise<Applied> {
  const now = deps.now ?? (() => new Date());
  const repository = event.payload.repository;
  const toWake = new Set<string>();
  const record = (tx: Queryable, project: Project, activity: Activity) =>
    recordActivity(tx, deps.outbox, project, activity, deliveryId, toWake);
  const applied = await deps.db.transaction(async (tx): Promise<Applied> => {
    const project = await lockProject(tx, {
      fullName: repository.full_name,
      defaultBranch: repository.default_branch,
      installationId,
    });
    const stored = await claimEvent(tx, deliveryId);
    if (!stored) return { applied: false, activities: [], notes: [] };

    const at = now();
    const source = { event: event.name, delivery_id: deliveryId, pull_request: pullRequestOf(event) };
    if (!config.ok) {
      const activity = buildActivity({
        id: newActivityId(),
        type: "integration.github.config",
        project: project.fullName,
        environment: null,
        oldCommit: null,
        newCommit: null,
        commits: [],
        user: event.payload.sender,
        text: `.github/envhooks.yml in ${project.fullName} is invalid: no environment was changed.`,
        log: [
          ".github/envhooks.yml is invalid; fix it and push again:",
          ...config.problems.map((p) => `- ${p}`),
        ].join("\n"),
        result: "failure",
        at,
        github: source,
      });
      await record(tx, project, activity);
      await markEventProcessed(tx, stored.id, `invalid .github/envhooks.yml: ${config.problems.join("; ")}`);
      return { applied: true, activities: [activity], notes: config.problems };
    }

    const environments = await findEnvironments(tx, project.id, concernedEnvironments(event));
    const plan = planTransitions(event, config.config, environments);
    const activities: Activity[] = [];
    for (const transition of plan.transitions) {
      const activity = await applyTransition(tx, project, transition, { event, at, source });
      if (!activity) continue;
      await record(tx, project, activity);
      activities.push(activity);
    }
    const outcome = [...activities.map((a) => a.text), ...plan.notes].join(" ") || "no change";
    await markEventProcessed(tx, stored.id, outcome);
    return { applied: true, activities, notes: plan.notes };
  });
  for (const integrationId of toWake) deps.outbox?.wake(integrationId);
  return applied;
}

interface TransitionContext {
  event: GithubEvent;
  at: Date;
  source: Activity["github"];
}

async function applyTransition(
  tx: Queryable,
  project: Project,
  transition: Transition,
  { event, at, source }: TransitionContext,
): Promise<Activity | undefined> {
  let environment: StoredEnvironment;
  let status: ActivityEnvironment["status"] | undefined;
  switch (transition.action) {
    case "track-head":
      await updateEnvironment(
        tx,
        project.id,
        transition.environment,
        { headCommit: transition.newCommit },
        at,
      );
      return undefined;
    case "create": {
      const candidates = machineNameCandidates(transition.environment.name);
      const taken = await takenMachineNames(tx, project.id, candidates);
      environment = await insertEnvironment(
        tx,
        project.id,
        { ...transition.environment, machineName: machineName(transition.environment.name, taken) },
        at,
      );
      break;
    }
    case "rebuild":
      environment = await updateEnvironment(
        tx,
        project.id,
        transition.environment,
        { headCommit: transition.newCommit },
        at,
      );
      break;
    case "activate":
      environment = await updateEnvironment(
        tx,
        project.id,
        transition.environment,
        { headCommit: transition.newCommit, status: "active" },
        at,
      );
      break;
    case "deactivate":
      environment = await updateEnvironment(
        tx,
        project.id,
        transition.environment,
        { status: "inactive" },
        at,
      );
      break;
    case "delete":
      environment = await deleteEnvironment(tx, project.id, transition.environment);
      status = "deleted";
      break;
  }

  const type = ACTIVITY_TYPES[transition.action];
  const commits = "commits" in transition ? transition.commits : [];
  const oldCommit = "oldCommit" in transition ? transition.oldCommit : environment.headCommit;
  const newCommit = "newCommit" in transition ? transition.newCommit : environment.headCommit;
  const user = event.payload.sender;
  const activity = buildActivity({
    id: newActivityId(),
    type,
    project: project.fullName,
    environment: toActivityEnvironment(environment, project, status),
    oldCommit,
    newCommit,
    commits,
    user,
    text: describeTransition(user, transition.reason, type, environment.name),
    log: transitionLog(type, environment.name, commits, newCommit),
    result: "success",
    at,
    github: source,
  });
  if (status !== "deleted") await setLastActivity(tx, project.id, environment.name, activity.id);
  return activity;
}

/** Stores an activity and writes its deliveries, in the caller's transaction. */
async function recordActivity(
  tx: Queryable,
  outbox: Outbox | undefined,
  project: Project,
  activity: Activity,
  deliveryId: string,
  toWake: Set<string>,
): Promise<void> {
  const { sequence } = await insertActivity(tx, project.id, activity, deliveryId);
  for (const id of (await outbox?.write(tx, project.key, activity, sequence)) ?? []) toWake.add(id);
}

/** An environment as activities and the API show it. */
export function toActivityEnvironment(
  environment: StoredEnvironment,
  project: Pick<Project, "fullName">,
  status: ActivityEnvironment["status"] = environment.status,
): ActivityEnvironment {
  return {
    id: environment.name,
    name: environment.name,
    machine_name: environment.machineName,
    title:
      environment.kind === "pull_request" ? `Pull request #${environment.pullRequest}` : environment.name,
    project: project.fullName,
    parent: environment.parent,
    head_commit: environment.headCommit,
    status,
    is_main: environment.isMain,
    is_dirty: false,
    has_code: true,
    deployment_target: "local",
    clone_parent_data: environment.cloneParentData,
    pull_request: environment.pullRequest,
    created_at: new Date(environment.createdAt).toISOString(),
    updated_at: new Date(environment.updatedAt).toISOString(),
  };
}

function pullRequestOf(event: GithubEvent): { number: number; url: string | null } | null {
  if (event.name !== "pull_request") return null;
  const pr = event.payload.pull_request;
  return { number: pr.number, url: pr.html_url ?? null };
}
