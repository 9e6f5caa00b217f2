import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { countDeliveries } from "../../store/dashboard-queries.ts";
import { getIntegration, listOwnerIntegrations } from "../../store/integrations.ts";
import { HttpError } from "../http-error.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";
import { addIntegrationRoutes, type IntegrationRouteDeps } from "./integrations.ts";

const OwnerParams = z.object({
  owner: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9-]+$/, "must be a GitHub user or organisation name"),
});

/** The key owner-wide integrations are stored under: no project has it. */
export const ownerScopeKey = (owner: string) => `${owner.toLowerCase()}/*`;

/**
 * Owner-wide integrations (`/api/owners/{owner}/integrations`): each receives the activities of
 * every repository of the owner (or those its `projects` globs name), with the routes, filters,
 * log, retries, pause and dialects of a project's integrations. Operator only (create-server.ts
 * guards `/api/owners/*`): a project token speaks for one repository, not for its owner.
 */
export function ownerIntegrationRoutes(deps: IntegrationRouteDeps) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });
  addIntegrationRoutes(app, deps, {
    collection: "/api/owners/{owner}/integrations",
    params: OwnerParams,
    noun: "an owner-wide integration",
    whose: "an owner's",
    key: (params) => ownerScopeKey(params.owner ?? ""),
    owner: (params) => (params.owner ?? "").toLowerCase(),
    name: (params) => `owner ${params.owner}`,
    list: (params) => listOwnerIntegrations(deps.db, deps.secrets, (params.owner ?? "").toLowerCase()),
  });
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/owners/{owner}/integrations/{id}/delivery-counts",
      summary:
        "An owner-wide integration's deliveries by state, since a time: how many a redeliver of the failed ones would send, and its progress",
      request: {
        params: OwnerParams.extend({ id: z.string().regex(/^[a-z2-7]{13}$/, "must be an integration id") }),
        query: z.object({ since: z.iso.datetime({ offset: true }).optional() }),
      },
      responses: {
        200: jsonContent(
          z.object({ pending: z.number(), delivered: z.number(), failed: z.number() }),
          "Deliveries created since `since`, by state",
        ),
      },
    }),
    async (c) => {
      const { owner, id } = c.req.valid("param");
      const { since } = c.req.valid("query");
      const integration = await getIntegration(deps.db, deps.secrets, id);
      if (integration?.projectKey !== ownerScopeKey(owner))
        throw new HttpError(404, "integration_not_found", `No integration ${id} in owner ${owner}.`);
      return c.json(await countDeliveries(deps.db, id, since ? new Date(since) : undefined), 200);
    },
  );
  return app;
}
