import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ALERT_TYPES } from "../../src/activity/activity.ts";
import { listActivities } from "../../src/store/activities.ts";
import type { Queryable } from "../../src/store/database.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";

// Issue 22 item 17, review L2: `alerts=only` reads a project's few alerts through an index of their own.
describe.each(STORES)("the activity list's alerts filter on $name", (kind) => {
  let store: TestStore;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    store = await kind.open();
  });
  afterEach(async () => {
    await store?.close();
  });

  it("reads alerts only through the partial index on alert types, not every activity of the project", async () => {
    const { db } = store;
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO projects (key, full_name, default_branch) VALUES ('a/b', 'a/b', 'main') RETURNING id`,
    );
    const project = Number(rows[0]?.id);
    // Many activities, one alert in a thousand: the shape of a busy project.
    await db.query(
      `INSERT INTO activities (id, project_id, environment, type, state, body, created_at, updated_at)
       SELECT 'act' || n, $1, 'main', CASE WHEN n % 1000 = 0 THEN $2 ELSE 'environment.push' END,
         'complete', '{}', now(), now()
       FROM generate_series(1, 30000) AS n`,
      [project, ALERT_TYPES[1]],
    );
    await db.query("ANALYZE activities");

    // The statement listActivities runs, explained with its own parameters.
    const plans: string[] = [];
    const explaining: Queryable = {
      async query(text, values) {
        const { rows: plan } = await db.query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, values);
        plans.push(plan.map((row) => row["QUERY PLAN"]).join("\n"));
        return { rows: [], rowCount: 0 } as never;
      },
      exec: (text) => db.exec(text),
    };
    await listActivities(explaining, project, { limit: 20, alerts: "only" });
    expect(plans[0]).toContain("activities_alerts_by_project");

    // And the answer is the alerts, newest first.
    const { activities } = await listActivities(db, project, { limit: 50, alerts: "only" });
    expect(activities).toHaveLength(30);
    const rest = await listActivities(db, project, { limit: 5, alerts: "exclude" });
    expect(rest.activities).toHaveLength(5);
  }, 60_000);
});
