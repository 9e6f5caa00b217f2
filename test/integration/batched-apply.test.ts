import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  DEFAULT_REPO_CONFIG,
  type RepoConfig,
  repoConfigSchema,
} from "../../src/config/repo-config.schema.ts";
import type { ConfigResult } from "../../src/config/validate-repo-config.ts";
import { createBatchApplier } from "../../src/intake/apply-batch.ts";
import { type ApplyDeps, applyEvent } from "../../src/intake/apply-event.ts";
import { applyEvents, type ReadyEvent } from "../../src/intake/apply-events.ts";
import { drainProject, type ReceiveEvent } from "../../src/intake/drain-project.ts";
import type { GithubEvent } from "../../src/lifecycle/github-event.ts";
import { createIntegrationSchema } from "../../src/relay/integration.schema.ts";
import { newSettings } from "../../src/relay/integration-settings.ts";
import { type WriteDeliveries, writeDeliveries } from "../../src/relay/write-deliveries.ts";
import type { Database, Queryable } from "../../src/store/database.ts";
import { findEvent, insertEvent } from "../../src/store/github-events.ts";
import { insertIntegration } from "../../src/store/integrations.ts";
import { createSecretBox } from "../../src/store/secret-box.ts";
import {
  createBranch,
  deleteBranch,
  pullRequest,
  pullRequestMerged,
  pullRequestSynchronized,
  pushCreatingBranch,
  pushCreatingMaster,
  pushDeletingBranch,
  pushTag,
  pushToBranch,
  REPO,
} from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const KEY = REPO.toLowerCase();
const log = pino({ level: "silent" });
const CONFIG: RepoConfig = repoConfigSchema.parse({
  environment_url: "https://{machine_name}.example.com",
  build_pull_requests_post_merge: true,
  runner: "external",
});
const sha = (n: number) => n.toString(16).padStart(40, "b");

/** A mixed sequence of real payloads: every transition, a machine name clash, an environment deleted and made again. */
function mixedEvents(): Array<{ name: string; payload: Record<string, any>; config?: ConfigResult }> {
  return [
    { name: "push", payload: pushCreatingMaster() },
    { name: "create", payload: createBranch("feature/login") },
    { name: "push", payload: pushCreatingBranch("feature/login", sha(1)) },
    { name: "push", payload: pushToBranch("feature/login", { before: sha(1), after: sha(2), commits: 2 }) },
    { name: "pull_request", payload: pullRequest("opened") },
    { name: "pull_request", payload: pullRequestSynchronized(sha(3), sha(4)) },
    { name: "push", payload: pushToBranch("master", { before: sha(5), after: sha(6) }) },
    // Its machine name clashes with feature/login's: it takes a hashed one.
    { name: "create", payload: createBranch("Feature-Login") },
    { name: "delete", payload: deleteBranch("feature/login") },
    // Made again in the same batch: a new row, the machine name freed by the deletion.
    { name: "create", payload: createBranch("feature/login") },
    {
      name: "push",
      payload: pushToBranch("feature/login", { before: sha(7), after: sha(8) }),
      config: { ok: false, problems: ["fetch_branches: expected boolean, received string"] },
    },
    { name: "push", payload: pushTag() },
    { name: "pull_request", payload: pullRequestMerged() },
    { name: "push", payload: pushDeletingBranch("Feature-Login") },
    { name: "push", payload: pushToBranch("pr-7", { before: sha(9), after: sha(10) }) },
  ];
}

/** A clock that moves one second at each reading, from the same start on both sides. */
function steppingClock(): () => Date {
  let tick = 0;
  return () => new Date(Date.UTC(2026, 0, 1) + tick++ * 1000);
}

async function addIntegrations(db: Database) {
  const secrets = createSecretBox([]);
  const bodies = [
    {
      type: "webhook",
      url: "https://hooks.example.com/a",
      secret: "s".repeat(32),
      states: ["pending", "in_progress", "complete"],
    },
    {
      type: "slack",
      url: "https://hooks.slack.com/services/T/B/x",
      environments: ["feature/*", "pr-*"],
      states: ["pending", "complete"],
    },
  ];
  for (const [n, body] of bodies.entries()) {
    const settings = newSettings(createIntegrationSchema.parse(body));
    await insertIntegration(db, secrets, {
      id: `integration${n}`.padEnd(13, "x"),
      projectKey: KEY,
      type: settings.type,
      config: settings.config,
      secret: settings.secret,
    });
  }
}

function applyDeps(db: Database, write: WriteDeliveries = writeDeliveries): ApplyDeps {
  return {
    db,
    now: steppingClock(),
    outbox: { write, wake() {} },
    github: { wake() {} },
  };
}

/** Stores the events in the inbox, as intake does; returns them ready to apply. */
async function store(db: Database, events: ReturnType<typeof mixedEvents>): Promise<ReadyEvent[]> {
  const ready: ReadyEvent[] = [];
  for (const [n, { name, payload, config }] of events.entries()) {
    const deliveryId = `delivery-${n}`;
    const stored = await insertEvent(db, {
      deliveryId,
      name,
      action: payload.action ?? null,
      projectKey: KEY,
      payload: JSON.stringify(payload),
    });
    ready.push({
      id: stored?.id ?? 0,
      deliveryId,
      event: { name, payload } as GithubEvent,
      installationId: payload.installation?.id ?? null,
      config: config ?? { ok: true, config: CONFIG },
    });
  }
  return ready;
}

/** Everything applying wrote, with activity ids replaced by their position (they are random). */
async function snapshot(db: Database): Promise<unknown> {
  const rows = async (sql: string) => (await db.query<Record<string, unknown>>(sql)).rows;
  const activityIds = (await rows("SELECT id FROM activities ORDER BY seq")).map((row) => row.id as string);
  const state = {
    projects: await rows("SELECT key, full_name, default_branch, installation_id FROM projects"),
    environments: await rows(
      `SELECT name, machine_name, kind, pull_request, parent, head_commit, previous_commit, status, is_main,
         clone_parent_data, last_activity_id, url, created_at, updated_at FROM environments ORDER BY name`,
    ),
    activities: await rows(
      `SELECT id, environment, type, state, result, body, github_delivery_id, created_at, updated_at,
         runner_deadline FROM activities ORDER BY seq`,
    ),
    deliveries: await rows(
      "SELECT integration_id, activity_id, order_key, event, body, state FROM deliveries ORDER BY seq",
    ),
    githubTasks: await rows(
      "SELECT project_key, kind, body, environment, state FROM github_tasks ORDER BY id",
    ),
    events: await rows("SELECT delivery_id, state, outcome FROM github_events ORDER BY id"),
    pushCommits: await rows("SELECT head_sha, commits FROM push_commits ORDER BY head_sha"),
  };
  let text = JSON.stringify(state);
  for (const [n, id] of activityIds.entries()) text = text.replaceAll(id, `activity-${n}`);
  return JSON.parse(text);
}

/** Counts the statements sent to the database, BEGIN and COMMIT included. */
function countingStatements(db: Database): { db: Database; count(): number } {
  let count = 0;
  const counted = (target: Queryable): Queryable => ({
    query(text, values) {
      count++;
      return target.query(text, values);
    },
    exec(text) {
      count++;
      return target.exec(text);
    },
  });
  const wrapped: Database = {
    kind: db.kind,
    ...counted(db),
    urgent: counted(db.urgent),
    transaction(work) {
      count += 2;
      return db.transaction((tx) => work(counted(tx)));
    },
    close: () => db.close(),
  };
  return { db: wrapped, count: () => count };
}

describe.each(STORES)("applying GitHub events in batches on $name", { timeout: 180_000 }, (kind) => {
  const stores: TestStore[] = [];
  afterEach(async () => {
    for (const opened of stores.splice(0)) await opened.close();
  });
  async function open() {
    const opened = await kind.open();
    stores.push(opened);
    await addIntegrations(opened.db);
    return opened.db;
  }

  it.skipIf(kind.skip)(
    "writes the same environments, activities, deliveries and GitHub tasks as one at a time, whatever the batch size",
    async () => {
      const single = await open();
      const deps = applyDeps(single);
      for (const { deliveryId, event, installationId, config } of await store(single, mixedEvents())) {
        await applyEvent(deps, deliveryId, event, installationId, config);
      }
      const expected = await snapshot(single);
      // The sequence means something: environments made, rebuilt, deleted, and left behind.
      const shown = expected as {
        environments: Array<{ name: string; machine_name: string }>;
        deliveries: Array<{ integration_id: string }>;
        githubTasks: unknown[];
      };
      expect(shown.environments.map((e) => [e.name, e.machine_name])).toEqual([
        ["branch:pr-7", "branch-pr-7"],
        ["feature/login", "feature-login"],
        ["master", "master"],
      ]);
      expect(new Set(shown.deliveries.map((d) => d.integration_id)).size).toBe(2);
      expect(shown.githubTasks.length).toBeGreaterThan(10);

      for (const size of [1, 4, 15]) {
        const batched = await open();
        const events = await store(batched, mixedEvents());
        const batchDeps = applyDeps(batched);
        for (let start = 0; start < events.length; start += size) {
          await applyEvents(batchDeps, events.slice(start, start + size));
        }
        expect(await snapshot(batched), `batches of ${size}`).toEqual(expected);
      }
    },
  );

  it.skipIf(kind.skip)(
    "a deleted branch cancels its push waiting for checks with runner: none, one at a time and in a batch",
    async () => {
      const waiting: ConfigResult = {
        ok: true,
        config: repoConfigSchema.parse({ wait_for_checks: "all", runner: "none" }),
      };
      const events = () => [
        {
          name: "push",
          payload: pushToBranch("feature", { before: sha(1), after: sha(2) }),
          config: waiting,
        },
        { name: "push", payload: pushDeletingBranch("feature", sha(2)), config: waiting },
      ];
      const states = async (db: Database) =>
        (
          await db.query<{ type: string; state: string }>(
            "SELECT body->>'type' AS type, body->>'state' AS state FROM activities ORDER BY seq",
          )
        ).rows;
      const expected = [
        { type: "environment.branch", state: "cancelled" },
        { type: "environment.delete", state: "complete" },
      ];
      const single = await open();
      for (const { deliveryId, event, installationId, config } of await store(single, events())) {
        await applyEvent(applyDeps(single), deliveryId, event, installationId, config);
      }
      expect(await states(single)).toEqual(expected);
      const batched = await open();
      await applyEvents(applyDeps(batched), await store(batched, events()));
      expect(await states(batched)).toEqual(expected);
    },
  );

  it.skipIf(kind.skip)(
    "rolls a batch back whole when one of its events was applied already, and changes nothing",
    async () => {
      const db = await open();
      const events = await store(db, mixedEvents().slice(0, 4));
      await applyEvent(applyDeps(db), "delivery-2", events[2]?.event as GithubEvent, null, {
        ok: true,
        config: CONFIG,
      });
      const before = await snapshot(db);
      await expect(applyEvents(applyDeps(db), events)).rejects.toThrow(/applied already/);
      expect(await snapshot(db)).toEqual(before);
    },
  );

  /**
   * A drain as the server runs it without GitHub App credentials (default options): batches through
   * `applyBatch`, the rest through `receive`.
   */
  function drainDeps(db: Database, { write = writeDeliveries, batches = true } = {}) {
    const settled = new Set<string>();
    const apply: ApplyDeps = { ...applyDeps(db, write), settled };
    const receive: ReceiveEvent = async ({ id, name, payload }) => {
      await applyEvent(apply, id, { name, payload } as GithubEvent, null, {
        ok: true,
        config: DEFAULT_REPO_CONFIG,
      });
    };
    const wakes: Date[] = [];
    return {
      wakes,
      deps: {
        db,
        receive,
        applyBatch: batches ? createBatchApplier({ apply, log }) : undefined,
        log,
        retry: { delaySeconds: 0, backoff: false, limit: 3 },
        settled,
        async wakeAt(_key: string, at: Date) {
          wakes.push(at);
        },
      },
    };
  }
  const pushes = (branches: string[]) =>
    branches.map((branch, n) => ({
      name: "push",
      payload: pushToBranch(branch, { before: sha(100 + n), after: sha(101 + n) }),
    }));
  async function appliedOrder(db: Database): Promise<string[]> {
    const { rows } = await db.query<{ environment: string }>(
      "SELECT environment FROM activities ORDER BY seq",
    );
    return rows.map((row) => row.environment);
  }

  it.skipIf(kind.skip)(
    "a failing event in a batch: those before it are applied, it is retried first, those after wait for it",
    async () => {
      const db = await open();
      let failures = 3;
      // The transaction fails while it writes the deliveries of `poison`'s activity: in the batch, then once alone.
      const write: WriteDeliveries = async (tx, key, activities) => {
        if (failures > 0 && activities.some(({ activity }) => activity.parameters.environment === "poison")) {
          failures--;
          throw new Error("the outbox is unavailable");
        }
        return writeDeliveries(tx, key, activities);
      };
      await store(db, pushes(["a", "b", "poison", "c", "d"]));
      const { deps, wakes } = drainDeps(db, { write });

      expect(await drainProject(deps, KEY)).toBe(2);
      expect(await appliedOrder(db)).toEqual(["a", "b"]);
      expect(await findEvent(db, "delivery-2")).toMatchObject({ state: "pending", attempts: 1 });
      expect(await findEvent(db, "delivery-3")).toMatchObject({ state: "pending", attempts: 0 });
      expect(wakes).toHaveLength(1);

      // Its retry is due at once (delay 0): it fails again alone, and still nothing overtakes it.
      expect(await drainProject(deps, KEY)).toBe(0);
      expect(await findEvent(db, "delivery-2")).toMatchObject({ state: "pending", attempts: 2 });
      expect(await appliedOrder(db)).toEqual(["a", "b"]);

      expect(await drainProject(deps, KEY)).toBe(3);
      expect(await appliedOrder(db)).toEqual(["a", "b", "poison", "c", "d"]);
      for (const n of [0, 1, 2, 3, 4]) {
        expect(await findEvent(db, `delivery-${n}`)).toMatchObject({ state: "processed" });
      }
    },
  );

  it.skipIf(kind.skip)(
    "an event that can never apply is set aside as failed, and the batch goes on past it in order",
    async () => {
      const db = await open();
      const events = pushes(["a", "b", "broken", "c", "d"]);
      // Stored before intake checked payloads: a ref that is not a string.
      (events[2] as { payload: Record<string, unknown> }).payload.ref = 42;
      await store(db, events);
      const { deps } = drainDeps(db);
      expect(await drainProject(deps, KEY)).toBe(4);
      expect(await appliedOrder(db)).toEqual(["a", "b", "c", "d"]);
      expect(await findEvent(db, "delivery-2")).toMatchObject({ state: "failed", attempts: 1 });
    },
  );

  it.skipIf(kind.skip)(
    "statements per event fall as the batch grows: 50 events drained in batches of 1, 10 and 50",
    async () => {
      const perEvent = new Map<string, number>();
      for (const [label, size, batches] of [
        ["one at a time (before batching)", 1, false],
        ["batches of 1", 1, true],
        ["batches of 10", 10, true],
        ["batches of 50", 50, true],
      ] as const) {
        const counter = countingStatements(await open());
        const { deps } = drainDeps(counter.db, { batches });
        const branches = Array.from({ length: 50 }, (_, n) => `branch-${n % 5}`);
        let statements = 0;
        for (let start = 0; start < 50; start += size) {
          const events = branches.slice(start, start + size).map((branch, n) => ({
            name: "push",
            payload: pushToBranch(branch, { before: sha(start + n), after: sha(start + n + 1) }),
          }));
          for (const [n, { name, payload }] of events.entries()) {
            await insertEvent(counter.db, {
              deliveryId: `d-${start + n}`,
              name,
              action: null,
              projectKey: KEY,
              payload: JSON.stringify(payload),
            });
          }
          const before = counter.count();
          expect(await drainProject(deps, KEY)).toBe(events.length);
          statements += counter.count() - before;
        }
        expect(await appliedOrder(counter.db)).toEqual(branches);
        perEvent.set(label, statements / 50);
      }
      console.log(
        `[batched apply, ${kind.name}] statements per event (2 integrations, GitHub tasks on): ${[...perEvent]
          .map(([label, value]) => `${label} ${value.toFixed(2)}`)
          .join(", ")}`,
      );
      const get = (label: string) => perEvent.get(label) ?? Number.NaN;
      expect(get("batches of 1")).toBeLessThanOrEqual(get("one at a time (before batching)"));
      expect(get("batches of 10")).toBeLessThan(get("batches of 1") / 4);
      expect(get("batches of 50")).toBeLessThan(get("batches of 10") / 2);
    },
  );

  it.skipIf(kind.skip)(
    "with runner: external, 50 pushes to one branch in one batch cancel 49 activities in a bounded number of statements",
    async () => {
      const count = async (config: RepoConfig) => {
        const counter = countingStatements(await open());
        const ready = await store(
          counter.db,
          Array.from({ length: 50 }, (_, n) => ({
            name: "push",
            payload: pushToBranch("feature/busy", { before: sha(200 + n), after: sha(201 + n) }),
            config: { ok: true, config } as ConfigResult,
          })),
        );
        const before = counter.count();
        await applyEvents(applyDeps(counter.db), ready);
        const statements = counter.count() - before;
        const { rows } = await counter.db.query<{ state: string; n: number }>(
          "SELECT state, count(*)::int AS n FROM activities GROUP BY state ORDER BY state",
        );
        return { statements, states: Object.fromEntries(rows.map((row) => [row.state, row.n])) };
      };
      const external = await count(CONFIG);
      const plain = await count({ ...CONFIG, runner: "none" });
      console.log(
        `[batched apply, ${kind.name}] 50 pushes to one branch in one batch: ${external.statements} statements with runner: external, ${plain.statements} without`,
      );
      expect(external.states).toEqual({ cancelled: 49, pending: 1 });
      // Locking the pending activities and writing the cancelled ones: not one statement per activity.
      expect(external.statements).toBeLessThanOrEqual(plain.statements + 2);
    },
  );

  describe("with GitHub App credentials", () => {
    let github: FakeGithub | undefined;
    let envhooks: TestEnvhooks | undefined;
    afterEach(async () => {
      await envhooks?.close();
      await github?.stop();
    });
    const options = (host: string) => `environment_url: "https://{machine_name}.${host}.example.com"\n`;

    it.skipIf(kind.skip)(
      "a batch reads the options once, and again only after a push that changes them; each event is applied with its own",
      async () => {
        github = await new FakeGithub().start();
        github.configFiles.set(REPO, options("a"));
        envhooks = await startTestEnvhooks(kind, { github });
        const server = envhooks;
        const applied = (deliveryId: string) =>
          eventually(async () => {
            const event = await findEvent(server.store.db, deliveryId);
            return event?.state === "processed" ? event : undefined;
          });
        expect((await server.deliver("push", pushToBranch("first"), { deliveryId: "first" })).status).toBe(
          202,
        );
        await applied("first");
        const reads = () => github?.callsTo(/\/contents\/\.github\/envhooks\.yml$/).length;
        expect(reads()).toBe(1);

        // Three events stored at once (committed together), then found by the sweep: one batch.
        github.configFiles.set(REPO, options("b"));
        const changing = pushToBranch("master", { before: sha(20), after: sha(21) });
        changing.commits[0] = {
          ...changing.commits[0],
          added: [],
          removed: [],
          modified: [".github/envhooks.yml"],
        };
        const batch = [
          ["before-change", pushToBranch("one", { before: sha(10), after: sha(11) })],
          ["change", changing],
          ["after-change", pushToBranch("two", { before: sha(30), after: sha(31) })],
        ] as const;
        await server.store.db.transaction(async (tx) => {
          for (const [deliveryId, payload] of batch) {
            await insertEvent(tx, {
              deliveryId,
              name: "push",
              action: null,
              projectKey: KEY,
              payload: JSON.stringify(payload),
            });
          }
        });
        await server.sweep();
        for (const [deliveryId] of batch) await applied(deliveryId);

        const { rows } = await server.store.db.query<{ name: string; url: string }>(
          "SELECT name, url FROM environments ORDER BY name",
        );
        expect(rows).toEqual([
          { name: "first", url: "https://first.a.example.com" },
          { name: "master", url: "https://master.b.example.com" },
          { name: "one", url: "https://one.a.example.com" },
          { name: "two", url: "https://two.b.example.com" },
        ]);
        // Read again for the push that changed them only.
        expect(reads()).toBe(2);
        const marked = await server.store.db.query<{ processed_at: Date }>(
          "SELECT DISTINCT processed_at FROM github_events WHERE delivery_id = ANY($1::text[])",
          [batch.map(([deliveryId]) => deliveryId)],
        );
        expect(marked.rows, "the three were applied in one transaction").toHaveLength(1);
      },
    );
  });
});
