import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { toActivityEnvironment } from "../../intake/apply-event.ts";
import { getActivity, listActivities } from "../../store/activities.ts";
import type { Database } from "../../store/database.ts";
import { listEnvironments } from "../../store/environments.ts";
import { listEvents } from "../../store/github-events.ts";
import { findProject, projectKey } from "../../store/projects.ts";
import { HttpError } from "../http-error.ts";
import { authorizeProject } from "../require-api-token.ts";
import { rejectInvalid } from "../validation.ts";

const ProjectParams = z.object({
  owner: z.string().min(1).max(100).describe("Repository owner (user or organisation)"),
  repo: z.string().min(1).max(100).describe("Repository name"),
});

const ActivityQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe("Activities per page (1–100)"),
  cursor: z.coerce.number().int().positive().optional().describe("The `next_cursor` of the previous page"),
  type: z.string().min(1).optional().describe("Only this activity type, e.g. environment.push"),
  state: z.enum(["pending", "in_progress", "complete", "cancelled"]).optional().describe("Only this state"),
  environment: z.string().min(1).optional().describe("Only activities of this environment"),
});

const Json = z.record(z.string(), z.unknown());

const listEnvironmentsRoute = createRoute({
  method: "get",
  path: "/api/projects/{owner}/{repo}/environments",
  summary: "A project's environments",
  request: { params: ProjectParams },
  responses: {
    200: {
      description: "Every environment, the default branch's first",
      content: { "application/json": { schema: z.array(Json) } },
    },
  },
});

const listActivitiesRoute = createRoute({
  method: "get",
  path: "/api/projects/{owner}/{repo}/activities",
  summary: "A project's activities, newest first",
  request: { params: ProjectParams, query: ActivityQuery },
  responses: {
    200: {
      description: "One page of activities; `next_cursor` is null on the last page",
      content: {
        "application/json": {
          schema: z.object({ items: z.array(Json), next_cursor: z.number().nullable() }),
        },
      },
    },
  },
});

const PageQuery = ActivityQuery.pick({ limit: true, cursor: true });

const listEventsRoute = createRoute({
  method: "get",
  path: "/api/projects/{owner}/{repo}/github-events",
  summary: "The GitHub deliveries received for a project, newest first, with what became of each",
  request: { params: ProjectParams, query: PageQuery },
  responses: {
    200: {
      description:
        "One page of deliveries: state (pending, processed, failed), attempts, last error and outcome",
      content: {
        "application/json": {
          schema: z.object({ items: z.array(Json), next_cursor: z.number().nullable() }),
        },
      },
    },
  },
});

const getActivityRoute = createRoute({
  method: "get",
  path: "/api/activities/{id}",
  summary: "One activity",
  request: {
    params: z.object({ id: z.string().regex(/^[a-z2-7]{13}$/, "must be a 13-character activity id") }),
  },
  responses: { 200: { description: "The activity", content: { "application/json": { schema: Json } } } },
});

/** The read API: environments and activities (Bearer auth is applied by the server). */
export function projectRoutes(db: Database) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  app.openapi(listEnvironmentsRoute, async (c) => {
    const { owner, repo } = c.req.valid("param");
    const project = await requireProject(db, `${owner}/${repo}`);
    const environments = await listEnvironments(db, project.id);
    return c.json(
      environments.map((environment) => ({
        ...toActivityEnvironment(environment, project),
        previous_commit: environment.previousCommit,
        last_activity_id: environment.lastActivityId,
      })),
      200,
    );
  });

  app.openapi(listActivitiesRoute, async (c) => {
    const { owner, repo } = c.req.valid("param");
    const query = c.req.valid("query");
    const project = await requireProject(db, `${owner}/${repo}`);
    const page = await listActivities(db, project.id, { ...query, before: query.cursor });
    return c.json({ items: page.activities, next_cursor: page.next ?? null }, 200);
  });

  app.openapi(listEventsRoute, async (c) => {
    const { owner, repo } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const page = await listEvents(db, projectKey(`${owner}/${repo}`), { limit, before: cursor });
    const items = page.events.map((event) => ({
      delivery_id: event.deliveryId,
      event: event.name,
      action: event.action,
      state: event.state,
      attempts: event.attempts,
      last_error: event.lastError,
      outcome: event.outcome,
      received_at: new Date(event.receivedAt).toISOString(),
      processed_at: event.processedAt ? new Date(event.processedAt).toISOString() : null,
    }));
    return c.json({ items, next_cursor: page.next ?? null }, 200);
  });

  app.openapi(getActivityRoute, async (c) => {
    const activity = await getActivity(db, c.req.valid("param").id);
    if (!activity) throw new HttpError(404, "not_found", `No activity ${c.req.valid("param").id}.`);
    authorizeProject(c, activity.project);
    return c.json(activity, 200);
  });

  return app;
}

async function requireProject(db: Database, fullName: string) {
  const project = await findProject(db, fullName);
  if (!project) {
    throw new HttpError(
      404,
      "project_not_found",
      `No project ${fullName}: envhooks has received no event from it yet.`,
    );
  }
  return project;
}
