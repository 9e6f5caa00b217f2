import { createHmac, randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { pullRequest, pushCreatingMaster, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { STORES } from "../helpers/stores.ts";
import {
  API_TOKEN,
  eventually,
  startTestEnvhooks,
  type TestEnvhooks,
  WEBHOOK_SECRET,
} from "../helpers/test-envhooks.ts";

const pglite = STORES.find((kind) => kind.name === "pglite");
let envhooks: TestEnvhooks;
const statuses = new Map<number, number>();

beforeAll(async () => {
  if (!pglite) throw new Error("no embedded store");
  envhooks = await startTestEnvhooks(pglite, { retryDelaySeconds: 1, retryLimit: 0 });
});
afterAll(async () => {
  console.log(`[chaos] fuzz answers: ${[...statuses].map(([status, n]) => `${n}× ${status}`).join(", ")}`);
  await envhooks?.close();
});

function record(status: number) {
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
  return status;
}

/** Replaces, deletes or retypes values at random paths of a real payload. */
const mutated = (base: () => Record<string, unknown>) =>
  fc
    .array(fc.tuple(fc.nat(), fc.oneof(fc.constant(undefined), fc.jsonValue(), fc.string())), {
      minLength: 1,
      maxLength: 6,
    })
    .map((changes) => {
      const payload = base();
      for (const [pick, value] of changes) {
        let target: any = payload;
        // Walk down a few levels along keys chosen by `pick`.
        for (let depth = 0; depth < 3; depth++) {
          const keys = target && typeof target === "object" ? Object.keys(target) : [];
          if (keys.length === 0) break;
          const key = keys[(pick >> (depth * 3)) % keys.length] as string;
          const child = target[key];
          if (depth === 2 || child === null || typeof child !== "object") {
            if (value === undefined) delete target[key];
            else target[key] = value;
            break;
          }
          target = child;
        }
      }
      return payload;
    });

it("thousands of random and mutated GitHub payloads: no 500, and the process keeps working", async () => {
  const events = fc.constantFrom("push", "pull_request", "create", "delete", "issue_comment", "ping");
  const bodies = fc.oneof(
    mutated(pushCreatingMaster),
    mutated(() => pushToBranch("feature/fuzz")),
    mutated(() => pullRequest("opened")),
    fc.jsonValue().map((value) => ({ repository: { full_name: REPO, default_branch: "master" }, value })),
    fc.jsonValue(),
    fc.string(),
  );
  await fc.assert(
    fc.asyncProperty(events, bodies, async (name, body) => {
      const text = typeof body === "string" ? body : JSON.stringify(body);
      const signature = `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(text).digest("hex")}`;
      const response = await envhooks.app.request("/api/github/webhooks", {
        method: "POST",
        body: text,
        headers: {
          "x-github-event": name,
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": signature,
        },
      });
      expect(record(response.status)).toBeLessThan(500);
    }),
    { numRuns: 2500 },
  );
  // Everything accepted is applied or set aside with its error; the server still works.
  await eventually(async () => {
    const { rows } = await envhooks.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM github_events WHERE state = 'pending'",
    );
    return rows[0]?.n === 0;
  }, 60_000);
  const response = await envhooks.deliver("push", pushToBranch("after-fuzz"), { deliveryId: "after-fuzz" });
  expect(response.status).toBe(202);
  await eventually(async () => {
    const list = await (await envhooks.api(`/api/projects/${REPO}/environments`)).json();
    return list.some((environment: { name: string }) => environment.name === "after-fuzz");
  });
}, 170_000);

it("thousands of random API bodies: 4xx naming the problem, never a 500", async () => {
  const routes = [
    ["POST", `/api/projects/${REPO}/integrations`],
    ["POST", "/api/tokens"],
    ["POST", "/api/hooks"],
    ["POST", "/api/activities/nope/progress"],
    ["POST", `/api/projects/${REPO}/environments/master/redeploy`],
    ["GET", `/api/projects/${REPO}/activities?limit=`],
  ] as const;
  const integration = fc.record(
    {
      type: fc.oneof(
        fc.constantFrom("webhook", "slack", "discord", "teams", "hipchat", "googlechat"),
        fc.jsonValue(),
      ),
      url: fc.oneof(fc.webUrl(), fc.string(), fc.jsonValue()),
      events: fc.oneof(fc.array(fc.string()), fc.jsonValue()),
      states: fc.oneof(fc.array(fc.constantFrom("pending", "complete", "nope")), fc.jsonValue()),
      retry_schedule: fc.oneof(fc.array(fc.integer()), fc.jsonValue()),
      timeout_ms: fc.oneof(fc.integer(), fc.jsonValue()),
      headers: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      fc.oneof(integration, fc.jsonValue(), fc.string()),
      fc.string(),
      async ([method, path], body, query) => {
        const response = await envhooks.app.request(
          method === "GET" ? `${path}${encodeURIComponent(query)}` : path,
          {
            method,
            headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
            ...(method === "GET" ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
          },
        );
        expect(record(response.status)).toBeLessThan(500);
        if (response.status === 400) {
          const error = (await response.json()).error;
          expect(error.message.length).toBeGreaterThan(0);
        }
      },
    ),
    { numRuns: 2500 },
  );
}, 170_000);
