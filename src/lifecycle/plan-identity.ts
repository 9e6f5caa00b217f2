/** A project as envhooks keeps it, for a resync's identity check. */
export interface KnownProject {
  fullName: string;
  /** The GitHub repository id envhooks has for it (null: none yet, or kept apart by a conflict). */
  repositoryId: number | null;
  /**
   * Kept apart from the project of GitHub's id: it has no id, and events under its name carried
   * that id (a rename seen at an event before `repository.renamed`). A move onto it merges it.
   */
  keptApart?: boolean | undefined;
}

/** What GitHub answered for the name a resync asked about (it follows renames and transfers). */
export interface GithubRepository {
  id: number;
  fullName: string;
}

/**
 * What a resync changes of which project is which repository, shown in its plan and applied as shown:
 * - `renamed`: GitHub has the repository under another name; its project moves there.
 * - `identity`: GitHub reports another id for this name than envhooks had: the project takes
 *   GitHub's id, and another project holding that id (`released`) keeps its name and history without it.
 */
export interface IdentityChange {
  kind: "renamed" | "identity";
  /** The project the change is about: its name and id before. */
  project: string;
  fromId: number | null;
  toId: number;
  /** The project's name after (GitHub's). */
  toName: string;
  /** Another project that had GitHub's id and loses it. */
  released: string | null;
  /** A project under the new name (another repository's, or none) that steps aside for the move. */
  displaced: string | null;
  /** One sentence, as the preview shows it. */
  description: string;
}

const key = (fullName: string) => fullName.toLowerCase();

/**
 * The identity change a resync makes, or null when GitHub agrees with envhooks. `asked`: the project
 * under the name resynced (none: a repository just added to the installation); `holder`: the
 * project that has GitHub's id, if any; `atNewName`: the project under GitHub's name, if it differs.
 * Pure: the dry run and the applied run compute it alike.
 */
export function planIdentity(
  asked: KnownProject | null,
  holder: KnownProject | null,
  atNewName: KnownProject | null,
  github: GithubRepository,
): IdentityChange | null {
  // The name asked about was kept apart from the repository's project under another name: GitHub
  // confirms the rename, so that project moves here and the one kept apart merges into it.
  if (
    asked?.keptApart &&
    asked.repositoryId === null &&
    holder &&
    key(holder.fullName) !== key(asked.fullName) &&
    key(github.fullName) === key(asked.fullName)
  ) {
    return {
      kind: "renamed",
      project: holder.fullName,
      fromId: holder.repositoryId,
      toId: github.id,
      toName: github.fullName,
      released: null,
      displaced: null,
      description: `GitHub names repository ${github.id} ${github.fullName}: project ${holder.fullName} moves there, and project ${asked.fullName}, kept apart under that name, is merged into it (its environments, activities and integrations).`,
    };
  }
  const subject = asked ?? holder;
  if (!subject) return null;
  const takesId = asked !== null && asked.repositoryId !== github.id;
  // A project holding the id that is not the one asked about: released when the asked one takes it.
  const released = takesId && holder && key(holder.fullName) !== key(asked.fullName) ? holder.fullName : null;
  const moves = key(subject.fullName) !== key(github.fullName);
  const merged = moves && atNewName?.keptApart === true && atNewName.repositoryId === null;
  const displaced =
    moves && atNewName && atNewName.repositoryId !== github.id && !merged ? atNewName.fullName : null;
  if (!takesId && !moves) return null;
  // A project from before envhooks kept ids simply gets its id: nothing to show.
  if (takesId && asked.repositoryId === null && !released && !moves) return null;
  const parts: string[] = [];
  if (takesId) {
    parts.push(
      asked.repositoryId === null
        ? `GitHub reports repository id ${github.id} for ${asked.fullName}: the project takes it`
        : `GitHub reports repository id ${github.id} for ${asked.fullName}, not ${asked.repositoryId} (another repository's): the project takes ${github.id}`,
    );
  }
  if (released)
    parts.push(`project ${released}, which had id ${github.id}, keeps its name and history without it`);
  if (moves)
    parts.push(`GitHub names the repository ${github.fullName}: project ${subject.fullName} moves there`);
  if (displaced) parts.push(`project ${displaced}, under that name, steps aside`);
  if (merged && atNewName) {
    parts.push(
      `project ${atNewName.fullName}, kept apart under that name, is merged into it (its environments, activities and integrations)`,
    );
  }
  return {
    kind: takesId ? "identity" : "renamed",
    project: subject.fullName,
    fromId: subject.repositoryId,
    toId: github.id,
    toName: github.fullName,
    released,
    displaced,
    description: `${parts.join("; ")}.`,
  };
}
