import type { Logger } from "pino";
import { repositoryDispatchTask } from "../actions/repository-dispatch.ts";
import { dispatchTask } from "../actions/workflow-tasks.ts";
import type { Activity, ActivityEnvironment } from "../activity/activity.ts";
import { newActivityId } from "../activity/activity-id.ts";
import { buildActivity, describeTransition, transitionLog } from "../activity/build-activity.ts";
import {
  DEFAULT_REPO_CONFIG,
  durationMs,
  type RepoConfig,
  repoConfigSchema,
} from "../config/repo-config.schema.ts";
import type { ConfigResult } from "../config/validate-repo-config.ts";
import {
  configStatusTask,
  type GithubOutbox,
  writeActivityTask,
  writeTask,
} from "../github/github-outbox.ts";
import { renderEnvironmentUrl } from "../lifecycle/environment-url.ts";
import type { GithubEvent, GithubUser } from "../lifecycle/github-event.ts";
import { machineName, machineNameCandidates } from "../lifecycle/machine-name.ts";
import { concernedEnvironments, planTransitions } from "../lifecycle/plan-transitions.ts";
import { ACTIVITY_TYPES, type Plan, type Transition } from "../lifecycle/transition.ts";
import type { Metrics } from "../metrics.ts";
import type { WriteDeliveries } from "../relay/write-deliveries.ts";
import { environmentsLastBuiltOk, insertActivity } from "../store/activities.ts";
import { insertCheckWaits } from "../store/check-waits.ts";
import type { Database, Queryable } from "../store/database.ts";
import { forgetEnvironmentGates, saveEnvironmentGate } from "../store/environment-gates.ts";
import {
  deleteEnvironment,
  findEnvironments,
  insertEnvironment,
  type StoredEnvironment,
  staleEnvironments,
  takenMachineNames,
  updateEnvironment,
} from "../store/environments.ts";
import { markEventProcessed } from "../store/github-events.ts";
import { lockProject, lockProjectByKey, type Project, projectsWithTtl } from "../store/projects.ts";
import { insertPushCommits } from "../store/push-commits.ts";
import type { ReceivingIntegrationsCache } from "../store/receiving-integrations-cache.ts";
import { capPlan, refusedActivity, skippedStatus } from "./apply-gates.ts";
import { checkWaitOf, readChecksTask, waitingActivity } from "./begin-check-wait.ts";
import { cancelSuperseded } from "./cancel-superseded.ts";
import { filtersPaths, hasBuildGates, pushedFiles } from "./changed-files.ts";

export interface ApplyDeps {
  db: Database;
  now?: () => Date;
  /**
   * The outbox: each stored activity's deliveries are written in the same transaction, and the
   * integrations that have something new to send are woken once it commits.
   */
  outbox?: Outbox;
  /** With GitHub App credentials: deployments, statuses and comments to send to GitHub. */
  github?: GithubOutbox | undefined;
  metrics?: Metrics | undefined;
  /**
   * Delivery ids whose event this process applied (or found applied): the drain that handed the
   * event over need not mark it processed. It takes each id out again.
   */
  settled?: Set<string> | undefined;
  /** Where a project kept apart from another's repository id is logged (`Project.conflict`). */
  log?: Logger | undefined;
  /** Projects' receiving integrations kept between batches (batched apply only); read each time without it. */
  integrations?: ReceivingIntegrationsCache | undefined;
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

/** What a transaction wrote that someone must be woken for (or that is counted) once it commits. */
export interface Wakes {
  integrations: Set<string>;
  github: Set<string>;
  /** Activities recorded or moved to a new state. */
  activities: Pick<Activity, "type" | "state">[];
}

/** Runs `work` in a transaction, then wakes whoever has something new to send. */
export async function inTransaction<T>(
  deps: ApplyDeps,
  work: (tx: Queryable, wakes: Wakes) => Promise<T>,
): Promise<T> {
  const wakes: Wakes = { integrations: new Set(), github: new Set(), activities: [] };
  const result = await deps.db.transaction((tx) => work(tx, wakes));
  for (const id of wakes.integrations) deps.outbox?.wake(id);
  for (const key of wakes.github) deps.github?.wake(key);
  for (const { type, state } of wakes.activities) deps.metrics?.activities.inc({ type, state });
  return result;
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
  const applied = await inTransaction(deps, async (tx, wakes): Promise<Applied> => {
    // The project's row lock (taken first) makes concurrent appliers of its events wait for each
    // other; one that finds its delivery applied meanwhile rolls its work back (AppliedAlready).
    const project = await lockProject(tx, {
      fullName: repository.full_name,
      defaultBranch: repository.default_branch,
      installationId,
      repositoryId: repository.id ?? null,
      simulated: isSimulated(event),
    });
    if (project.conflict)
      deps.log?.warn({ project: project.fullName, delivery: deliveryId }, project.conflict);
    // A pull request's `synchronize` to the same head takes its commits from here.
    if (deps.github && event.name === "push" && !event.payload.deleted && event.payload.commits.length > 0) {
      const files = config.ok && filtersPaths(config.config) ? pushedFiles(event.payload) : undefined;
      await insertPushCommits(tx, project.key, {
        before: event.payload.before,
        headSha: event.payload.after,
        commits: event.payload.commits,
        changed: files,
      });
    }

    const at = now();
    const source = sourceOf(event, deliveryId);
    if (!config.ok) {
      const activity = invalidConfigActivity(project, event, config.problems, at, source);
      await recordActivity(tx, deps, project, activity, { deliveryId, runnerDeadline: null, wakes });
      const status = deps.github && configStatusTask(event, config.problems);
      if (status) {
        await writeTask(tx, project.key, status);
        wakes.github.add(project.key);
      }
      await finish(tx, deliveryId, invalidConfigOutcome(config.problems));
      return { applied: true, activities: [activity], notes: config.problems };
    }

    const environments = await withLastBuilds(
      tx,
      project.id,
      await findEnvironments(tx, project.id, concernedEnvironments(event)),
      event,
      config.config,
    );
    const plan = await capPlan(
      tx,
      project,
      planTransitions(event, config.config, environments),
      config.config,
    );
    // A branch or pull request that is gone takes what a gate said about its environment with it.
    if (isGone(event)) await forgetEnvironmentGates(tx, project.id, concernedEnvironments(event).names);
    const context = { user: event.payload.sender, at, source, config: config.config, deliveryId, event };
    const activities = await applyPlan(tx, deps, project, plan, context, wakes);
    const outcome = outcomeOf(activities, plan);
    await finish(tx, deliveryId, project.conflict ? `${outcome} (${project.conflict})` : outcome);
    return { applied: true, activities, notes: plan.notes };
  }).catch((error: unknown) => {
    if (error instanceof AppliedAlready) return { applied: false, activities: [], notes: [] };
    throw error;
  });
  deps.settled?.add(deliveryId);
  return applied;
}

/**
 * With `paths` and known changed files: whether each environment's newest activity succeeded (a
 * paths skip needs it; see `skipByPaths`). Otherwise the environments as they are.
 */
async function withLastBuilds(
  tx: Queryable,
  projectId: number,
  environments: StoredEnvironment[],
  event: GithubEvent,
  options: RepoConfig,
): Promise<StoredEnvironment[]> {
  const changed = event.name === "push" || event.name === "pull_request" ? event.changed : undefined;
  if (!filtersPaths(options) || !changed || !("files" in changed) || environments.length === 0) {
    return environments;
  }
  const names = environments.map((environment) => environment.name);
  const ok = await environmentsLastBuiltOk(tx, projectId, names);
  return environments.map((environment) => ({
    ...environment,
    lastBuildSucceeded: ok.has(environment.name),
  }));
}

/** Whether the event deletes a branch or closes a pull request. */
function isGone(event: GithubEvent): boolean {
  if (event.name === "delete") return true;
  if (event.name === "push") return event.payload.deleted;
  return event.name === "pull_request" && event.payload.action === "closed";
}

/** Where an event's activities came from, as they say it. */
export function sourceOf(event: GithubEvent, deliveryId: string): NonNullable<Activity["github"]> {
  return { event: event.name, delivery_id: deliveryId, pull_request: pullRequestOf(event) };
}

/** The activity recorded instead of any change when the repository's options are invalid. */
export function invalidConfigActivity(
  project: Pick<Project, "fullName">,
  event: GithubEvent,
  problems: string[],
  at: Date,
  source: Activity["github"],
): Activity {
  return buildActivity({
    id: newActivityId(),
    type: "integration.github.config",
    project: project.fullName,
    environment: null,
    oldCommit: null,
    newCommit: null,
    commits: [],
    user: event.payload.sender,
    text: `.github/envhooks.yml in ${project.fullName} is invalid: no environment was changed.`,
    log: [".github/envhooks.yml is invalid; fix it and push again:", ...problems.map((p) => `- ${p}`)].join(
      "\n",
    ),
    result: "failure",
    at,
    github: source,
  });
}

/** Whether `envhooks simulate` made the event (GitHub never sends `envhooks_simulated`). */
export function isSimulated(event: GithubEvent): boolean {
  return (event.payload as { envhooks_simulated?: unknown }).envhooks_simulated === true;
}

/** What the inbox keeps as an event's outcome. */
export function outcomeOf(activities: readonly Activity[], plan: Plan): string {
  return [...activities.map((a) => a.text), ...plan.notes].join(" ") || "no change";
}

export function invalidConfigOutcome(problems: string[]): string {
  return `invalid .github/envhooks.yml: ${problems.join("; ")}`;
}

/**
 * When a deploy runner must have reported on an activity begun at `at` (none without runners): for
 * `runner: github-actions`, when its run must have finished (`github_actions.timeout`).
 */
export function runnerDeadlineOf(config: RepoConfig, at: Date): Date | null {
  if (config.runner === "none") return null;
  const timeout =
    config.runner === "github-actions" && config.github_actions
      ? config.github_actions.timeout
      : config.runner_timeout;
  return new Date(at.getTime() + durationMs(timeout));
}

/** Thrown inside the transaction to roll it back: the delivery was applied already, or never stored. */
class AppliedAlready extends Error {}

async function finish(tx: Queryable, deliveryId: string, outcome: string): Promise<void> {
  if (!(await markEventProcessed(tx, { deliveryId }, outcome))) throw new AppliedAlready(deliveryId);
}

/** Why a request about an environment or activity was refused: 404 it is not there, 409 its state forbids it. */
export class Refused extends Error {
  readonly status: 404 | 409;
  /** A short machine-readable name, e.g. `invalid_transition`. */
  readonly code: string;
  constructor(status: 404 | 409, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Redeploys an environment on request (the API): `environment.redeploy`, the same commit built
 * again, with the project's stored options.
 */
export async function redeployEnvironment(
  deps: ApplyDeps,
  projectKey: string,
  name: string,
  user: GithubUser | null,
  /** Who asked, as the activity's text names them ("GitHub user monalisa", "token deploy-bot"). */
  askedBy?: string,
): Promise<Activity> {
  const now = deps.now ?? (() => new Date());
  return inTransaction(deps, async (tx, wakes) => {
    const project = await lockProjectByKey(tx, projectKey);
    if (!project)
      throw new Refused(404, "not_found", `No project ${projectKey}: envhooks has had no event from it.`);
    if (project.status === "inactive") {
      throw new Refused(409, "project_inactive", `Project ${project.fullName} is inactive: ${INACTIVE}`);
    }
    const [environment] = await findEnvironments(tx, project.id, { names: [name], basedOn: null });
    if (!environment)
      throw new Refused(404, "not_found", `Project ${project.fullName} has no environment ${name}.`);
    if (environment.status !== "active") {
      throw new Refused(
        409,
        "environment_inactive",
        `Environment ${name} is inactive: activate it before redeploying.`,
      );
    }
    const plan: Plan = {
      transitions: [
        {
          action: "redeploy",
          environment: name,
          reason: askedBy ? `was asked by ${askedBy} to redeploy` : "was asked through the API to redeploy",
        },
      ],
      notes: [],
    };
    const context = { user, at: now(), source: null, config: storedConfig(project.config), deliveryId: null };
    const [activity] = await applyPlan(tx, deps, project, plan, context, wakes);
    if (!activity) throw new Error(`environment ${name} was not redeployed`);
    return activity;
  });
}

/**
 * Deletes the branch and pull request environments that had no activity for their project's
 * `environment_ttl`, and deactivates the active ones idle for `stale_after`, as of `now`. The
 * default branch's environment never expires. A deactivation is activity: with both options,
 * `environment_ttl` counts from it.
 */
export async function expireEnvironments(deps: ApplyDeps, now: Date): Promise<Activity[]> {
  const expired: Activity[] = [];
  for (const key of await projectsWithTtl(deps.db)) {
    const activities = await inTransaction(deps, async (tx, wakes) => {
      const project = await lockProjectByKey(tx, key);
      const config = storedConfig(project?.config);
      if (!project || (!config.environment_ttl && !config.stale_after)) return [];
      const transitions: Transition[] = [];
      const ttl = config.environment_ttl;
      if (ttl) {
        const stale = await staleEnvironments(tx, project.id, new Date(now.getTime() - durationMs(ttl)));
        for (const environment of stale) {
          transitions.push({
            action: "delete",
            environment: environment.name,
            reason: `found no activity for ${ttl} (environment_ttl, last on ${new Date(environment.updatedAt).toISOString()})`,
          });
        }
      }
      const idleFor = config.stale_after;
      if (idleFor) {
        const idle = await staleEnvironments(tx, project.id, new Date(now.getTime() - durationMs(idleFor)));
        const deleted = new Set(transitions.map((transition) => transition.environment));
        for (const environment of idle) {
          if (environment.status !== "active" || deleted.has(environment.name)) continue;
          transitions.push({
            action: "deactivate",
            environment: environment.name,
            reason: `found no activity for ${idleFor} (stale_after, last on ${new Date(environment.updatedAt).toISOString()})`,
          });
        }
      }
      const plan: Plan = { transitions, notes: [] };
      return applyPlan(
        tx,
        deps,
        project,
        plan,
        { user: null, at: now, source: null, config, deliveryId: null },
        wakes,
      );
    });
    expired.push(...activities);
  }
  return expired;
}

/** Why an inactive project changes no more, and what brings it back. */
export const INACTIVE =
  "its repository was deleted or removed from the App's installation. Its next GitHub event reactivates it.";

/** The options stored with a project; the defaults before any were read (or if they no longer parse). */
export function storedConfig(config: unknown): RepoConfig {
  const parsed = repoConfigSchema.safeParse(config ?? {});
  return parsed.success ? parsed.data : DEFAULT_REPO_CONFIG;
}

export interface TransitionContext {
  user: GithubUser | null;
  at: Date;
  source: Activity["github"];
  config: RepoConfig;
  /** The GitHub delivery that caused the change, if one did. */
  deliveryId: string | null;
  /** The GitHub event that caused it (`wait_for_checks` applies to pushes only). */
  event?: GithubEvent | undefined;
}

/** Applies a plan's transitions and GitHub requests in the caller's transaction. */
export async function applyPlan(
  tx: Queryable,
  deps: ApplyDeps,
  project: Project,
  plan: Plan,
  context: TransitionContext,
  wakes: Wakes,
): Promise<Activity[]> {
  const activities: Activity[] = [];
  for (const transition of plan.transitions) {
    const transitioned = await applyTransition(tx, project, transition, context);
    if (!transitioned) continue;
    // wait_for_checks (issue 25): a push's build waits, pending, for its commit's checks.
    const wait = checkWaitOf(transitioned.activity, context.event, context.config, context.at, project.key);
    const applied = wait ? waitingActivity(transitioned.activity, wait) : transitioned.activity;
    await cancelSuperseded(tx, deps, project, applied, context.config, wakes);
    await recordActivity(tx, deps, project, applied, {
      deliveryId: context.deliveryId,
      runnerDeadline: wait ? null : runnerDeadlineOf(context.config, context.at),
      wakes,
      latestOf: transitioned.latestOf,
    });
    if (wait) {
      await insertCheckWaits(tx, [wait]);
      if (deps.github) await writeTask(tx, project.key, readChecksTask(wait));
    }
    if (deps.github && (await writeActivityTask(tx, project.key, applied, context.config.github))) {
      wakes.github.add(project.key);
    }
    const dispatch = deps.github && dispatchTask(applied, context.config, project.defaultBranch);
    const notify = deps.github && repositoryDispatchTask(applied, context.config);
    for (const task of [dispatch, notify]) {
      if (!task) continue;
      await writeTask(tx, project.key, task);
      wakes.github.add(project.key);
    }
    activities.push(applied);
  }
  // A change to an environment makes what a gate last said of it old news.
  if (hasBuildGates(context.config) && activities.length > 0) {
    const changed = activities.flatMap((activity) => activity.environments);
    await forgetEnvironmentGates(tx, project.id, changed);
  }
  for (const skip of plan.skipped ?? []) {
    // The environment stays as built: its head moves (no file it builds from changed), nothing is
    // relayed, and its time stays: no activity, so no fresher for stale_after or the cap's oldest.
    await updateEnvironment(tx, project.id, skip.environment, { headCommit: skip.newCommit }, null);
    await saveEnvironmentGate(
      tx,
      project.id,
      { name: skip.environment, gate: "skipped (paths)", headCommit: skip.newCommit },
      context.at,
    );
    if (deps.github && context.config.github.statuses && skip.newCommit) {
      await writeTask(tx, project.key, skippedStatus(skip.environment, skip.newCommit, skip.reason));
      wakes.github.add(project.key);
    }
  }
  for (const refused of plan.refused ?? []) {
    const name =
      refused.transition.action === "create"
        ? refused.transition.environment.name
        : refused.transition.environment;
    const [existing] = await findEnvironments(tx, project.id, { names: [name], basedOn: null });
    const activity = refusedActivity(project, refused, existing, context);
    await recordActivity(tx, deps, project, activity, {
      deliveryId: context.deliveryId,
      runnerDeadline: null,
      wakes,
    });
    await saveEnvironmentGate(
      tx,
      project.id,
      { name, gate: "not created: limit", headCommit: refused.transition.newCommit },
      context.at,
    );
    if (deps.github && (await writeActivityTask(tx, project.key, activity, context.config.github))) {
      wakes.github.add(project.key);
    }
    activities.push(activity);
  }
  if (deps.github) {
    for (const request of plan.github ?? []) {
      await writeTask(tx, project.key, request);
      wakes.github.add(project.key);
    }
  }
  return activities;
}

/** A transition's activity, and the environment it is now the newest activity of (none once deleted). */
export interface AppliedTransition {
  activity: Activity;
  latestOf: { environment: string; url: string | null } | null;
}

async function applyTransition(
  tx: Queryable,
  project: Project,
  transition: Transition,
  context: TransitionContext,
): Promise<AppliedTransition | undefined> {
  const { at } = context;
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
    case "redeploy":
      environment = await updateEnvironment(tx, project.id, transition.environment, {}, at);
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
  return transitionActivity(project, transition, environment, status, context);
}

/** A transition that records an activity (every one but `track-head`). */
export type RecordedTransition = Exclude<Transition, { action: "track-head" }>;

/**
 * The activity recording a transition: `environment` as the transition left it (as it was, for a
 * deletion, with `status` "deleted").
 */
export function transitionActivity(
  project: Pick<Project, "fullName">,
  transition: RecordedTransition,
  environment: StoredEnvironment,
  status: ActivityEnvironment["status"] | undefined,
  { user, at, source, config }: Pick<TransitionContext, "user" | "at" | "source" | "config">,
): AppliedTransition {
  const type = ACTIVITY_TYPES[transition.action];
  const commits = "commits" in transition ? transition.commits : [];
  const oldCommit = "oldCommit" in transition ? transition.oldCommit : environment.headCommit;
  const newCommit = "newCommit" in transition ? transition.newCommit : environment.headCommit;
  const url = config.environment_url
    ? renderEnvironmentUrl(config.environment_url, environment, project.fullName)
    : environment.url;
  const text = describeTransition(user, transition.reason, type, environment.name);
  const activity = buildActivity({
    id: newActivityId(),
    type,
    project: project.fullName,
    environment: { ...toActivityEnvironment(environment, project, status), url },
    oldCommit,
    newCommit,
    commits,
    user,
    text,
    log: transitionLog(type, environment.name, commits, newCommit),
    result: "success",
    at,
    github: source,
    awaitingRunner: config.runner !== "none",
  });
  return { activity, latestOf: status === "deleted" ? null : { environment: environment.name, url } };
}

/** Stores an activity and writes its deliveries, in the caller's transaction. */
async function recordActivity(
  tx: Queryable,
  deps: ApplyDeps,
  project: Project,
  activity: Activity,
  {
    deliveryId,
    runnerDeadline,
    wakes,
    latestOf = null,
  }: {
    deliveryId: string | null;
    runnerDeadline: Date | null;
    wakes: Wakes;
    /** The environment this activity is now the newest of (set in the same statement). */
    latestOf?: AppliedTransition["latestOf"];
  },
): Promise<void> {
  const { sequence } = await insertActivity(tx, project.id, activity, deliveryId, runnerDeadline, latestOf);
  wakes.activities.push(activity);
  for (const id of (await deps.outbox?.write(tx, project.key, [{ activity, sequence }])) ?? []) {
    wakes.integrations.add(id);
  }
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
    url: environment.url,
    created_at: new Date(environment.createdAt).toISOString(),
    updated_at: new Date(environment.updatedAt).toISOString(),
  };
}

export function pullRequestOf(event: GithubEvent): { number: number; url: string | null } | null {
  if (event.name === "issue_comment") return { number: event.payload.issue.number, url: null };
  if (event.name !== "pull_request") return null;
  const pr = event.payload.pull_request;
  return { number: pr.number, url: pr.html_url ?? null };
}
