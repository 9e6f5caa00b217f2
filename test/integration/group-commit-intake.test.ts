import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushCreatingMaster, pushTo } from "../fixtures/github-events.ts";
import { STORES } from "../helpers/stores.ts";
import { startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

/** Deliveries sent at once: enough that many arrive while the first is being committed. */
const BURST = 40;
const REPOS = ["group/one", "group/two", "group/three"];

describe.each(STORES)("deliveries arriving together share a commit on $name", (kind) => {
  let envhooks: TestEnvhooks;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    // A web instance only stores and enqueues: no row is applied (updated) under the test's eyes.
    envhooks = await startTestEnvhooks(kind, { role: "web" });
  });
  afterEach(async () => {
    await envhooks?.close();
  });

  /**
   * The transactions that stored these deliveries, as the database itself tells: rows inserted by
   * one transaction carry its id in `xmin` (until a row is updated, which a web instance never does).
   */
  async function transactionsOf(deliveryIds: string[]): Promise<number> {
    const { rows } = await envhooks.store.db.query<{ n: number }>(
      "SELECT count(DISTINCT xmin::text)::int AS n FROM github_events WHERE delivery_id = ANY($1::text[])",
      [deliveryIds],
    );
    return rows[0]?.n ?? -1;
  }

  /**
   * Holds the inbox for `keys` until the function returned is called: another session holds their
   * locks (PostgreSQL), or a transaction holds the one connection (embedded). The first deliveries
   * wait in the store meanwhile, and the others queue behind them whatever the machine's load.
   */
  async function holdInbox(keys: string[]): Promise<() => Promise<void>> {
    const { queue, db } = envhooks.store;
    if (queue.kind === "postgres") {
      const session = new pg.Client({ connectionString: queue.url });
      await session.connect();
      await session.query(
        "SELECT count(pg_advisory_lock(hashtext('envhooks:inbox:' || k))) FROM unnest($1::text[]) AS k",
        [keys],
      );
      return async () => {
        await session.query("SELECT pg_advisory_unlock_all()");
        await session.end();
      };
    }
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let began = () => {};
    const open = new Promise<void>((resolve) => {
      began = resolve;
    });
    const transaction = db.transaction(async (tx) => {
      await tx.query("SELECT 1");
      began();
      await released;
    });
    await open;
    return async () => {
      release();
      await transaction;
    };
  }

  /** Posts every delivery at once; each answer with whether its row was readable when it came. */
  function burst(deliveries: Array<{ id: string; name?: string; payload: unknown }>) {
    return Promise.all(
      deliveries.map(async ({ id, name = "push", payload }) => {
        const response = await envhooks.deliver(name, payload, { deliveryId: id });
        // Read at once, before anything else is awaited: a 202 means the row is committed.
        const stored = await findEvent(envhooks.store.db, id);
        return {
          id,
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
          stored,
        };
      }),
    );
  }

  it("commits a burst in fewer transactions than deliveries, each 202 readable when it arrives", async () => {
    const deliveries = Array.from({ length: BURST }, (_, n) => ({
      id: `burst-${n}`,
      payload: pushTo(REPOS[n % REPOS.length] as string, n),
    }));
    const release = await holdInbox(REPOS);
    const sent = burst(deliveries);
    // Time for the requests to reach the store; any that come later only make more batches.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await release();
    const answers = await sent;
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 202, body: { status: "accepted", delivery: answer.id } });
      expect(answer.stored?.deliveryId).toBe(answer.id);
    }
    const transactions = await transactionsOf(deliveries.map(({ id }) => id));
    expect(transactions).toBeGreaterThan(0);
    expect(transactions).toBeLessThan(BURST);
  });

  it("answers a delivery sent twice in one burst, and one stored before, as duplicates", async () => {
    expect((await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "earlier" })).status).toBe(
      202,
    );
    const deliveries = Array.from({ length: BURST }, (_, n) => ({
      id: `dup-${n}`,
      payload: pushTo(REPOS[n % REPOS.length] as string, n),
    }));
    // The same delivery twice, side by side (one batch), and GitHub's redelivery of an earlier one.
    deliveries.splice(10, 0, { id: "twice", payload: pushTo("group/one", 100) });
    deliveries.splice(11, 0, { id: "twice", payload: pushTo("group/one", 100) });
    deliveries.splice(20, 0, { id: "earlier", payload: pushCreatingMaster() });
    const answers = await burst(deliveries);
    const twice = answers.filter((answer) => answer.id === "twice");
    expect(twice.map((answer) => answer.status).sort()).toEqual([200, 202]);
    const duplicates = answers.filter((answer) => answer.status === 200);
    expect(duplicates.map((answer) => answer.id).sort()).toEqual(["earlier", "twice"]);
    for (const duplicate of duplicates) {
      expect(duplicate.body).toEqual({
        status: "duplicate",
        message: `Delivery ${duplicate.id} was received already.`,
      });
    }
    for (const answer of answers) expect(answer.stored?.deliveryId).toBe(answer.id);
    const { rows } = await envhooks.store.db.query<{ id: string; n: number }>(
      "SELECT delivery_id AS id, count(*)::int AS n FROM github_events GROUP BY delivery_id",
    );
    expect(rows).toHaveLength(BURST + 2);
    expect(rows.every((row) => row.n === 1)).toBe(true);
  });

  it("loses none of a burst when the store refuses one delivery or one is malformed", async () => {
    // A real refusal by the store, for one delivery id only (added NOT VALID: no row is checked).
    await envhooks.store.db.exec(
      "ALTER TABLE github_events ADD CONSTRAINT refuse_one CHECK (delivery_id <> 'refused') NOT VALID",
    );
    const deliveries: Array<{ id: string; name?: string; payload: unknown }> = Array.from(
      { length: BURST },
      (_, n) => ({ id: `kept-${n}`, payload: pushTo(REPOS[n % REPOS.length] as string, n) }),
    );
    deliveries.splice(5, 0, { id: "refused", payload: pushTo("group/two", 200) });
    deliveries.splice(15, 0, { id: "not-json", payload: "{not json" });
    deliveries.splice(25, 0, { id: "no-repository", payload: { ref: "refs/heads/x" } });
    const answers = await burst(deliveries);
    const byId = new Map(answers.map((answer) => [answer.id, answer]));
    expect(byId.get("refused")).toMatchObject({
      status: 503,
      body: { error: { code: "store_unavailable" } },
      stored: undefined,
    });
    expect(byId.get("not-json")).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_json" } },
      stored: undefined,
    });
    expect(byId.get("no-repository")).toMatchObject({
      status: 400,
      body: { error: { code: "invalid_payload" } },
      stored: undefined,
    });
    const kept = answers.filter((answer) => answer.id.startsWith("kept-"));
    expect(kept).toHaveLength(BURST);
    for (const answer of kept) {
      expect(answer.status).toBe(202);
      expect(answer.stored?.deliveryId).toBe(answer.id);
    }
  });
});
