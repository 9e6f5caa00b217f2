import type { Integration } from "../relay/integration.ts";
import type { Queryable } from "./database.ts";
import { listReceivingIntegrations } from "./integrations.ts";

/** Projects whose integrations are kept at most (the least recently used go first). */
const MAX_PROJECTS = 1000;

export interface ReceivingIntegrationsCache {
  /** A project's receiving integrations, in the caller's transaction (`listReceivingIntegrations`). */
  read(tx: Queryable, projectKey: string): Promise<Integration[]>;
  /** The transaction changed integrations itself (a project moved): its next read checks the version again. */
  forget(tx: Queryable): void;
}

/**
 * `listReceivingIntegrations`, kept between transactions: a transaction reads the version of the
 * integrations' settings once (migration 025: a trigger moves it on at every change, by any
 * instance), and a project's list read under that same version is used again without a query.
 * A version that moved empties the cache. A list is kept only under the version its transaction
 * read before reading it, so it is never older than what that version says.
 */
export function cacheReceivingIntegrations(maxProjects = MAX_PROJECTS): ReceivingIntegrationsCache {
  let current: string | undefined;
  const lists = new Map<string, Integration[]>();
  // One check per transaction: each has a handle of its own.
  const checked = new WeakMap<Queryable, Promise<string>>();
  async function read(tx: Queryable, projectKey: string): Promise<Integration[]> {
    let check = checked.get(tx);
    if (!check) {
      check = readVersion(tx);
      checked.set(tx, check);
    }
    const version = await check;
    if (version !== current) {
      lists.clear();
      current = version;
    }
    const kept = lists.get(projectKey);
    if (kept) {
      // Most recently used last.
      lists.delete(projectKey);
      lists.set(projectKey, kept);
      return kept;
    }
    const fresh = await listReceivingIntegrations(tx, projectKey);
    // Another transaction may have seen a newer version meanwhile: this list is not kept under it.
    if (version === current) {
      lists.set(projectKey, fresh);
      if (lists.size > maxProjects) lists.delete(lists.keys().next().value as string);
    }
    return fresh;
  }
  return { read, forget: (tx) => checked.delete(tx) };
}

async function readVersion(tx: Queryable): Promise<string> {
  const { rows } = await tx.query<{ version: string }>(
    "SELECT version::text AS version FROM integration_settings_version",
  );
  return rows[0]?.version ?? "none";
}
