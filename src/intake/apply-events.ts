import { repositoryDispatchTask } from "../actions/repository-dispatch.ts";
import { dispatchTask } from "../actions/workflow-tasks.ts";
import type { Activity, ActivityEnvironment } from "../activity/activity.ts";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { ConfigResult } from "../config/validate-repo-config.ts";
import {
  activityTask,
  configStatusTask,
  type GithubOptions,
  type GithubTaskBody,
  writeTasks,
} from "../github/github-outbox.ts";
import type { GithubEvent } from "../lifecycle/github-event.ts";
import { machineNameCandidates } from "../lifecycle/machine-name.ts";
import { concernedEnvironments, planTransitions } from "../lifecycle/plan-transitions.ts";
import type { StoredActivity } from "../relay/write-deliveries.ts";
import { insertActivities, type NewActivity } from "../store/activities.ts";
import { insertCheckWaits, type StoredCheckWait } from "../store/check-waits.ts";
import type { Queryable } from "../store/database.ts";
import {
  deleteEnvironments,
  findEnvironmentsForBatch,
  type StoredEnvironment,
  writeEnvironments,
} from "../store/environments.ts";
import { markEventsProcessed } from "../store/github-events.ts";
import { lockProject, type Project } from "../store/projects.ts";
import { insertManyPushCommits } from "../store/push-commits.ts";
import {
  type ApplyDeps,
  inTransaction,
  invalidConfigActivity,
  invalidConfigOutcome,
  isSimulated,
  outcomeOf,
  type RecordedTransition,
  runnerDeadlineOf,
  sourceOf,
  transitionActivity,
  type Wakes,
} from "./apply-event.ts";
import { checkWaitOf, readChecksTask, waitingActivity } from "./begin-check-wait.ts";
import { cancelSupersededInBatch } from "./cancel-superseded.ts";
import { EnvironmentChanges } from "./environment-changes.ts";

/** A stored GitHub delivery ready to apply: checked, with the options to apply it with. */
export interface ReadyEvent {
  /** Its row in the inbox. */
  id: number;
  deliveryId: string;
  event: GithubEvent;
  installationId: number | null;
  config: ConfigResult;
}

/** How an activity of the batch is shown on GitHub: its event's options, and where its task is among the tasks. */
interface Shown {
  github: GithubOptions | undefined;
  config: RepoConfig | undefined;
  taskAt: number;
}

/** Thrown to roll a batch back when one of its events is not pending any more (another worker applied it). */
export class BatchAppliedAlready extends Error {}

/**
 * Applies one project's events, oldest first, in one transaction under the project's row lock,
 * with the same result as `applyEvent` applying them one after the other. The environments they
 * concern are read once and planned against in memory (the lifecycle rules stay pure); environments,
 * activities, deliveries, GitHub tasks and the events' processed marks are each written in one
 * statement. About a dozen statements, however many events: a batch of one costs what
 * `applyEvent` does, a batch of fifty a fraction of it per event.
 *
 * Throws (and changes nothing) if any event fails: the caller applies them one at a time then.
 */
export async function applyEvents(deps: ApplyDeps, events: readonly ReadyEvent[]): Promise<Activity[]> {
  if (events.length === 0) return [];
  return inTransaction(deps, (tx, wakes) => applyProjectEvents(deps, tx, wakes, events));
}

/**
 * Applies several projects' events in one transaction (one commit for all), each project's as
 * `applyEvents` would. The projects are locked one after the other in the order of their keys,
 * whatever order they were given in, so two such transactions never wait for each other in a
 * circle. Throws (and changes nothing) if any project's events fail: the caller applies each
 * project's alone then. One result per project, in the order given.
 */
export async function applyManyProjectsEvents(
  deps: ApplyDeps,
  projects: ReadonlyArray<readonly ReadyEvent[]>,
): Promise<Activity[][]> {
  const keyOf = (events: readonly ReadyEvent[]) =>
    events.at(-1)?.event.payload.repository.full_name.toLowerCase() ?? "";
  const order = [...projects.keys()].sort((a, b) => {
    const [keyA, keyB] = [keyOf(projects[a] ?? []), keyOf(projects[b] ?? [])];
    return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
  });
  return inTransaction(deps, async (tx, wakes) => {
    const results: Activity[][] = projects.map(() => []);
    for (const n of order) {
      const events = projects[n] ?? [];
      if (events.length > 0) results[n] = await applyProjectEvents(deps, tx, wakes, events);
    }
    return results;
  });
}

/** One project's events applied in the caller's transaction (see `applyEvents`). */
async function applyProjectEvents(
  deps: ApplyDeps,
  tx: Queryable,
  wakes: Wakes,
  events: readonly ReadyEvent[],
): Promise<Activity[]> {
  const last = events.at(-1);
  if (!last) return [];
  const now = deps.now ?? (() => new Date());
  const repository = last.event.payload.repository;
  // As each event's own lockProject would leave the row: the last names, the last installation known.
  const installationId = events.findLast((item) => item.installationId !== null)?.installationId ?? null;
  // Simulated events may go to a project of their own (`lockProject`): never batched with real ones.
  const simulated = isSimulated(last.event);
  if (events.some((item) => isSimulated(item.event) !== simulated)) {
    throw new Error("simulated and real events are applied one at a time");
  }
  const locked = await lockProject(tx, {
    fullName: repository.full_name,
    defaultBranch: repository.default_branch,
    installationId,
    repositoryId: repository.id ?? null,
    simulated,
  });
  if (locked.conflict) deps.log?.warn({ project: locked.fullName, events: events.length }, locked.conflict);
  // A move took integrations from one project key to another in this transaction.
  if (locked.moved) deps.integrations?.forget(tx);
  // Statements that do not depend on each other's results are sent together: on the embedded
  // database a transaction holds its one connection, which waits idle for each next statement.
  const [, environments] = await Promise.all([
    deps.github ? keepPushCommits(tx, locked.key, events) : undefined,
    readEnvironments(tx, locked.id, events),
  ]);
  const recorded: NewActivity[] = [];
  const shown: Shown[] = [];
  const tasks: GithubTaskBody[] = [];
  const outcomes: Array<{ id: number; outcome: string }> = [];
  const waits: StoredCheckWait[] = [];
  for (const item of events) {
    const applied = applyInMemory(environments, locked, item, now(), Boolean(deps.github), waits);
    recorded.push(...applied.recorded);
    shown.push(...applied.shown.map((show) => ({ ...show, taskAt: tasks.length + show.taskAt })));
    tasks.push(...applied.tasks);
    const outcome = locked.conflict ? `${applied.outcome} (${locked.conflict})` : applied.outcome;
    outcomes.push({ id: item.id, outcome });
  }

  // In this order on the connection (each sends its one statement at once, or none).
  const [, , sequences] = await Promise.all([
    deleteEnvironments(tx, locked.id, environments.removed),
    writeEnvironments(tx, locked.id, environments.written),
    insertActivities(tx, locked.id, recorded),
  ]);
  const added = recorded.map(({ activity }, n) => ({
    activity,
    sequence: sequences[n] ?? 0,
    github: shown[n]?.github,
    config: shown[n]?.config,
    taskAt: shown[n]?.taskAt ?? tasks.length,
  }));
  const writes = await cancelSupersededInBatch(tx, locked.id, added, tasks);
  const [, , processed] = await Promise.all([
    insertCheckWaits(tx, waits),
    recordWrites(tx, deps, locked, writes.stored, writes.tasks, wakes),
    markEventsProcessed(tx, outcomes),
  ]);
  if (processed !== outcomes.length) {
    throw new BatchAppliedAlready(`some of ${outcomes.length} events were applied already`);
  }
  return recorded.map(({ activity }) => activity);
}

/**
 * One event applied to the environments in memory, as `applyEvent` applies it to the store: the
 * activities it records, its GitHub tasks (`github`: the App is configured) and its outcome. For
 * each activity, `shown` has the options that show it on GitHub and where its task is (or would be)
 * among the tasks: the activities it supersedes are shown there, with the same options.
 */
function applyInMemory(
  environments: EnvironmentChanges,
  locked: Project,
  { deliveryId, event, config }: ReadyEvent,
  at: Date,
  github: boolean,
  /** Where the waits for checks its activities begin are collected. */
  waits: StoredCheckWait[],
): {
  recorded: NewActivity[];
  shown: Shown[];
  tasks: GithubTaskBody[];
  outcome: string;
} {
  // Each event names its project as it came (a rename between two events shows in their activities).
  const repository = event.payload.repository;
  const project = { ...locked, fullName: repository.full_name, defaultBranch: repository.default_branch };
  const source = sourceOf(event, deliveryId);
  if (!config.ok) {
    const activity = invalidConfigActivity(project, event, config.problems, at, source);
    const status = github && configStatusTask(event, config.problems);
    return {
      recorded: [{ activity, githubDeliveryId: deliveryId, runnerDeadline: null }],
      shown: [{ github: undefined, config: undefined, taskAt: 0 }],
      tasks: status ? [status] : [],
      outcome: invalidConfigOutcome(config.problems),
    };
  }
  const plan = planTransitions(event, config.config, environments.concerned(concernedEnvironments(event)));
  const context = { user: event.payload.sender, at, source, config: config.config };
  const recorded: NewActivity[] = [];
  const shown: Shown[] = [];
  const tasks: GithubTaskBody[] = [];
  for (const transition of plan.transitions) {
    if (transition.action === "track-head") {
      // The second event GitHub sends for a new branch moves the head and records nothing.
      environments.update(transition.environment, { headCommit: transition.newCommit }, at);
      continue;
    }
    const change = changeEnvironment(environments, transition, at);
    const transitioned = transitionActivity(project, transition, change.environment, change.status, context);
    const { latestOf } = transitioned;
    // wait_for_checks (issue 25): a push's build waits, pending, for its commit's checks.
    const wait = checkWaitOf(transitioned.activity, event, config.config, at, locked.key);
    const activity = wait ? waitingActivity(transitioned.activity, wait) : transitioned.activity;
    if (wait) waits.push(wait);
    if (latestOf) environments.setLatest(latestOf.environment, activity.id, latestOf.url);
    recorded.push({
      activity,
      githubDeliveryId: deliveryId,
      runnerDeadline: wait ? null : runnerDeadlineOf(config.config, at),
    });
    shown.push({
      github: github ? config.config.github : undefined,
      config: github ? config.config : undefined,
      taskAt: tasks.length,
    });
    const task = github && activityTask(activity, config.config.github);
    if (task) tasks.push(task);
    const dispatch = github && dispatchTask(activity, config.config, project.defaultBranch);
    if (dispatch) tasks.push(dispatch);
    const notify = github && repositoryDispatchTask(activity, config.config);
    if (notify) tasks.push(notify);
    if (github && wait) tasks.push(readChecksTask(wait));
  }
  if (github) tasks.push(...(plan.github ?? []));
  const activities = recorded.map((item) => item.activity);
  return { recorded, shown, tasks, outcome: outcomeOf(activities, plan) };
}

/** Deliveries and GitHub tasks for what the batch recorded, and who to wake once it commits. */
async function recordWrites(
  tx: Queryable,
  deps: ApplyDeps,
  project: Project,
  stored: StoredActivity[],
  tasks: GithubTaskBody[],
  wakes: Wakes,
): Promise<void> {
  for (const { activity } of stored) wakes.activities.push(activity);
  // The project's integrations as kept between batches, when they are (none to read for no activity).
  const integrations =
    deps.integrations && stored.length > 0 ? await deps.integrations.read(tx, project.key) : undefined;
  const [written] = await Promise.all([
    deps.outbox?.write(tx, project.key, stored, integrations ? { integrations } : {}),
    tasks.length > 0 ? writeTasks(tx, project.key, tasks) : undefined,
  ]);
  for (const id of written ?? []) wakes.integrations.add(id);
  if (tasks.length > 0) wakes.github.add(project.key);
}

/** A pull request's `synchronize` to the same head takes its commits from here. */
async function keepPushCommits(tx: Queryable, projectKey: string, events: readonly ReadyEvent[]) {
  const pushes = [];
  for (const { event } of events) {
    if (event.name === "push" && !event.payload.deleted && event.payload.commits.length > 0) {
      pushes.push({
        before: event.payload.before,
        headSha: event.payload.after,
        commits: event.payload.commits,
      });
    }
  }
  await insertManyPushCommits(tx, projectKey, pushes);
}

/** Every environment the events concern, and those holding a machine name a new one could take. */
async function readEnvironments(
  tx: Queryable,
  projectId: number,
  events: readonly ReadyEvent[],
): Promise<EnvironmentChanges> {
  const names = new Set<string>();
  const basedOn = new Set<string>();
  for (const { event, config } of events) {
    if (!config.ok) continue;
    const concerned = concernedEnvironments(event);
    for (const name of concerned.names) names.add(name);
    if (concerned.basedOn !== null) basedOn.add(concerned.basedOn);
  }
  const rows = await findEnvironmentsForBatch(tx, projectId, {
    names: [...names],
    basedOn: [...basedOn],
    machineNames: [...names].flatMap(machineNameCandidates),
  });
  return new EnvironmentChanges(rows, names);
}

/** A transition applied to the environments in memory, as `applyTransition` applies it to the store. */
function changeEnvironment(
  environments: EnvironmentChanges,
  transition: RecordedTransition,
  at: Date,
): { environment: StoredEnvironment; status: ActivityEnvironment["status"] | undefined } {
  switch (transition.action) {
    case "create":
      return { environment: environments.create(transition.environment, at), status: undefined };
    case "rebuild":
      return {
        environment: environments.update(transition.environment, { headCommit: transition.newCommit }, at),
        status: undefined,
      };
    case "redeploy":
      return { environment: environments.update(transition.environment, {}, at), status: undefined };
    case "activate":
      return {
        environment: environments.update(
          transition.environment,
          { headCommit: transition.newCommit, status: "active" },
          at,
        ),
        status: undefined,
      };
    case "deactivate":
      return {
        environment: environments.update(transition.environment, { status: "inactive" }, at),
        status: undefined,
      };
    case "delete":
      return { environment: environments.delete(transition.environment), status: "deleted" };
  }
}
