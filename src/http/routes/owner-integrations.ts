import { OpenAPIHono, z } from "@hono/zod-openapi";
import { listOwnerIntegrations } from "../../store/integrations.ts";
import { rejectInvalid } from "../validation.ts";
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
  return app;
}
