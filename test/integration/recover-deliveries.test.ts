import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBranch, pullRequest, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { FakeGithub, type FakeHookDelivery } from "../helpers/fake-github.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const DAY_MS = 24 * 3600_000;
const ATTEMPTS = /^\/api\/v3\/app\/hook\/deliveries\/(\d+)\/attempts$/;
const LIST = /^\/api\/v3\/app\/hook\/deliveries$/;

describe.each(STORES)("recovering missed GitHub deliveries on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let store: TestStore;
  let envhooks: TestEnvhooks | undefined;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    github.configFiles.set(REPO, "");
    store = await kind.open();
  });
  afterEach(async () => {
    await envhooks?.close();
    envhooks = undefined;
    await github?.stop();
    await store?.close();
  });

  /** Starts envhooks; GitHub's redeliveries reach it as signed deliveries with their original GUID. */
  async function start(): Promise<TestEnvhooks> {
    const started = startTestEnvhooks(kind, { github, store });
    github.redeliverTo = async (delivery) => {
      const response = await (await started).deliver(delivery.event, delivery.payload, {
        deliveryId: delivery.guid,
      });
      return response.status;
    };
    envhooks = await started;
    return envhooks;
  }

  /** GitHub delivered `payload` to envhooks, which stored it (202). */
  async function deliveredWhileUp(event: string, payload: Record<string, any>): Promise<FakeHookDelivery> {
    const guid = randomUUID();
    const response = await envhooks?.deliver(event, payload, { deliveryId: guid });
    expect(response?.status).toBe(202);
    return github.addHookDelivery({ guid, event, action: payload.action ?? null, status_code: 202, payload });
  }

  /** GitHub tried while envhooks was down: `status_code` 0 (no answer) or what a proxy answered. */
  function failedWhileDown(
    event: string,
    payload: Record<string, any>,
    statusCode = 0,
    guid: string = randomUUID(),
  ) {
    return github.addHookDelivery({
      guid,
      event,
      action: payload.action ?? null,
      status_code: statusCode,
      payload,
    });
  }

  async function storedGuids(): Promise<string[]> {
    const { rows } = await store.db.query<{ delivery_id: string }>("SELECT delivery_id FROM github_events");
    return rows.map((row) => row.delivery_id);
  }

  function askedAgain(): number[] {
    return github.callsTo(ATTEMPTS).map((call) => Number(ATTEMPTS.exec(call.path)?.[1]));
  }

  it("asks GitHub again for exactly the three deliveries that failed while envhooks was down", async () => {
    // A first run of envhooks receives two deliveries, then stops.
    await start();
    const stored = await deliveredWhileUp("push", pushToBranch("feature-a"));
    const created = await deliveredWhileUp("create", createBranch("feature-b"));
    await envhooks?.close();
    envhooks = undefined;

    // While it is down, GitHub fails to deliver. Around the three missing deliveries: one it
    // failed to confirm but envhooks stored (GitHub gave up waiting), an event envhooks does not act
    // on, one already redelivered by hand, one older than GitHub keeps, and 250 other deliveries
    // (GitHub lists 100 a page, so the three are on three pages).
    const old = failedWhileDown("push", pushToBranch("ancient"), 502);
    old.delivered_at = new Date(Date.now() - 4 * DAY_MS).toISOString();
    const missed = [failedWhileDown("push", pushToBranch("feature-c"), 0)];
    failedWhileDown("push", stored.payload as Record<string, any>, 0, stored.guid);
    for (let n = 0; n < 120; n++)
      github.addHookDelivery({ guid: randomUUID(), event: "issues", status_code: 202 });
    failedWhileDown("issues", { action: "opened" }, 503);
    const byHand = failedWhileDown("create", createBranch("by-hand"), 503);
    github.addHookDelivery({ guid: byHand.guid, event: "create", status_code: 202, redelivery: true });
    missed.push(failedWhileDown("pull_request", pullRequest("opened"), 503));
    for (let n = 0; n < 130; n++)
      github.addHookDelivery({ guid: randomUUID(), event: "issues", status_code: 202 });
    missed.push(failedWhileDown("create", createBranch("feature-d"), 502));
    // They were all made a few minutes ago.
    for (const delivery of github.hookDeliveries)
      if (delivery !== old) delivery.delivered_at = new Date(Date.now() - 5 * 60_000).toISOString();

    github.calls.length = 0;
    const running = await start();
    await eventually(async () => askedAgain().length >= 3);
    // The run at start listed every page back to GitHub's 3 days and asked for the three; the
    // second listed one page, down to what the first had checked.
    const again = await running.recoverDeliveries();
    expect(again).toMatchObject({ redelivered: [], ended: "done" });
    expect(askedAgain().sort()).toEqual(missed.map((d) => d.id).sort());
    expect(github.callsTo(LIST)).toHaveLength(3 + 1);
    expect(github.callsTo(LIST).every((call) => call.installationId === null)).toBe(true);

    // GitHub sent them again with their GUIDs, and envhooks has them now.
    const expected = [stored.guid, created.guid, ...missed.map((d) => d.guid)].sort();
    await eventually(async () => (await storedGuids()).length === expected.length);
    expect((await storedGuids()).sort()).toEqual(expected);
    const metrics = await (await running.app.request("/metrics")).text();
    expect(metrics).toMatch(/envhooks_github_deliveries_recovered_total\{event="push"\} 1\n/);
    expect(metrics).toMatch(/envhooks_github_deliveries_recovered_total\{event="pull_request"\} 1\n/);
    expect(metrics).toMatch(/envhooks_github_deliveries_recovered_total\{event="create"\} 1\n/);
    expect(running.logs.filter((line) => line.includes("asked GitHub to send it again"))).toHaveLength(3);

    // Later, one more failure: the next run lists only the newest page and asks for that one.
    github.calls.length = 0;
    const later = failedWhileDown("delete", { ...createBranch("feature-d"), ref_type: "branch" }, 504);
    const run = await running.recoverDeliveries();
    expect(run).toMatchObject({ redelivered: [later.guid], pages: 1, ended: "done" });
    expect(askedAgain()).toEqual([later.id]);
  });

  it("asks once when two instances start together on one database", async ({ skip }) => {
    // Several instances share PostgreSQL only: each embedded start voids every lease, its own
    // process being the only one.
    if (kind.name === "pglite") skip("one process per embedded database");
    const missed = [0, 1, 2].map((n) => failedWhileDown("push", pushToBranch(`together-${n}`), 0));
    const [first, second] = await Promise.all([
      startTestEnvhooks(kind, { github, store }),
      startTestEnvhooks(kind, { github, store }),
    ]);
    try {
      await eventually(async () => askedAgain().length >= 3);
      // Whichever ran second (or runs now) finds them asked for already.
      await Promise.all([first.recoverDeliveries(), second.recoverDeliveries()]);
      expect(askedAgain().sort()).toEqual(missed.map((d) => d.id).sort());
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("stops when GitHub rate-limits it and waits before asking again", async () => {
    for (let n = 0; n < 3; n++) failedWhileDown("push", pushToBranch(`branch-${n}`), 0);
    github.fail("POST", ATTEMPTS, 429, 1);
    const running = await start();
    await eventually(async () => github.callsTo(ATTEMPTS).length === 1);
    github.calls.length = 0;
    // The run stopped at GitHub's 429; the next waits for the pause without a request.
    expect(await running.recoverDeliveries()).toMatchObject({ redelivered: [], pages: 0, ended: "resting" });
    expect(github.calls).toEqual([]);
    const metrics = await (await running.app.request("/metrics")).text();
    expect(metrics).toMatch(/envhooks_github_delivery_recovery_failures_total\{step="redeliver"\} 1\n/);
    const { rows } = await store.db.query<{ state: { restUntil?: string } }>(
      "SELECT state FROM background_jobs WHERE name = 'recover-github-deliveries'",
    );
    expect(Date.parse(rows[0]?.state.restUntil ?? "")).toBeGreaterThan(Date.now() + 30_000);
  });

  it("does nothing without GitHub App credentials", async () => {
    envhooks = await startTestEnvhooks(kind, { store });
    expect(await envhooks.recoverDeliveries()).toBeUndefined();
  });
});
