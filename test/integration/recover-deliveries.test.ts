import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { Probot, ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recoverDeliveries } from "../../src/github/recover-deliveries.ts";
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

  it("asks again, three times at most, while GitHub's redelivery fails too", async () => {
    const missed = failedWhileDown("push", pushToBranch("unlucky"), 0);
    let clock = new Date();
    // GitHub's redeliveries do not reach envhooks (redeliverTo unset): each fails like the first.
    const running = await startTestEnvhooks(kind, { github, store, now: () => clock });
    envhooks = running;
    await eventually(async () => askedAgain().length === 1);
    expect((await running.recoverDeliveries())?.redelivered).toEqual([]);
    for (const n of [2, 3]) {
      clock = new Date(clock.getTime() + 6 * 60_000);
      expect((await running.recoverDeliveries())?.redelivered).toEqual([missed.guid]);
      expect(askedAgain()).toHaveLength(n);
    }
    clock = new Date(clock.getTime() + 6 * 60_000);
    expect((await running.recoverDeliveries())?.redelivered).toEqual([]);
    // Each time the newest failed delivery of that event was asked for.
    const ofGuid = github.hookDeliveries.filter((d) => d.guid === missed.guid).map((d) => d.id);
    expect(askedAgain()).toEqual(ofGuid.slice(0, 3));
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

  it("goes on from the page a bounded run stopped at, and starts afresh when GitHub refuses the cursor", async () => {
    const missed = [0, 1, 2, 3, 4, 5].map((n) => failedWhileDown("push", pushToBranch(`paged-${n}`), 0));
    const probot = new Probot({
      appId: 1,
      privateKey: github.privateKey,
      baseUrl: github.baseUrl,
      log: pino({ level: "silent" }),
      Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
    });
    const run = (maxPages: number) =>
      recoverDeliveries({
        db: store.db,
        log: pino({ level: "silent" }),
        appOctokit: () => probot.auth(),
        now: () => new Date(),
        limits: { maxPages, perPage: 2, maxRedeliveries: 100 },
      });
    // Two deliveries a page, one page a run: newest first, each run from where the last stopped.
    expect(await run(1)).toMatchObject({ redelivered: [missed[5]?.guid, missed[4]?.guid], ended: "pages" });
    expect(await run(1)).toMatchObject({ redelivered: [missed[3]?.guid, missed[2]?.guid], ended: "pages" });
    expect(github.callsTo(LIST).map((call) => new URLSearchParams(call.query).get("cursor"))).toEqual([
      null,
      `v1_${missed[4]?.id}`,
    ]);
    // The cursor is refused: the scan starts again from the newest and finds the last two.
    github.fail("GET", LIST, 422, 1);
    expect(await run(1)).toMatchObject({ redelivered: [], ended: "error" });
    expect(await run(5)).toMatchObject({ redelivered: [missed[1]?.guid, missed[0]?.guid], ended: "done" });
    expect(new URLSearchParams(github.callsTo(LIST)[3]?.query).get("cursor")).toBeNull();
    expect(askedAgain()).toEqual(missed.map((d) => d.id).reverse());
  });

  it("does nothing without GitHub App credentials", async () => {
    envhooks = await startTestEnvhooks(kind, { store });
    expect(await envhooks.recoverDeliveries()).toBeUndefined();
  });
});
