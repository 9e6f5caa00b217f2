import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { latestActivityByEnvironment } from "../../store/activities.ts";
import type { Database } from "../../store/database.ts";
import { listEnvironments } from "../../store/environments.ts";
import { findProject, listProjects, type Project } from "../../store/projects.ts";
import { HttpError } from "../http-error.ts";
import { rejectInvalid } from "../validation.ts";

const Json = z.record(z.string(), z.unknown());

/**
 * Dockership's JSON endpoints (`/rest/projects`, `/rest/status`, `/rest/status/:project`), keyed by
 * `owner/repo`, so status boards written for Dockership keep working.
 */
export function dockershipRoutes(db: Database) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  app.openapi(
    createRoute({
      method: "get",
      path: "/rest/projects",
      summary: "Dockership: every project, by name",
      responses: {
        200: { description: "Projects by owner/repo", content: { "application/json": { schema: Json } } },
      },
    }),
    async (c) => {
      const projects = await listProjects(db);
      const entries = await Promise.all(
        projects.map(async (project) => {
          const environments = await listEnvironments(db, project.id);
          return [
            project.fullName,
            {
              name: project.fullName,
              repository: `https://github.com/${project.fullName}`,
              default_branch: project.defaultBranch,
              environments: environments.map((environment) => environment.name),
            },
          ] as const;
        }),
      );
      return c.json(Object.fromEntries(entries), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/rest/status",
      summary: "Dockership: the status of every project, by name",
      responses: {
        200: { description: "Status by owner/repo", content: { "application/json": { schema: Json } } },
      },
    }),
    async (c) => {
      const projects = await listProjects(db);
      const entries = await Promise.all(
        projects.map(async (p) => [p.fullName, await projectStatus(db, p)] as const),
      );
      return c.json(Object.fromEntries(entries), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/rest/status/{owner}/{repo}",
      summary: "Dockership: one project's status",
      request: { params: z.object({ owner: z.string().min(1), repo: z.string().min(1) }) },
      responses: {
        200: { description: "The project's status", content: { "application/json": { schema: Json } } },
      },
    }),
    async (c) => {
      const { owner, repo } = c.req.valid("param");
      const project = await findProject(db, `${owner}/${repo}`);
      if (!project) throw new HttpError(404, "project_not_found", `No project ${owner}/${repo}.`);
      return c.json(await projectStatus(db, project), 200);
    },
  );

  return app;
}

/** Per environment: what runs now, what ran before, and the last activity with its result. */
async function projectStatus(db: Database, project: Project) {
  const [environments, latest] = await Promise.all([
    listEnvironments(db, project.id),
    latestActivityByEnvironment(db, project.id),
  ]);
  return {
    project: project.fullName,
    environments: Object.fromEntries(
      environments.map((environment) => {
        const activity = latest.get(environment.name);
        return [
          environment.name,
          {
            status: environment.status,
            current_revision: environment.headCommit,
            previous_revision: environment.previousCommit,
            last_activity: activity
              ? {
                  id: activity.id,
                  type: activity.type,
                  state: activity.state,
                  result: activity.result,
                  completed_at: activity.completed_at,
                  text: activity.text,
                }
              : null,
          },
        ];
      }),
    ),
  };
}
