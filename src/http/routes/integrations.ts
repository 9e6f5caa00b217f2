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
import { getActivity } from "../../store/activities.ts";
import type { Database } from "../../store/database.ts";
import { getDelivery, listAttempts, listDeliveries, redeliver } from "../../store/deliveries.ts";
import { integrationHealth } from "../../store/integration-health.ts";
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
import { authorizeProject, callerAccess } from "../require-api-token.ts";
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
const DeliveryParams = z.object({
  id: z.string().regex(/^msg_[0-9a-z]{26}$/, "must be a delivery id (msg_…)"),
});
const DeliveryState = z.enum(["pending", "delivered", "failed"]);
const Page = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.coerce.number().int().positive().optional(),
  status: DeliveryState.optional(),
  event: z
    .string()
    .regex(/^[a-z_]+(\.[a-z_]+)*$/, "must be an activity type, e.g. environment.push")
    .max(100)
    .optional()
    .openapi({ description: "Only deliveries of this activity type" }),
  status_code: z.coerce
    .number()
    .int()
    .refine(
      (code) => code === 0 || (code >= 100 && code <= 599),
      "must be an HTTP status (100-599), or 0 for no answer",
    )
    .optional()
    .openapi({ description: "Only deliveries whose last answer had this HTTP status; 0: no answer" }),
});

/** Integrations (Platform.sh's model) and their delivery log. */
export function integrationRoutes(deps: IntegrationRouteDeps) {
  const { db, secrets } = deps;
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  addIntegrationRoutes(app, deps, {
    collection: "/api/projects/{owner}/{repo}/integrations",
    params: ProjectParams,
    noun: "an integration",
    whose: "a project's",
    key: (params) => projectKey(`${params.owner}/${params.repo}`),
    name: (params) => `${params.owner}/${params.repo}`,
    list: (params) => listIntegrations(db, secrets, projectKey(`${params.owner}/${params.repo}`)),
    refuse(body) {
      if ("projects" in body && body.projects !== undefined) {
        const message = "is a filter of owner-wide integrations (/api/owners/{owner}/integrations)";
        throw new HttpError(400, "invalid_parameters", `Invalid projects (${message}).`, {
          fields: [{ field: "projects", message }],
        });
      }
    },
  });

  /** A delivery the caller may see: 404 when there is none, 403 when it is another project's. */
  async function requireDelivery(c: Context, id: string) {
    const delivery = await getDelivery(db, id);
    const integration = delivery && (await getIntegration(db, secrets, delivery.integrationId));
    if (!delivery || !integration) throw new HttpError(404, "delivery_not_found", `No delivery ${id}.`);
    authorizeProject(c, integration.projectKey);
    return { delivery, integration, access: callerAccess(c, integration.projectKey) };
  }

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
      const { delivery, integration, access } = await requireDelivery(c, id);
      // Where the delivery belongs, for links back: its activity's project (an owner-wide
      // integration's deliveries come from many), else the integration's.
      const activity = delivery.test ? undefined : await getActivity(db, delivery.activityId);
      const presented = presentIntegration(integration, access);
      return c.json(
        {
          ...presentDelivery(delivery, await listAttempts(db, id), access),
          project: activity?.project ?? (integration.owner ? null : integration.projectKey),
          integration: {
            id: integration.id,
            type: integration.type,
            display_name: presented.display_name,
            owner: integration.owner,
          },
        },
        200,
      );
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

/** Path parameters, as validated. */
type Params = Record<string, string>;

/** Where integrations live: a project's, or an owner's (owner-wide). */
export interface IntegrationScope {
  /** The collection's path, e.g. `/api/projects/{owner}/{repo}/integrations`. */
  collection: string;
  /** Its path parameters. */
  params: z.ZodObject<Record<string, z.ZodString>>;
  /** "an integration", "an owner-wide integration". */
  noun: string;
  /** "a project's", "an owner's". */
  whose: string;
  /** The stored project key of the scope's integrations. */
  key(params: Params): string;
  /** Owner-wide: the owner (lower case). */
  owner?(params: Params): string;
  /** The scope's name in messages. */
  name(params: Params): string;
  list(params: Params): Promise<Integration[]>;
  /** Refuses (throws) a body field the scope does not take. */
  refuse?(body: object): void;
}

/**
 * The routes of one scope's integrations: add, list, get, change, delete, pause and resume, test,
 * deliveries and redeliver. Project and owner-wide integrations share them (and their behaviour).
 */
export function addIntegrationRoutes(app: OpenAPIHono, deps: IntegrationRouteDeps, scope: IntegrationScope) {
  const { db, secrets } = deps;
  const itemPath = `${scope.collection}/{id}`;
  const itemParams = scope.params.extend({
    id: z.string().regex(/^[a-z2-7]{13}$/, "must be an integration id"),
  });

  async function requireIntegration(params: Params): Promise<Integration> {
    const integration = await getIntegration(db, secrets, params.id ?? "");
    if (!integration || integration.projectKey !== scope.key(params)) {
      throw new HttpError(
        404,
        "integration_not_found",
        `No integration ${params.id} in ${scope.name(params)}.`,
      );
    }
    return integration;
  }

  const checkUrl = (url: string | undefined) => checkIntegrationUrl(url, deps.allowPrivateUrls);

  app.openapi(
    createRoute({
      method: "post",
      path: scope.collection,
      summary: `Add ${scope.noun}`,
      request: {
        params: scope.params,
        body: { content: { "application/json": { schema: createIntegrationSchema } }, required: true },
      },
      responses: { 201: jsonContent(Json, "The integration; `secret` in clear this once") },
    }),
    async (c) => {
      const params = c.req.valid("param") as Params;
      const body = c.req.valid("json");
      scope.refuse?.(body);
      const settings = newSettings(body);
      await checkUrl(settings.url);
      const integration = await insertIntegration(db, secrets, {
        id: newActivityId(),
        projectKey: scope.key(params),
        owner: scope.owner?.(params),
        type: settings.type,
        config: settings.config,
        secret: settings.secret,
        name: settings.name,
      });
      const presented = presentIntegration(integration);
      return c.json(settings.reveal ? { ...presented, secret: settings.reveal } : presented, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: scope.collection,
      summary: `List ${scope.whose} integrations`,
      request: { params: scope.params },
      responses: { 200: jsonContent(z.array(Json), "Every integration, oldest first") },
    }),
    async (c) => {
      const params = c.req.valid("param") as Params;
      const access = callerAccess(c, scope.key(params));
      const integrations = await scope.list(params);
      return c.json(
        integrations.map((integration) => presentIntegration(integration, access)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: itemPath,
      summary: "One integration, with Kudu's summary of its last attempt",
      request: { params: itemParams },
      responses: { 200: jsonContent(Json, "The integration") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param") as Params);
      return c.json(presentIntegration(integration, callerAccess(c, integration.projectKey)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: itemPath,
      summary: "Change an integration; a new `secret` is signed with alongside the old one for 24 h",
      request: {
        params: itemParams,
        body: { content: { "application/json": { schema: updateIntegrationSchema } }, required: true },
      },
      responses: { 200: jsonContent(Json, "The integration") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param") as Params);
      const change = c.req.valid("json");
      scope.refuse?.(change);
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
      path: itemPath,
      summary: "Delete an integration and its delivery log",
      request: { params: itemParams },
      responses: { 200: jsonContent(Json, "What was deleted") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param") as Params);
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
        path: `${itemPath}/${action}`,
        summary:
          action === "pause"
            ? "Pause: deliveries are kept, not sent"
            : "Resume (or re-enable): kept deliveries are sent, oldest first",
        request: { params: itemParams },
        responses: { 200: jsonContent(Json, "The integration") },
      }),
      async (c) => {
        const integration = await requireIntegration(c.req.valid("param") as Params);
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
      path: `${itemPath}/test`,
      summary: "Send a sample activity now and return the attempt",
      request: { params: itemParams },
      responses: { 200: jsonContent(Json, "The test delivery with its attempt") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param") as Params);
      const { delivery, attempts } = await sendSample(deps, integration);
      return c.json(presentDelivery(delivery, attempts), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: `${itemPath}/deliveries`,
      summary: "An integration's deliveries, newest first",
      request: { params: itemParams, query: Page },
      responses: {
        200: jsonContent(z.object({ items: z.array(Json), next_cursor: z.number().nullable() }), "One page"),
      },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param") as Params);
      const { limit, cursor, status, event, status_code } = c.req.valid("query");
      const page = await listDeliveries(db, integration.id, {
        limit,
        before: cursor,
        state: status,
        event,
        statusCode: status_code,
      });
      return c.json(
        { items: page.deliveries.map((d) => presentDelivery(d)), next_cursor: page.next ?? null },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: `${itemPath}/health`,
      summary:
        "An integration's last 24 hours: deliveries per hour by state (tests left out) and attempts' latency p50/p95",
      request: { params: itemParams },
      responses: { 200: jsonContent(Json, "Counts, 24 hourly buckets oldest first, latency in ms") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param") as Params);
      const health = await integrationHealth(db, integration.id);
      return c.json(
        {
          since: health.since.toISOString(),
          counts: health.counts,
          hours: health.hours.map((hour) => ({ ...hour, start: hour.start.toISOString() })),
          latency_ms: health.latency,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${itemPath}/redeliver`,
      summary: "Send deliveries again (by default the failed ones), oldest first",
      request: {
        params: itemParams,
        query: z.object({
          status: z.enum(["delivered", "failed"]).default("failed"),
          since: z.iso.datetime({ offset: true }).optional(),
        }),
      },
      responses: { 202: jsonContent(z.object({ redelivered: z.number() }), "How many were queued") },
    }),
    async (c) => {
      const integration = await requireIntegration(c.req.valid("param") as Params);
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
