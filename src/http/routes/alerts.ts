import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Database } from "../../store/database.ts";
import { listOwnerAlerts } from "../../store/integration-alerts.ts";
import { authorizeOperator } from "../require-api-token.ts";
import { rejectInvalid } from "../validation.ts";

const AlertQuery = z.object({
  owner: z
    .string()
    .max(100)
    .regex(/^[A-Za-z0-9-]+$/, "must be a GitHub user or organisation name")
    .optional()
    .describe("Only this owner's integrations' alerts"),
  limit: z.coerce.number().int().min(1).max(100).default(20).describe("Alerts per page (1–100)"),
  cursor: z.coerce.number().int().positive().optional().describe("The `next_cursor` of the previous page"),
});

const listAlertsRoute = createRoute({
  method: "get",
  path: "/api/alerts",
  summary: "Owner-wide integrations' alerts, newest first (the operator's token only)",
  description:
    "An owner-wide integration's failures (a delivery failed for good, the integration disabled) are kept at owner level, never as a project's activities: each alert is shaped like an activity, with `owner` and `alert` (the integration, the count of alerts in its 10-minute window, `first_at` and `last_at`).",
  request: { query: AlertQuery },
  responses: {
    200: {
      description: "One page of alerts; `next_cursor` is null on the last page",
      content: {
        "application/json": {
          schema: z.object({
            items: z.array(z.record(z.string(), z.unknown())),
            next_cursor: z.number().nullable(),
          }),
        },
      },
    },
  },
});

/** `GET /api/alerts`: what owner-wide integrations failed at, for the operator alone. */
export function alertRoutes(db: Database) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });
  app.openapi(listAlertsRoute, async (c) => {
    // Their text may name a receiver's resolved addresses: no project's reader sees them.
    authorizeOperator(c, "read owner-wide integrations' alerts");
    const { owner, limit, cursor } = c.req.valid("query");
    const page = await listOwnerAlerts(db, { owner, limit, before: cursor });
    return c.json({ items: page.alerts, next_cursor: page.next ?? null }, 200);
  });
  return app;
}
