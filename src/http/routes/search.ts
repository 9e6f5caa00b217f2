import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Database } from "../../store/database.ts";
import { searchDashboard } from "../../store/search.ts";
import { visibleProjectKeys } from "../require-api-token.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";

/** GET /api/search: what a term names (ids, a commit, a branch), among the caller's projects. */
export function searchRoutes(db: Database) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/search",
      summary: "Find an activity, delivery, GitHub delivery, integration, commit or branch",
      description:
        "Looks `q` up as an exact id (activity, integration, delivery — the `webhook-id` — or GitHub's " +
        "`X-GitHub-Delivery`), as a commit sha prefix (7 to 40 hex digits) and as a branch name, in the " +
        "projects the caller may read. The dashboard's search box goes straight to a single match.",
      request: {
        query: z.object({
          q: z
            .string()
            .trim()
            .min(1)
            .max(200)
            .describe("An id, a commit sha (or its first 7+ digits), or a branch name"),
        }),
      },
      responses: {
        200: jsonContent(
          z.object({ matches: z.array(z.record(z.string(), z.unknown())) }),
          "Every match: `kind`, `id`, `project`, `label` (and a branch's latest `activity_id`)",
        ),
      },
    }),
    async (c) => {
      const { q } = c.req.valid("query");
      return c.json({ matches: await searchDashboard(db, q, visibleProjectKeys(c.get("principal"))) }, 200);
    },
  );
  return app;
}
