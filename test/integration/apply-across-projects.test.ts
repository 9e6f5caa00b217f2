import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_REPO_CONFIG } from "../../src/config/repo-config.schema.ts";
import { createBatchApplier } from "../../src/intake/apply-batch.ts";
import { type ApplyDeps, applyEvent } from "../../src/intake/apply-event.ts";
import { type DrainDeps, drainProject } from "../../src/intake/drain-project.ts";
import type { GithubEvent } from "../../src/lifecycle/github-event.ts";
import { createIntegrationSchema } from "../../src/relay/integration.schema.ts";
import { newSettings } from "../../src/relay/integration-settings.ts";
import { writeDeliveries } from "../../src/relay/write-deliveries.ts";
import type { Database, Queryable } from "../../src/store/database.ts";
import { insertEvent } from "../../src/store/github-events.ts";
import { insertIntegration, setIntegrationStatus, updateIntegration } from "../../src/store/integrations.ts";
import { openPostgres } from "../../src/store/open-postgres.ts";
import { deactivateProjects } from "../../src/store/projects.ts";
import { createSecretBox } from "../../src/store/secret-box.ts";
import { pushTo, pushToBranch, repositoryIdOf } from "../fixtures/github-events.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";

const log = pino({ level: "silent" });
const secrets = createSecretBox([]);
const sha = (n: number) => n.toString(16).padStart(40, "d");

/** Statements whose text matches `pattern`, counted as they are sent. */
function counting(db: Database, pattern: RegExp): { db: Database; count(): number } {
  let count = 0;
  const counted = (target: Queryable): Queryable => ({
    query(text, values) {
      if (pattern.test(text)) count++;
      return target.query(text, values);
    },
    exec: (text) => target.exec(text),
  });
  const wrapped: Database = {
    kind: db.kind,
    ...counted(db),
    urgent: counted(db.urgent),
    transaction: (work) => db.transaction((tx) => work(counted(tx))),
    close: () => db.close(),
  };
  return { db: wrapped, count: () => count };
}

/** What drains a project in a worker, with one batch applier shared by every project. */
function drainDeps(db: Database, woken: string[] = []): DrainDeps {
  const settled = new Set<string>();
  const apply: ApplyDeps = {
    db,
    outbox: { write: writeDeliveries, wake: (id) => woken.push(id) },
    settled,
  };
  return {
    db,
    receive: async ({ id, name, payload }) => {
      await applyEvent(apply, id, { name, payload } as GithubEvent, null, {
        ok: true,
        config: DEFAULT_REPO_CONFIG,
      });
    },
    applyBatch: createBatchApplier({ apply, log }),
    log,
    retry: { delaySeconds: 0, backoff: false, limit: 3 },
    settled,
    wakeAt: async () => {},
  };
}

async function addWebhook(db: Queryable, id: string, projectKey: string, body: Record<string, unknown> = {}) {
  const settings = newSettings(
    createIntegrationSchema.parse({ type: "webhook", url: `https://hooks.example.com/${id}`, ...body }),
  );
  return insertIntegration(db, secrets, {
    id: id.padEnd(13, "x"),
    projectKey,
    type: settings.type,
    config: settings.config,
    secret: settings.secret,
  });
}

describe.each(STORES)("applying several projects' events together on $name", { timeout: 180_000 }, (kind) => {
  const stores: TestStore[] = [];
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
    for (const opened of stores.splice(0)) await opened.close();
  });
  async function open(): Promise<TestStore> {
    const opened = await kind.open();
    stores.push(opened);
    return opened;
  }

  it.skipIf(kind.skip)(
    "applies projects drained at once in fewer transactions than projects, each project's events in order",
    async () => {
      const { db } = await open();
      // Well over PostgreSQL's applies at once (8), which start alone.
      const repos = Array.from({ length: 20 }, (_, n) => `across/repo-${n}`);
      for (const repo of repos) await addWebhook(db, repo.replace(/\W/g, ""), repo);
      for (const [r, repo] of repos.entries()) {
        for (let n = 0; n < 4; n++) {
          await insertEvent(db, {
            deliveryId: `${repo}#${n}`,
            name: "push",
            action: null,
            projectKey: repo,
            payload: JSON.stringify(pushTo(repo, r * 10 + n)),
          });
        }
      }
      const deps = drainDeps(db);
      const applied = await Promise.all(repos.map((repo) => drainProject(deps, repo)));
      expect(applied).toEqual(repos.map(() => 4));
      // The transaction that marked each event processed is the row's xmin, as the database tells.
      const { rows } = await db.query<{ transactions: number; processed: number }>(
        `SELECT count(DISTINCT xmin::text)::int AS transactions, count(*)::int AS processed
         FROM github_events WHERE state = 'processed'`,
      );
      expect(rows[0]?.processed).toBe(repos.length * 4);
      expect(rows[0]?.transactions).toBeGreaterThan(0);
      expect(rows[0]?.transactions).toBeLessThan(repos.length);
      // Each project's activities and deliveries follow its events' order.
      const { rows: activities } = await db.query<{ project: string; commit: string; deliveries: number }>(
        `SELECT p.key AS project, a.body->'parameters'->>'new_commit' AS commit,
           (SELECT count(*)::int FROM deliveries d WHERE d.activity_id = a.id) AS deliveries
         FROM activities a JOIN projects p ON p.id = a.project_id ORDER BY a.seq`,
      );
      for (const [r, repo] of repos.entries()) {
        const own = activities.filter((activity) => activity.project === repo);
        expect(own.map((activity) => activity.commit)).toEqual(
          Array.from({ length: 4 }, (_, n) => pushTo(repo, r * 10 + n).after),
        );
        expect(own.every((activity) => activity.deliveries === 1)).toBe(true);
      }
    },
  );

  it.skipIf(kind.skip)(
    "reads a project's integrations again only once they changed: added, edited, paused or disabled between batches (on PostgreSQL, by another connection)",
    async () => {
      const store = await open();
      const repo = "across/cached";
      // Integrations change through another instance's connection where there can be one.
      let writer: Queryable = store.db;
      if (store.queue.kind === "postgres") {
        const other = await openPostgres(store.queue.url);
        closing.push(() => other.close());
        writer = other;
      }
      const lists = counting(store.db, /FROM integrations/);
      const woken: string[] = [];
      const deps = drainDeps(lists.db, woken);
      let pushes = 0;
      /** Pushes to `branch` and drains: the integrations its activity's deliveries went to. */
      async function pushAndDrain(branch = "topic"): Promise<string[]> {
        pushes++;
        const deliveryId = `cached-${pushes}`;
        await insertEvent(store.db, {
          deliveryId,
          name: "push",
          action: null,
          projectKey: repo,
          payload: JSON.stringify(
            pushToBranch(branch, { before: sha(pushes), after: sha(pushes + 1) }),
          ).replaceAll("Codertocat/Hello-World", repo),
        });
        expect(await drainProject(deps, repo)).toBe(1);
        const { rows } = await store.db.query<{ integration: string }>(
          `SELECT d.integration_id AS integration FROM deliveries d JOIN activities a ON a.id = d.activity_id
           WHERE a.github_delivery_id = $1 ORDER BY d.integration_id`,
          [deliveryId],
        );
        return rows.map((row) => row.integration.replace(/x+$/, ""));
      }

      const a = await addWebhook(writer, "a", repo);
      expect(await pushAndDrain()).toEqual(["a"]);
      const read = lists.count();
      // Nothing changed: the next batch reads no integrations.
      expect(await pushAndDrain()).toEqual(["a"]);
      expect(lists.count()).toBe(read);

      await addWebhook(writer, "b", repo);
      expect(await pushAndDrain()).toEqual(["a", "b"]);

      await updateIntegration(writer, secrets, a, {
        config: { ...a.config, environments: ["release/*"] } as typeof a.config,
        rotate: false,
      });
      expect(await pushAndDrain()).toEqual(["b"]);
      expect(await pushAndDrain("release/1")).toEqual(["a", "b"]);

      // Paused: its deliveries are kept for its resume, and it is not woken.
      await setIntegrationStatus(writer, "b".padEnd(13, "x"), "paused");
      woken.length = 0;
      expect(await pushAndDrain()).toEqual(["b"]);
      expect(woken).toEqual([]);

      await setIntegrationStatus(writer, "b".padEnd(13, "x"), "disabled", "by hand");
      expect(await pushAndDrain("release/2")).toEqual(["a"]);
    },
  );

  it.skipIf(kind.skip)(
    "never gives a change the settings version of a change rolled back (a list cached under it would pass for current)",
    async () => {
      const { db } = await open();
      const version = async (q: Queryable) =>
        (await q.query<{ version: string }>("SELECT version FROM integration_settings_version")).rows[0]
          ?.version;
      await addWebhook(db, "rolled", "across/rolled");
      let seenInside: string | undefined;
      await expect(
        db.transaction(async (tx) => {
          await setIntegrationStatus(tx, "rolled".padEnd(13, "x"), "paused", "by hand");
          seenInside = await version(tx);
          throw new Error("rolled back");
        }),
      ).rejects.toThrow("rolled back");
      await setIntegrationStatus(db, "rolled".padEnd(13, "x"), "disabled", "by hand");
      const after = await version(db);
      expect(seenInside).toBeDefined();
      expect(after).not.toBe(seenInside);
    },
  );

  it.skipIf(kind.skip)(
    "writes a project's row only when an event changes it: its default branch, or it was deactivated",
    async () => {
      const store = await open();
      const repo = "across/project";
      const writes = counting(store.db, /INSERT INTO projects/);
      const deps = drainDeps(writes.db);
      let pushes = 0;
      async function pushAndDrain(change: (payload: Record<string, any>) => void = () => {}) {
        pushes++;
        const payload = pushTo(repo, pushes);
        change(payload);
        await insertEvent(store.db, {
          deliveryId: `project-${pushes}`,
          name: "push",
          action: null,
          projectKey: repo,
          payload: JSON.stringify(payload),
        });
        expect(await drainProject(deps, repo)).toBe(1);
      }
      const row = async () =>
        (
          await store.db.query<{ default_branch: string; status: string }>(
            "SELECT default_branch, status FROM projects WHERE key = $1",
            [repo],
          )
        ).rows[0];

      await pushAndDrain();
      expect(writes.count()).toBe(1);
      await pushAndDrain();
      await pushAndDrain();
      expect(writes.count()).toBe(1);

      await pushAndDrain((payload) => {
        payload.repository.default_branch = "main";
      });
      expect(writes.count()).toBe(2);
      expect(await row()).toEqual({ default_branch: "main", status: "active" });

      await deactivateProjects(
        store.db,
        { repositoryIds: [repositoryIdOf(repo)], keys: [] },
        "removed from the installation",
      );
      expect((await row())?.status).toBe("inactive");
      await pushAndDrain((payload) => {
        payload.repository.default_branch = "main";
      });
      expect(writes.count()).toBe(3);
      expect(await row()).toEqual({ default_branch: "main", status: "active" });
    },
  );
});
