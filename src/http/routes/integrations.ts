import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { PgBoss } from "pg-boss";
import { newActivityId } from "../../activity/activity-id.ts";
import { enqueueKey } from "../../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../../queue/queues.ts";
import type { AttemptDeps } from "../../relay/attempt-delivery.ts";
import { createIntegrationSchema, updateIntegrationSchema } from "../../relay/integration.schema.ts";
import type { Integration } from "../../relay/integration.ts";
import { changedSettings, foreignFields, newSettings } from "../../relay/integration-settings.ts";
import { presentDelivery, presentIntegration } from "../../relay/present-integration.ts";
import { sendSample } from "../../relay/send-sample.ts";
import { assertPublicUrl, BlockedAddressError } from "../../relay/ssrf-guard.ts";
import type { Database } from "../../store/database.ts";
import { getDelivery, listAttempts, listDeliveries, redeliver } from "../../store/deliveries.ts";
import {
  deleteIntegration,
  getIntegration,
  insertIntegration,
  listIntegrations,
  setIntegrationStatus,
  updateIntegration,
} from "../../store/integrations.ts";
import { projectKey } from "../../store/projects.ts";
import type { SecretBox } from "../../store/secret-box.ts";
import { HttpError } from "../http-error.ts";
import { authorizeProject } from "../require-api-token.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";

export interface IntegrationRouteDeps extends AttemptDeps {
  db: Database;
  boss: PgBoss;
  /** ENVHOOKS_ALLOW_PRIVATE_URLS: accept receivers on loopback and private networks. */
  allowPrivateUrls: boolean;
  /** Encrypts integrations' secrets, URLs and headers at rest. */
  secrets: SecretBox;
}

const Json = z.record(z.string(), z.unknown());
const ProjectParams = z.object({ owner: z.string().min(1).max(100), repo: z.string().min(1).max(100) });
const IntegrationParams = ProjectParams.extend({
  id: z.string().regex(/^[a-z2-7]{13}$/, "must be an integration id"),
});
const DeliveryParams = z.object({
  id: z.string().regex(/^msg_[0-9a-z]{26}$/, "must be a delivery id (msg_…)"),
});
const DeliveryState = z.enum(["pending", "delivered", "failed"]);
const Page = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.coerce.number().int().positive().optional(),
  status: DeliveryState.optional(),
});

const integrationPath = "/api/projects/{owner}/{repo}/integrations/{id}";

/** Integrations (Platform.sh's model) and their delivery log. */
export function integrationRoutes(deps: IntegrationRouteDeps) {
  const { db, secrets } = deps;
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  async function requireIntegration(params: {
    owner: string;
    repo: string;
    id: string;
  }): Promise<Integration> {
    const integration = await getIntegration(db, secrets, params.id);
    if (!integration || integration.projectKey !== projectKey(`${params.owner}/${params.repo}`)) {
      throw new HttpError(
        404,
        "integration_not_found",
        `No integration ${params.id} in ${params.owner}/${params.repo}.`,
      );
    }
    return integration;
  }

  /** A delivery the caller may see: 404 when there is none, 403 when it is another project's. */
  async function requireDelivery(c: Context, id: string) {
    const delivery = await getDelivery(db, id);
    const integration = delivery && (await getIntegration(db, secrets, delivery.integrationId));
    if (!delivery || !integration) throw new HttpError(404, "delivery_not_found", `No delivery ${id}.`);
    authorizeProject(c, integration.projectKey);
    return delivery;
  }

  const checkUrl = (url: string | undefined) => checkIntegrationUrl(url, deps.allowPrivateUrls);

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/projects/{owner}/{repo}/integrations",
      summary: "Add an integration",
      request: {
        params: ProjectParams,
        body: { content: { "application/json": { schema: createIntegrationSchema } }, required: true },
      },
      responses: { 201: jsonContent(Json, "The integration; `secret` in clear this once") },
    }),
    async (c) => {
      const { owner, repo } = c.req.valid("param");
      const settings = newSettings(c.req.valid("json"));
      await checkUrl(settings.url);
      const integration = await insertIntegration(db, secrets, {
        id: newActivityId(),
        projectKey: projectKey(`${owner}/${repo}`),
        type: settings.type,
        config: settings.config,
        secret: settings.secret,
      });
      const presented = presentIntegration(integration);
      return c.json(settings.reveal ? { ...presented, secret: settings.reveal } : presented, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/projects/{owner}/{repo}/integrations",
      summary: "List a project's integrations",
      request: { params: ProjectParams },
      responses: { 200: jsonContent(z.array(Json), "Every integration, oldest first") },
    }),
    async (c) => {
      const { owner, repo } = c.req.valid("param");
      const integrations = await listIntegrations(db, secrets, projectKey(`${owner}/${repo}`));
      return c.json(integrations.map(presentIntegration), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: integrationPath,
      summary: "One integration, with Kudu's summary of its last attempt",
      request: { params: IntegrationParams },
      responses: { 200: jsonContent(Json, "The integration") },
    }),
    async (c) => c.json(presentIntegration(await requireIntegration(c.req.valid("param"))), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: integrationPath,
      summary: "Change an integration; a new `secret` is signed with alongside the old one for 24 h",
      request: {
        params: IntegrationParams,
        body: { content: { "application/json": { schema: updateIntegrationSchema } }, required: true },
      },
      responses: { 200: jsonContent(Json, "The integration") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param"));
      const change = c.req.valid("json");
      const foreign = foreignFields(integration.type, change);
      if (foreign.length > 0) {
        const message = `not a setting of ${integration.type} integrations`;
        throw new HttpError(400, "invalid_parameters", `Invalid ${foreign.join(", ")} (${message}).`, {
          fields: foreign.map((field) => ({ field, message })),
        });
      }
      const next = changedSettings(integration, change);
      await checkUrl(next.url);
      const updated = await updateIntegration(db, secrets, integration, next);
      if (!updated) throw new HttpError(404, "integration_not_found", `No integration ${integration.id}.`);
      return c.json(presentIntegration(updated), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: integrationPath,
      summary: "Delete an integration and its delivery log",
      request: { params: IntegrationParams },
      responses: { 200: jsonContent(Json, "What was deleted") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param"));
      await deleteIntegration(db, integration.id);
      return c.json({ deleted: integration.id }, 200);
    },
  );

  for (const [action, status] of [
    ["pause", "paused"],
    ["resume", "active"],
  ] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `${integrationPath}/${action}`,
        summary:
          action === "pause"
            ? "Pause: deliveries are kept, not sent"
            : "Resume (or re-enable): kept deliveries are sent, oldest first",
        request: { params: IntegrationParams },
        responses: { 200: jsonContent(Json, "The integration") },
      }),
      async (c) => {
        const integration = await requireIntegration(c.req.valid("param"));
        await setIntegrationStatus(db, integration.id, status);
        if (status === "active") await enqueueKey(deps.boss, DELIVERIES_QUEUE, integration.id);
        const updated = await getIntegration(db, secrets, integration.id);
        return c.json(presentIntegration(updated ?? integration), 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "post",
      path: `${integrationPath}/test`,
      summary: "Send a sample activity now and return the attempt",
      request: { params: IntegrationParams },
      responses: { 200: jsonContent(Json, "The test delivery with its attempt") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param"));
      const { delivery, attempts } = await sendSample(deps, integration);
      return c.json(presentDelivery(delivery, attempts), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: `${integrationPath}/deliveries`,
      summary: "An integration's deliveries, newest first",
      request: { params: IntegrationParams, query: Page },
      responses: {
        200: jsonContent(z.object({ items: z.array(Json), next_cursor: z.number().nullable() }), "One page"),
      },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param"));
      const { limit, cursor, status } = c.req.valid("query");
      const page = await listDeliveries(db, integration.id, { limit, before: cursor, state: status });
      return c.json(
        { items: page.deliveries.map((d) => presentDelivery(d)), next_cursor: page.next ?? null },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${integrationPath}/redeliver`,
      summary: "Send deliveries again (by default the failed ones), oldest first",
      request: {
        params: IntegrationParams,
        query: z.object({
          status: z.enum(["delivered", "failed"]).default("failed"),
          since: z.iso.datetime({ offset: true }).optional(),
        }),
      },
      responses: { 202: jsonContent(z.object({ redelivered: z.number() }), "How many were queued") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param"));
      const { status, since } = c.req.valid("query");
      const reset = await redeliver(db, {
        integrationId: integration.id,
        state: status,
        since: since ? new Date(since) : undefined,
      });
      if (reset.length > 0) await enqueueKey(deps.boss, DELIVERIES_QUEUE, integration.id);
      return c.json({ redelivered: reset.length }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/deliveries/{id}",
      summary: "One delivery with every attempt",
      request: { params: DeliveryParams },
      responses: { 200: jsonContent(Json, "The delivery") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const delivery = await requireDelivery(c, id);
      return c.json(presentDelivery(delivery, await listAttempts(db, id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/deliveries/{id}/redeliver",
      summary: "Send one delivery again, with the same webhook-id",
      request: { params: DeliveryParams },
      responses: { 202: jsonContent(Json, "The delivery, pending again") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await requireDelivery(c, id);
      const [reset] = await redeliver(db, { id });
      if (!reset) throw new HttpError(404, "delivery_not_found", `No delivery ${id}.`);
      await enqueueKey(deps.boss, DELIVERIES_QUEUE, reset.integrationId);
      const delivery = await getDelivery(db, id);
      return c.json(delivery ? presentDelivery(delivery) : { id }, 202);
    },
  );

  return app;
}

/** Refuses (400) a URL on a non-public address, unless ENVHOOKS_ALLOW_PRIVATE_URLS. */
export async function checkIntegrationUrl(url: string | undefined, allowPrivateUrls: boolean) {
  if (!url || allowPrivateUrls) return;
  try {
    await assertPublicUrl(url);
  } catch (error) {
    if (!(error instanceof BlockedAddressError)) throw error;
    throw new HttpError(400, "invalid_parameters", `Invalid url (${error.message}).`, {
      fields: [{ field: "url", message: error.message }],
    });
  }
}
