import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushToBranch, REPO } from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const DAY_MS = 24 * 3600_000;
const sha = (n: number) => n.toString(16).padStart(40, "b");

/** What the store holds, by what retention treats differently. */
interface Census {
  events: number;
  payloads: number;
  delivered: number;
  failed: number;
  pending: number;
  attempts: number;
  attemptBodies: number;
  failedAttemptBodies: number;
  tasks: number;
  activities: number;
  deployments: number;
}

describe.each(STORES)("retention on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;
  const receivers: Receiver[] = [];
  let clock: Date;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    github.configFiles.set(REPO, "");
    clock = new Date();
    envhooks = await startTestEnvhooks(kind, { github, now: () => clock });
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
    for (const receiver of receivers.splice(0)) await receiver.stop();
  });

  async function addWebhook(answer: Receiver["answer"], body: Record<string, unknown>) {
    const receiver = await new Receiver().start();
    receiver.answer = answer;
    receivers.push(receiver);
    const response = await envhooks.api(`/api/projects/${REPO}/integrations`, {
      // The pushes' activities only: a failed delivery's alert (integration.delivery.failed) is
      // recorded as an activity, not relayed here.
      body: { type: "webhook", url: receiver.url, events: ["environment.*"], ...body },
    });
    expect(response.status).toBe(201);
  }

  async function census(): Promise<Census> {
    const { rows } = await envhooks.store.db.query<Census>(
      `SELECT (SELECT count(*) FROM github_events)::int AS events,
         (SELECT count(*) FROM github_events WHERE payload IS NOT NULL)::int AS payloads,
         (SELECT count(*) FROM deliveries WHERE state = 'delivered')::int AS delivered,
         (SELECT count(*) FROM deliveries WHERE state = 'failed')::int AS failed,
         (SELECT count(*) FROM deliveries WHERE state = 'pending')::int AS pending,
         (SELECT count(*) FROM delivery_attempts)::int AS attempts,
         (SELECT count(*) FROM delivery_attempts WHERE response_body IS NOT NULL AND request_headers <> '{}')::int
           AS "attemptBodies",
         (SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
           WHERE d.state = 'failed' AND a.response_body IS NOT NULL)::int AS "failedAttemptBodies",
         (SELECT count(*) FROM github_tasks)::int AS tasks,
         (SELECT count(*) FROM activities)::int AS activities,
         (SELECT count(*) FROM github_deployments)::int AS deployments`,
    );
    return rows[0] as Census;
  }

  /** Moves the clock `days` past the start and purges. */
  async function purgeAt(days: number) {
    clock = new Date(Date.now() + days * DAY_MS);
    return envhooks.purge();
  }

  async function purgedMetric(what: string): Promise<number> {
    const text = await (await envhooks.app.request("/metrics")).text();
    return Number(new RegExp(`envhooks_purged_total\\{what="${what}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  }

  it("lets go of a 204 dispatch whose workflow run never came, once past the retention", async () => {
    await envhooks.store.db.query(
      `INSERT INTO unidentified_dispatches (activity_id, project_key, workflow, ref, sent_at)
       VALUES ('never-claimed', lower($1), 'preview.yml', 'main', $2)`,
      [REPO, clock],
    );
    const left = async () =>
      (await envhooks.store.db.query("SELECT activity_id FROM unidentified_dispatches")).rows.length;
    expect(await purgeAt(29)).toMatchObject({ unidentified_dispatches: 0 });
    expect(await left()).toBe(1);
    expect(await purgeAt(31)).toMatchObject({ unidentified_dispatches: 1 });
    expect(await left()).toBe(0);
    expect(await purgedMetric("unidentified_dispatches")).toBe(1);
  });

  it("purges only what it should, with the clock moved", async () => {
    const FAST = [0, 0, 0, 0, 0];
    await addWebhook(() => ({ status: 200, body: "ok" }), { retry_schedule: FAST });
    await addWebhook(() => ({ status: 500, body: "boom" }), { retry_schedule: FAST });
    // Still retrying in an hour: pending, with one attempt, and only for feature-b.
    await addWebhook(() => ({ status: 503, body: "later" }), {
      retry_schedule: [3600, 3600, 3600, 3600, 3600],
      environments: ["feature-b"],
    });
    const pushes: Array<[string, number]> = [
      ["feature-a", 1],
      ["feature-a", 2],
      ["feature-b", 3],
    ];
    for (const [branch, n] of pushes) {
      const response = await envhooks.deliver(
        "push",
        pushToBranch(branch, { before: sha(n), after: sha(n + 1) }),
      );
      expect(response.status).toBe(202);
    }
    // Settled: every event applied, every GitHub update sent, every delivery delivered, failed
    // for good (1 + 5 attempts) or waiting an hour after its first attempt.
    const start = await eventually(async () => {
      const now = await census();
      const { rows } = await envhooks.store.db.query(
        `SELECT 1 FROM github_events WHERE state = 'pending'
         UNION ALL SELECT 1 FROM github_tasks WHERE state = 'pending'
         UNION ALL SELECT 1 FROM deliveries WHERE state = 'pending' AND (attempts = 0 OR last_status <> 503)`,
      );
      const { rows: alerts } = await envhooks.store.db.query<{ count: number }>(
        "SELECT (body->'alert'->>'count')::int AS count FROM activities WHERE type = 'integration.delivery.failed'",
      );
      const settled =
        rows.length === 0 &&
        now.events === 3 &&
        now.tasks > 0 &&
        now.pending > 0 &&
        now.failed > 0 &&
        now.delivered === now.failed &&
        // Each failed delivery's alert counted, in one alert: one integration, one window of 10 minutes.
        alerts.length === 1 &&
        alerts[0]?.count === now.failed &&
        now.activities === pushes.length + 1 &&
        now.attempts === now.delivered + 6 * now.failed + now.pending;
      return settled ? now : undefined;
    }, 60_000);
    expect(start).toMatchObject({ payloads: 3, attemptBodies: start.attempts });

    // 29 days on, nothing is old enough.
    expect(await purgeAt(29)).toEqual({
      github_payloads: 0,
      deliveries: 0,
      attempt_bodies: 0,
      github_tasks: 0,
      activities: 0,
      alerts: 0,
      unidentified_dispatches: 0,
    });
    expect(await census()).toEqual(start);

    // 31 days: payloads emptied (their rows and delivery ids kept), delivered deliveries and
    // finished GitHub updates gone, the retrying delivery's attempt emptied; failed deliveries
    // and their attempts kept whole; activities kept.
    const purged = await purgeAt(31);
    expect(purged).toEqual({
      github_payloads: 3,
      deliveries: start.delivered,
      attempt_bodies: start.pending,
      github_tasks: start.tasks,
      activities: 0,
      alerts: 0,
      unidentified_dispatches: 0,
    });
    const month = await census();
    expect(month).toEqual({
      ...start,
      payloads: 0,
      delivered: 0,
      attempts: start.attempts - start.delivered,
      attemptBodies: 6 * start.failed,
      tasks: 0,
    });
    expect(month.failedAttemptBodies).toBe(6 * start.failed);
    const { rows: kept } = await envhooks.store.db.query("SELECT delivery_id FROM github_events");
    expect(kept).toHaveLength(3);
    // A GitHub redelivery of a purged event is still a duplicate.
    const again = await envhooks.store.db.query<{ delivery_id: string }>(
      "SELECT delivery_id FROM github_events LIMIT 1",
    );
    const duplicate = await envhooks.deliver("push", pushToBranch("feature-a"), {
      deliveryId: again.rows[0]?.delivery_id ?? "",
    });
    expect(duplicate.status).toBe(200);
    expect(await purgedMetric("github_payloads")).toBe(3);
    expect(await purgedMetric("deliveries")).toBe(start.delivered);

    // 61 days: failed deliveries go too, with their attempts; the pending one stays.
    expect(await purgeAt(61)).toMatchObject({ deliveries: start.failed, activities: 0 });
    expect(await census()).toMatchObject({ failed: 0, pending: start.pending, attempts: start.pending });

    // A year and a day: activities go, except each environment's last and one with a delivery
    // still pending; what GitHub was shown of them goes with them.
    const { rows: lasts } = await envhooks.store.db.query<{ id: string }>(
      "SELECT last_activity_id AS id FROM environments WHERE last_activity_id IS NOT NULL",
    );
    const { rows: pendingOf } = await envhooks.store.db.query<{ id: string }>(
      "SELECT DISTINCT activity_id AS id FROM deliveries WHERE state = 'pending'",
    );
    const keep = new Set([...lasts, ...pendingOf].map((row) => row.id));
    expect(keep.size).toBeLessThan(start.activities);
    // The failing integration's alert window goes with the activities' retention too.
    expect(await purgeAt(366)).toMatchObject({ activities: start.activities - keep.size, alerts: 1 });
    const { rows: windows } = await envhooks.store.db.query("SELECT 1 FROM integration_alerts");
    expect(windows).toEqual([]);
    const { rows: left } = await envhooks.store.db.query<{ id: string }>("SELECT id FROM activities");
    expect(new Set(left.map((row) => row.id))).toEqual(keep);
    const { rows: orphans } = await envhooks.store.db.query(
      "SELECT 1 FROM github_deployments g WHERE NOT EXISTS (SELECT 1 FROM activities a WHERE a.id = g.activity_id)",
    );
    expect(orphans).toEqual([]);
    expect(await purgedMetric("activities")).toBe(start.activities - keep.size);
  });
});
