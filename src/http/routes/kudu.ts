import { randomBytes } from "node:crypto";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { newActivityId } from "../../activity/activity-id.ts";
import { maskUrl } from "../../relay/delivery-request.ts";
import { DEFAULT_RETRY_SCHEDULE } from "../../relay/integration.schema.ts";
import type { Integration, WebhookIntegration } from "../../relay/integration.ts";
import { maskUrlCredentials } from "../../relay/mask-secrets.ts";
import { sendSample } from "../../relay/send-sample.ts";
import type { Delivery } from "../../store/deliveries.ts";
import {
  deleteIntegration,
  getIntegration,
  insertIntegration,
  listIntegrations,
} from "../../store/integrations.ts";
import { HttpError } from "../http-error.ts";
import { authorizeProject, callerAccess } from "../require-api-token.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";
import { checkIntegrationUrl, type IntegrationRouteDeps } from "./integrations.ts";

/** Kudu's one hook event: a deployment finished. */
const KUDU_EVENTS = ["PostDeployment"] as const;

const CreateHook = z.object({
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).max(2000),
  event: z.enum(KUDU_EVENTS, { error: "must be PostDeployment, Kudu's hook event" }),
  insecure_ssl: z.boolean().default(false),
});
const Hook = z.object({
  id: z.string(),
  url: z.string(),
  event: z.string(),
  insecure_ssl: z.boolean(),
  last_datetime: z.string().nullable(),
  last_status: z.string().nullable(),
  last_reason: z.string().nullable(),
  last_context: z.string().nullable(),
});
const HookParams = z.object({ id: z.string().regex(/^[a-z2-7]{13}$/, "must be a hook id") });

const isKuduHook = (integration: Integration): integration is WebhookIntegration =>
  integration.type === "webhook" && integration.config.format === "kudu";

/** A hook as Kudu shows it; a read-only token sees its URL's origin only (the rest may be a capability). */
const present = (hook: WebhookIntegration, access: "read" | "write" = "write") => ({
  id: hook.id,
  url: access === "write" ? maskUrlCredentials(hook.config.url) : maskUrl(hook.config.url),
  event: "PostDeployment",
  insecure_ssl: hook.config.insecure_ssl === true,
  last_datetime: hook.lastDatetime ? new Date(hook.lastDatetime).toISOString() : null,
  last_status: hook.lastStatus,
  last_reason: hook.lastReason,
  last_context: hook.lastContext,
});

/**
 * A hook as publish answers it: Kudu's summary of the attempt publish just made. The sample is a
 * test, so the hook's stored summary (GET) stays the last real delivery's.
 */
const afterPublish = (hook: WebhookIntegration, sample: Delivery) => {
  const delivered = sample.state === "delivered";
  return {
    ...present(hook),
    last_datetime: new Date(sample.updatedAt).toISOString(),
    last_status: delivered ? "OK" : sample.lastStatus === 429 ? "RateLimited" : "Failed",
    last_reason: delivered ? `HTTP ${sample.lastStatus}` : (sample.lastError ?? "failed"),
    last_context: sample.body.slice(0, 4096),
  };
};

/**
 * Kudu's hooks API, for the project of the project token used: each hook is a webhook
 * integration in the `kudu` dialect that receives completed activities.
 */
export function kuduRoutes(deps: IntegrationRouteDeps) {
  const { db, secrets } = deps;
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  /** The token's project; the operator's token has none. */
  function tokenProject(c: Context): string {
    const principal = c.get("principal");
    if (principal.kind !== "project") {
      throw new HttpError(
        403,
        "forbidden",
        "Kudu hooks belong to the project of a project token: create one with POST /api/tokens.",
      );
    }
    authorizeProject(c, principal.projectKey);
    return principal.projectKey;
  }

  async function projectHooks(projectKey: string): Promise<WebhookIntegration[]> {
    return (await listIntegrations(db, secrets, projectKey)).filter(isKuduHook);
  }

  async function requireHook(c: Context, id: string): Promise<WebhookIntegration> {
    const project = tokenProject(c);
    const hook = await getIntegration(db, secrets, id);
    if (!hook || hook.projectKey !== project || !isKuduHook(hook)) {
      throw new HttpError(404, "hook_not_found", `No hook ${id}.`);
    }
    return hook;
  }

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/hooks",
      summary: "Kudu: subscribe a URL to PostDeployment",
      request: { body: { content: { "application/json": { schema: CreateHook } }, required: true } },
      responses: {
        200: jsonContent(Hook, "The URL was hooked for this event already"),
        201: jsonContent(Hook, "The hook"),
        409: jsonContent(z.record(z.string(), z.unknown()), "The URL is hooked for a different event"),
      },
    }),
    async (c) => {
      const project = tokenProject(c);
      const body = c.req.valid("json");
      const sameUrl = (await listIntegrations(db, secrets, project)).filter(
        (integration) => integration.type === "webhook" && integration.config.url === body.url,
      );
      const existing = sameUrl.find(isKuduHook);
      if (existing) return c.json(present(existing), 200);
      if (sameUrl.length > 0) {
        throw new HttpError(409, "conflict", `${body.url} is already hooked for a different event.`);
      }
      await checkIntegrationUrl(body.url, deps.allowPrivateUrls);
      const hook = await insertIntegration(db, secrets, {
        id: newActivityId(),
        projectKey: project,
        type: "webhook",
        config: {
          url: body.url,
          events: ["*"],
          states: ["complete"],
          environments: ["*"],
          excluded_environments: [],
          format: "kudu",
          headers: {},
          insecure_ssl: body.insecure_ssl,
          timeout_ms: 15_000,
          retry_schedule: DEFAULT_RETRY_SCHEDULE,
        },
        secret: `whsec_${randomBytes(24).toString("base64")}`,
      });
      return c.json(present(hook as WebhookIntegration), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/hooks",
      summary: "Kudu: the project's hooks",
      responses: { 200: jsonContent(z.array(Hook), "Every hook, oldest first") },
    }),
    async (c) => {
      const project = tokenProject(c);
      const access = callerAccess(c, project);
      return c.json(
        (await projectHooks(project)).map((hook) => present(hook, access)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/hooks/{id}",
      summary: "Kudu: one hook, with its last attempt",
      request: { params: HookParams },
      responses: { 200: jsonContent(Hook, "The hook") },
    }),
    async (c) => {
      const hook = await requireHook(c, c.req.valid("param").id);
      return c.json(present(hook, callerAccess(c, hook.projectKey)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/hooks/{id}",
      summary: "Kudu: unsubscribe",
      request: { params: HookParams },
      responses: { 200: jsonContent(z.object({ deleted: z.string() }), "The deleted hook's id") },
    }),
    async (c) => {
      const hook = await requireHook(c, c.req.valid("param").id);
      await deleteIntegration(db, hook.id);
      return c.json({ deleted: hook.id }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/hooks/publish/{event}",
      summary: "Kudu: send a sample of this event to every hook now",
      request: { params: z.object({ event: z.enum(KUDU_EVENTS, { error: "must be PostDeployment" }) }) },
      responses: { 200: jsonContent(z.object({ published: z.array(Hook) }), "Each hook after its attempt") },
    }),
    async (c) => {
      const project = tokenProject(c);
      const published = [];
      for (const hook of await projectHooks(project)) {
        const { delivery } = await sendSample(deps, hook);
        published.push(afterPublish(hook, delivery));
      }
      return c.json({ published }, 200);
    },
  );

  return app;
}
