import { type OpenAPIHono, z } from "@hono/zod-openapi";

const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).nullable(),
    }),
  })
  .openapi("Error");

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorBody } },
});

/**
 * Serves the OpenAPI 3.1 description of every route at `/openapi.json` (from the zod schemas that
 * validate the requests); the dashboard renders it at `/docs` (src/web/pages/serve-api-reference.ts),
 * from envhooks itself. Routes that are not zod-validated
 * (probes, GitHub's signed deliveries) are described here.
 */
export function describeApi(app: OpenAPIHono, version: string): void {
  const registry = app.openAPIRegistry;
  registry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "ENVHOOKS_API_TOKEN",
  });
  const status = z.object({ status: z.string() });
  registry.registerPath({
    method: "get",
    path: "/healthz",
    summary: "Liveness: 200 while the process runs",
    security: [],
    responses: { 200: { description: "Alive", content: { "application/json": { schema: status } } } },
  });
  registry.registerPath({
    method: "get",
    path: "/readyz",
    summary: "Readiness: 200 once the database, the queue and the workers are up",
    security: [],
    responses: {
      200: { description: "Ready", content: { "application/json": { schema: status } } },
      503: { description: "Starting or stopping", content: { "application/json": { schema: status } } },
    },
  });
  registry.registerPath({
    method: "get",
    path: "/metrics",
    summary:
      "Prometheus metrics: events, activities, delivery attempts and latency, queue depth, GitHub API errors",
    security: [],
    responses: {
      200: {
        description: "Prometheus text exposition format",
        content: { "text/plain": { schema: z.string() } },
      },
    },
  });
  registry.registerPath({
    method: "post",
    path: "/api/github/webhooks",
    summary: "GitHub deliveries, signed with WEBHOOK_SECRET",
    description:
      "The raw body is verified against X-Hub-Signature-256, stored, and answered 202 once committed; " +
      "the environment lifecycle runs afterwards.",
    security: [],
    request: {
      headers: z.object({
        "x-github-event": z.string(),
        "x-github-delivery": z.string(),
        "x-hub-signature-256": z.string(),
      }),
      body: {
        required: true,
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
    },
    responses: {
      200: { description: "A redelivery: already stored, nothing changes" },
      202: { description: "Stored; it will be applied" },
      400: errorResponse("A missing header or a body that is not JSON"),
      401: errorResponse("A missing or wrong signature; nothing is stored"),
      413: errorResponse("Over GitHub's 25 MB"),
      503: errorResponse("WEBHOOK_SECRET is unset, or the database is unavailable"),
    },
  });
  const config = {
    openapi: "3.1.0",
    info: {
      title: "envhooks",
      version,
      description:
        "Environment lifecycle for every branch and pull request, relayed to webhooks and chat channels. " +
        "`/api/*` and `/rest/*` need `Authorization: Bearer $ENVHOOKS_API_TOKEN`.",
    },
    security: [{ bearer: [] }],
  };
  app.get("/openapi.json", (c) => c.json(describeParameters(app.getOpenAPI31Document(config))));
}

/** What the parameters every route shares mean; a route's own `.describe()` wins. */
const PARAMETERS: Record<string, string> = {
  "path owner": "The owner on GitHub (a user or an organisation), as in `owner/repo`",
  "path repo": "The repository's name, as on GitHub",
  "path name": "The environment's name (URL-encoded) or machine name",
  "path delivery_id": "GitHub's delivery id (`X-GitHub-Delivery`)",
  "path event": "The event to publish (Kudu's hook event name)",
  "query limit": "How many items a page holds at most",
  "query cursor": "Where the next page starts: the `next_cursor` of the previous page",
  "query status": "Only deliveries in this state: `pending`, `delivered` or `failed`",
  "query since": "Only deliveries created at or after this time (ISO 8601, with an offset or `Z`)",
  "header x-github-event": "The GitHub event's name, e.g. `push`",
  "header x-github-delivery": "GitHub's unique id of this delivery",
  "header x-hub-signature-256": "`sha256=` and the HMAC of the raw body with WEBHOOK_SECRET",
};

/** `{id}` means what the path segment before it names. */
const IDS: Record<string, string> = {
  activities: "The activity's id (13 characters, `a`-`z` and `2`-`7`)",
  integrations: "The integration's id (13 characters)",
  deliveries: "The delivery's id, its `webhook-id` (`msg_…`)",
  tokens: "The token's id (13 characters)",
  hooks: "The hook's id",
};

type Document = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;
interface Parameter {
  name: string;
  in: string;
  description?: string;
}

/** Gives each parameter without a description the one its name (and, for `{id}`, its path) implies. */
export function describeParameters(document: Document): Document {
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, { parameters?: Parameter[] }>)) {
      if (!operation || typeof operation !== "object" || !Array.isArray(operation.parameters)) continue;
      for (const parameter of operation.parameters) {
        if (parameter.description?.trim()) continue;
        const segment = /\/([a-z-]+)\/\{id\}/.exec(path)?.[1] ?? "";
        const description =
          parameter.in === "path" && parameter.name === "id"
            ? IDS[segment]
            : PARAMETERS[`${parameter.in} ${parameter.name}`];
        if (description) parameter.description = description;
      }
    }
  }
  return document;
}
