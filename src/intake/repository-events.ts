import type { Logger } from "pino";
import { formerFullName, type RepositoryPayload } from "../lifecycle/github-event.ts";
import type { Queryable } from "../store/database.ts";
import { markEventProcessed } from "../store/github-events.ts";
import {
  deactivateProjects,
  fillRepositoryId,
  findProjectOfRepository,
  lockProject,
  projectKey,
  recordListedRepositories,
} from "../store/projects.ts";
import { type ApplyDeps, inTransaction } from "./apply-event.ts";
import type { InstallationPayload } from "./repo-options.ts";

/** Thrown inside the transaction to roll it back: the delivery was applied already. */
class AppliedAlready extends Error {}

/**
 * Applies a stored `repository` delivery, in order with the repository's other events:
 * `renamed` and `transferred` move its project (environments, activities, integrations, tokens,
 * GitHub updates) to the new name, which the old one points to from then on; `deleted` deactivates
 * it, keeping its history. Returns what it did, as the inbox keeps it.
 */
export async function applyRepositoryEvent(
  deps: ApplyDeps,
  deliveryId: string,
  payload: RepositoryPayload,
): Promise<string | undefined> {
  const outcome = await inTransaction(deps, async (tx) => {
    const done = await changeProject(tx, payload);
    if (!(await markEventProcessed(tx, { deliveryId }, done))) throw new AppliedAlready(deliveryId);
    return done;
  }).catch((error: unknown) => {
    if (error instanceof AppliedAlready) return undefined;
    throw error;
  });
  deps.settled?.add(deliveryId);
  return outcome;
}

async function changeProject(tx: Queryable, payload: RepositoryPayload): Promise<string> {
  const { repository } = payload;
  if (payload.action === "deleted") {
    const deactivated = await deactivateProjects(
      tx,
      { repositoryIds: [repository.id], keys: [projectKey(repository.full_name)] },
      `the repository ${repository.full_name} was deleted on GitHub`,
    );
    return deactivated.length > 0
      ? `repository deleted: project ${deactivated.join(", ")} deactivated, its history kept`
      : "repository deleted: envhooks had no active project for it";
  }
  // renamed, transferred: the project is found by its id, or (stored before ids were kept) by the
  // name the event says it had.
  const former = formerFullName(payload);
  if (former) await fillRepositoryId(tx, former, repository.id);
  const existing = await findProjectOfRepository(tx, repository.id, former ?? repository.full_name);
  if (!existing) return `repository ${payload.action}: envhooks has no project for it yet`;
  const project = await lockProject(
    tx,
    {
      fullName: repository.full_name,
      defaultBranch: repository.default_branch,
      installationId: payload.installation?.id ?? null,
      repositoryId: repository.id,
    },
    { renamed: true },
  );
  const merged = project.merged ? `; ${project.merged}` : "";
  return existing.fullName === project.fullName
    ? `repository ${payload.action}: project ${project.fullName} already has this name${merged}`
    : `repository ${payload.action}: project ${existing.fullName} moved to ${project.fullName}${merged}`;
}

/** A repository as installation events list it. */
interface ListedRepository {
  /** GitHub always lists it; the name serves when it is missing. */
  id?: number;
  full_name: string;
}

/** The fields of `installation` and `installation_repositories` deliveries envhooks reads. */
export interface InstallationEvent extends InstallationPayload {
  /** On `installation.created`: the repositories the App was installed on (null: all of the account's). */
  repositories?: ListedRepository[] | null;
  repositories_added?: ListedRepository[];
  repositories_removed?: ListedRepository[];
}

export interface InstallationDeps {
  db: Queryable;
  log: Logger;
  /** With GitHub App credentials: marks the options of the repositories it names to be read again. */
  markStale?: ((payload: InstallationPayload) => Promise<unknown>) | undefined;
  /** With GitHub App credentials: resyncs repositories the App was just given, in the background. */
  resyncLater?: ((installationId: number, repositories: ListedRepository[]) => void) | undefined;
}

/**
 * An `installation` or `installation_repositories` delivery, handled as it arrives (nothing is
 * stored for it): options marked to be read again; the projects of repositories removed from the
 * installation (all of them, when the App is uninstalled) deactivated; and repositories added (or
 * the installation created) recorded as projects before their first event, and resynced in the background, so they get environments for the branches
 * and pull requests they already have.
 */
export function handleInstallation(deps: InstallationDeps) {
  return async function onInstallation(payload: InstallationEvent): Promise<void> {
    await deps.markStale?.(payload);
    const installationId = payload.installation.id;
    const removed = payload.repositories_removed ?? [];
    let deactivated: string[] = [];
    if (payload.action === "deleted") {
      deactivated = await deactivateProjects(
        deps.db,
        { installationId },
        `the GitHub App was uninstalled (installation ${installationId})`,
      );
    } else if (payload.action === "removed" && removed.length > 0) {
      deactivated = await deactivateProjects(
        deps.db,
        {
          repositoryIds: removed.flatMap((r) => (r.id === undefined ? [] : [r.id])),
          keys: removed.map((r) => projectKey(r.full_name)),
        },
        `the repository was removed from the GitHub App's installation ${installationId}`,
      );
    }
    if (deactivated.length > 0) {
      deps.log.info({ installation: installationId, projects: deactivated }, "projects deactivated");
    }
    const added =
      payload.action === "created" ? (payload.repositories ?? []) : (payload.repositories_added ?? []);
    if (added.length > 0 && (payload.action === "created" || payload.action === "added")) {
      // Listed as projects at once (from the payload: no GitHub call), so integrations can be added before any push.
      const recorded = await recordListedRepositories(deps.db, installationId, added);
      if (recorded.length > 0) {
        deps.log.info(
          { installation: installationId, projects: recorded },
          "repositories of the installation recorded",
        );
      }
      deps.resyncLater?.(installationId, added);
    }
  };
}
