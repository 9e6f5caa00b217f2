import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { listMigrations } from "../../src/store/migrate.ts";
import {
  deleteBranch,
  pullRequest,
  pushCreatingBranch,
  pushCreatingMaster,
  pushDeletingBranch,
  pushToBranch,
  REPO,
} from "../fixtures/github-events.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

// The example pull request is #2: the branch `pr-2` is the one whose name clashes.
describe.each(STORES)("a branch named pr-<N> and pull request #N on $name", (kind) => {
  let envhooks: TestEnvhooks;
  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
  });
  afterEach(() => envhooks?.close());

  let sent = 0;
  /** Delivers one event and waits until it is applied. */
  async function apply(name: string, payload: unknown): Promise<void> {
    const id = `d${++sent}`;
    expect((await envhooks.deliver(name, payload, { deliveryId: id })).status).toBe(202);
    const event = await eventually(async () => {
      const found = await findEvent(envhooks.store.db, id);
      return found?.state !== "pending" && found;
    });
    expect(event).toMatchObject({ state: "processed" });
  }
  async function environments(): Promise<Array<[string, string, number | null]>> {
    const response = await envhooks.api(`/api/projects/${REPO}/environments`);
    const list = (await response.json()) as Array<{
      name: string;
      title: string;
      pull_request: number | null;
    }>;
    return list.map((e) => [e.name, e.title, e.pull_request]);
  }
  /** [type, environment] of the project's activities, oldest first. */
  async function activities(): Promise<Array<[string, string]>> {
    const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
    const { items } = (await response.json()) as { items: Array<Record<string, any>> };
    return items.map((a): [string, string] => [a.type, a.parameters.environment]).reverse();
  }

  it("branch first, then the pull request: two environments, each deleted on its own", async () => {
    await apply("push", pushCreatingMaster());
    await apply("push", pushCreatingBranch("pr-2"));
    await apply("pull_request", pullRequest("opened"));
    expect(await environments()).toEqual([
      ["master", "master", null],
      ["branch:pr-2", "branch:pr-2", null],
      ["pr-2", "Pull request #2", 2],
    ]);
    await apply("delete", deleteBranch("pr-2"));
    expect((await environments()).map(([name]) => name)).toEqual(["master", "pr-2"]);
    await apply("pull_request", pullRequest("closed"));
    expect((await environments()).map(([name]) => name)).toEqual(["master"]);
    expect((await activities()).slice(1)).toEqual([
      ["environment.branch", "branch:pr-2"],
      ["environment.branch", "pr-2"],
      ["environment.delete", "branch:pr-2"],
      ["environment.delete", "pr-2"],
    ]);
  });

  it("pull request first, then the branch: opening or pushing never rebuilds the other's environment", async () => {
    await apply("push", pushCreatingMaster());
    await apply("pull_request", pullRequest("opened"));
    await apply("push", pushToBranch("pr-2"));
    await apply("pull_request", pullRequest("reopened"));
    expect((await environments()).map(([name]) => name)).toEqual(["master", "branch:pr-2", "pr-2"]);
    await apply("pull_request", pullRequest("closed"));
    expect((await environments()).map(([name]) => name)).toEqual(["master", "branch:pr-2"]);
    await apply("push", pushDeletingBranch("pr-2"));
    expect((await environments()).map(([name]) => name)).toEqual(["master"]);
    expect((await activities()).slice(1)).toEqual([
      ["environment.branch", "pr-2"],
      ["environment.branch", "branch:pr-2"],
      ["environment.delete", "pr-2"],
      ["environment.delete", "branch:pr-2"],
    ]);
  });

  it("the migration gives a branch environment named pr-<N> its own name, with its history and pull requests", async () => {
    const db = envhooks.store.db;
    await apply("push", pushCreatingMaster());
    await apply("push", pushCreatingBranch("feature"));
    // What an older envhooks stored for the branch `pr-9`, and a pull request based on it.
    await db.query("UPDATE environments SET name = 'pr-9' WHERE name = 'feature'");
    await db.query("UPDATE activities SET environment = 'pr-9' WHERE environment = 'feature'");
    await apply("pull_request", pullRequest("opened"));
    await db.query("UPDATE environments SET parent = 'pr-9' WHERE name = 'pr-2'");

    const migration = listMigrations().find((m) => m.version === 9);
    await db.exec(migration?.sql ?? "no migration 009");

    expect(await environments()).toEqual([
      ["master", "master", null],
      ["branch:pr-9", "branch:pr-9", null],
      ["pr-2", "Pull request #2", 2],
    ]);
    const { rows } = await db.query<{ name: string; parent: string | null }>(
      "SELECT name, parent FROM environments ORDER BY name",
    );
    expect(rows).toContainEqual({ name: "pr-2", parent: "branch:pr-9" });
    const history = await envhooks.api(`/api/projects/${REPO}/activities?environment=branch:pr-9`);
    expect((await history.json()).items).toHaveLength(1);
    // Applied again (a second instance racing), it changes nothing more.
    await db.exec(migration?.sql ?? "");
    expect((await environments()).map(([name]) => name)).toEqual(["master", "branch:pr-9", "pr-2"]);
  });
});
