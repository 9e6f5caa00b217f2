import { machineName } from "../lifecycle/machine-name.ts";
import type { EnvironmentState, NewEnvironment } from "../lifecycle/transition.ts";
import type { StoredEnvironment } from "../store/environments.ts";

/**
 * A project's environments as a batch of events changes them, in memory: read once, changed event
 * after event exactly as `insertEnvironment`, `updateEnvironment`, `deleteEnvironment` and
 * `insertActivity` change the rows, then written once (`removed`, then `written`).
 */
export class EnvironmentChanges {
  /** The environments as they are now, by name. */
  readonly #current = new Map<string, StoredEnvironment>();
  /** Names whose rows the batch may create: machine names were read for these. */
  readonly #creatable: ReadonlySet<string>;
  /** Names with a row in the store before the batch. */
  readonly #stored: ReadonlySet<string>;
  /** Stored rows to delete: deleted by the batch (and perhaps created again, as a new row). */
  readonly #removed = new Set<string>();
  /** Names whose row the batch changed. */
  readonly #changed = new Set<string>();
  /** The address the batch set for an environment, since it was (re)created. */
  readonly #urls = new Map<string, string>();

  /**
   * `rows`: every environment the batch's events concern, and every one holding a machine name that
   * an environment named in `creatable` could take.
   */
  constructor(rows: readonly StoredEnvironment[], creatable: Iterable<string>) {
    for (const row of rows) this.#current.set(row.name, row);
    this.#stored = new Set(this.#current.keys());
    this.#creatable = new Set(creatable);
  }

  /**
   * What `findEnvironments` would return now: the named environments and the pull requests based
   * on `basedOn`, by name (the pull request environments a push concerns are all `pr-<N>`, which
   * sort alike in every collation).
   */
  concerned({ names, basedOn }: { names: string[]; basedOn: string | null }): StoredEnvironment[] {
    const wanted = new Set(names);
    return [...this.#current.values()]
      .filter(
        (environment) =>
          wanted.has(environment.name) ||
          (basedOn !== null && environment.kind === "pull_request" && environment.parent === basedOn),
      )
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  create(environment: NewEnvironment, at: Date): StoredEnvironment {
    const { name } = environment;
    if (!this.#creatable.has(name)) throw new Error(`environment ${name} was not read for this batch`);
    if (this.#current.has(name)) throw new Error(`environment ${name} exists already`);
    const taken = new Set([...this.#current.values()].map((existing) => existing.machineName));
    const created: StoredEnvironment = {
      name,
      machineName: machineName(name, taken),
      kind: environment.kind,
      pullRequest: environment.pullRequest,
      parent: environment.parent,
      headCommit: environment.headCommit,
      previousCommit: null,
      status: "active",
      isMain: environment.isMain,
      cloneParentData: environment.cloneParentData,
      lastActivityId: null,
      url: null,
      createdAt: at,
      updatedAt: at,
    };
    return this.#put(created);
  }

  /** As `updateEnvironment`: the old head becomes the previous commit when the head changes. */
  update(
    name: string,
    change: { headCommit?: string | null; status?: EnvironmentState["status"] },
    at: Date,
  ): StoredEnvironment {
    const environment = this.#get(name);
    const moves = change.headCommit !== undefined;
    const headCommit = moves ? (change.headCommit ?? null) : environment.headCommit;
    return this.#put({
      ...environment,
      previousCommit:
        moves && environment.headCommit !== headCommit ? environment.headCommit : environment.previousCommit,
      headCommit,
      status: change.status ?? environment.status,
      updatedAt: at,
    });
  }

  /** Removes an environment; returns it as it was. */
  delete(name: string): StoredEnvironment {
    const environment = this.#get(name);
    this.#current.delete(name);
    this.#changed.delete(name);
    this.#urls.delete(name);
    if (this.#stored.has(name)) this.#removed.add(name);
    return environment;
  }

  /** As `insertActivity`'s `latestOf`: the environment's newest activity, and its address if known. */
  setLatest(name: string, activityId: string, url: string | null): void {
    const environment = this.#current.get(name);
    if (!environment) return;
    if (url !== null) this.#urls.set(name, url);
    this.#put({ ...environment, lastActivityId: activityId, url: url ?? environment.url });
  }

  /** Stored rows to delete first (deleted, or deleted and created again). */
  get removed(): string[] {
    return [...this.#removed];
  }

  /**
   * Rows to write after the deletions, existing ones first; `url` is what the batch set (null: the
   * stored one stays).
   */
  get written(): StoredEnvironment[] {
    const rows = [...this.#changed].map((name) => {
      const environment = this.#current.get(name) as StoredEnvironment;
      return { ...environment, url: this.#urls.get(name) ?? null };
    });
    const existing = (row: StoredEnvironment) => this.#stored.has(row.name) && !this.#removed.has(row.name);
    return [...rows.filter(existing), ...rows.filter((row) => !existing(row))];
  }

  #get(name: string): StoredEnvironment {
    const environment = this.#current.get(name);
    if (!environment) throw new Error(`environment ${name} not found`);
    return environment;
  }

  #put(environment: StoredEnvironment): StoredEnvironment {
    this.#current.set(environment.name, environment);
    this.#changed.add(environment.name);
    return environment;
  }
}
