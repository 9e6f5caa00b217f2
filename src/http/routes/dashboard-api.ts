import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { presentDelivery } from "../../relay/present-integration.ts";
import { getActivity } from "../../store/activities.ts";
import {
  activitiesOfGithubDelivery,
  countDeliveries,
  findEventPayload,
  integrationIdsOf,
  integrationProject,
  listActivityDeliveries,
  listProjectOverviews,
  type ProjectOverview,
} from "../../store/dashboard-queries.ts";
import type { Database } from "../../store/database.ts";
import { projectKey } from "../../store/projects.ts";
import { HttpError } from "../http-error.ts";
import { authorizeProject, callerAccess, visibleProjectKeys } from "../require-api-token.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";
import { redeliveryOf } from "./github-event-redeliver.ts";

const Json = z.record(z.string(), z.unknown());
const ProjectParams = z.object({ owner: z.string().min(1).max(100), repo: z.string().min(1).max(100) });
const ActivityId = z.string().regex(/^[a-z2-7]{13}$/, "must be a 13-character activity id");

const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null);

function presentOverview(project: ProjectOverview) {
  return {
    project: project.fullName,
    key: project.key,
    /** Null until the first event names it (a repository listed by its installation). */
    default_branch: project.defaultBranch || null,
    /** `inactive`: the repository was deleted or left the installation; its history is kept. */
    status: project.status,
    /** True before the project's first activity (listed by its installation, no push yet). */
    no_event_yet: project.noEventYet,
    environment_ttl: project.environmentTtl,
    last_activity: project.lastActivity && {
      id: project.lastActivity.id,
      type: project.lastActivity.type,
      state: project.lastActivity.state,
      result: project.lastActivity.result,
      created_at: iso(project.lastActivity.createdAt),
    },
    environments: {
      total: project.environments,
      active: project.activeEnvironments,
      by_status: project.environmentStates,
    },
    /** The last 24 hours' deliveries per hour (oldest first; hours with none left out). */
    delivery_hours: project.deliveryHours.map((hour) => ({
      start: new Date(hour.hour * 3_600_000).toISOString(),
      delivered: hour.delivered,
      failed: hour.failed,
    })),
    integrations: {
      total: project.integrations,
      failing: project.failingIntegrations,
      disabled: project.disabledIntegrations,
      paused: project.pausedIntegrations,
    },
    github_events: { pending: project.eventsPending, failed: project.eventsFailed },
  };
}

/**
 * What the dashboard reads beyond the rest of the API (and any client may): projects with their
 * state at a glance, a GitHub delivery's payload, an activity's deliveries, and how many deliveries a
 * bulk redeliver would send (its dry run, and its progress afterwards).
 */
export function dashboardApiRoutes(db: Database) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/projects",
      summary:
        "Projects the caller may see, with the newest activity that is no alert (`last_activity`) and counts that need attention",
      responses: { 200: jsonContent(z.array(Json), "Every visible project, by name") },
    }),
    async (c) => {
      const projects = await listProjectOverviews(db, visibleProjectKeys(c.get("principal")));
      return c.json(projects.map(presentOverview), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/projects/{owner}/{repo}",
      summary: "One project at a glance",
      request: { params: ProjectParams },
      responses: { 200: jsonContent(Json, "The project") },
    }),
    async (c) => {
      const { owner, repo } = c.req.valid("param");
      const [project] = await listProjectOverviews(db, [projectKey(`${owner}/${repo}`)]);
      if (!project) {
        throw new HttpError(
          404,
          "project_not_found",
          `No project ${owner}/${repo}: envhooks has received no event from it yet.`,
        );
      }
      return c.json(presentOverview(project), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/projects/{owner}/{repo}/github-events/{delivery_id}",
      summary: "One GitHub delivery: its payload as received, what became of it, the activities it produced",
      request: { params: ProjectParams.extend({ delivery_id: z.string().min(1).max(100) }) },
      responses: { 200: jsonContent(Json, "The delivery and its payload") },
    }),
    async (c) => {
      const { owner, repo, delivery_id } = c.req.valid("param");
      const event = await findEventPayload(db, projectKey(`${owner}/${repo}`), delivery_id);
      if (!event)
        throw new HttpError(404, "event_not_found", `No GitHub delivery ${delivery_id} in ${owner}/${repo}.`);
      let payload: unknown = event.payload;
      try {
        payload = event.payload === null ? null : JSON.parse(event.payload);
      } catch {
        // Kept as received.
      }
      return c.json(
        {
          delivery_id,
          event: event.name,
          action: event.action,
          received_at: iso(event.receivedAt),
          state: event.state,
          attempts: event.attempts,
          last_error: event.lastError,
          outcome: event.outcome,
          processed_at: iso(event.processedAt),
          redelivery_of: redeliveryOf(delivery_id) ?? null,
          headers: event.requestHeaders,
          activities: await activitiesOfGithubDelivery(db, delivery_id),
          payload,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/activities/{id}/deliveries",
      summary: "An activity's deliveries to each integration, with every attempt",
      request: { params: z.object({ id: ActivityId }) },
      responses: { 200: jsonContent(z.array(Json), "Oldest first") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const activity = await getActivity(db, id);
      if (!activity) throw new HttpError(404, "not_found", `No activity ${id}.`);
      authorizeProject(c, activity.project);
      const deliveries = await listActivityDeliveries(
        db,
        id,
        await integrationIdsOf(db, projectKey(activity.project)),
      );
      return c.json(
        deliveries.map(({ delivery, attempts }) =>
          presentDelivery(delivery, attempts, callerAccess(c, activity.project)),
        ),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/projects/{owner}/{repo}/integrations/{id}/delivery-counts",
      summary:
        "An integration's deliveries by state, since a time: how many a redeliver of the failed ones would send, and its progress",
      request: {
        params: ProjectParams.extend({ id: z.string().regex(/^[a-z2-7]{13}$/, "must be an integration id") }),
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
      const { owner, repo, id } = c.req.valid("param");
      const { since } = c.req.valid("query");
      if ((await integrationProject(db, id)) !== projectKey(`${owner}/${repo}`))
        throw new HttpError(404, "integration_not_found", `No integration ${id} in ${owner}/${repo}.`);
      return c.json(await countDeliveries(db, id, since ? new Date(since) : undefined), 200);
    },
  );

  return app;
}
