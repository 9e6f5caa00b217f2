import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { Refused, toActivityEnvironment } from "../../intake/apply-event.ts";
import { ResyncLimited } from "../../intake/limit-resync.ts";
import type { ResyncResult } from "../../intake/resync.ts";
import { getActivity, listActivities } from "../../store/activities.ts";
import type { Database } from "../../store/database.ts";
import { currentEnvironmentGates } from "../../store/environment-gates.ts";
import { listEnvironments } from "../../store/environments.ts";
import { listEvents } from "../../store/github-events.ts";
import { findMovedProject, findProject, projectKey } from "../../store/projects.ts";
import { HttpError } from "../http-error.ts";
import { authorizeProject, canRead } from "../require-api-token.ts";
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
  alerts: z
    .enum(["only", "exclude"])
    .optional()
    .describe(
      "`only`: alerts alone (integration.disabled, integration.delivery.failed, environment.runner.timeout, integration.github.config); `exclude`: everything else",
    ),
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

const listEnvironmentGatesRoute = createRoute({
  method: "get",
  path: "/api/projects/{owner}/{repo}/environment-gates",
  summary: "What the build gates last did to a project's environments",
  request: { params: ProjectParams },
  responses: {
    200: {
      description:
        "Per environment, while nothing newer happened to it: `skipped (paths)` (a rebuild skipped, no changed file under `paths`) or `not created: limit` (`max_environments` reached; the environment may not exist)",
      content: {
        "application/json": {
          schema: z.array(
            z.object({
              name: z.string(),
              gate: z.enum(["skipped (paths)", "not created: limit"]),
              head_commit: z.string().nullable(),
              at: z.string(),
            }),
          ),
        },
      },
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

  app.openapi(listEnvironmentGatesRoute, async (c) => {
    const { owner, repo } = c.req.valid("param");
    const project = await requireProject(db, `${owner}/${repo}`);
    const gates = await currentEnvironmentGates(db, project.id);
    return c.json(
      gates.map((gate) => ({
        name: gate.name,
        gate: gate.gate,
        head_commit: gate.headCommit,
        at: new Date(gate.at).toISOString(),
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

const resyncRoute = createRoute({
  method: "post",
  path: "/api/projects/{owner}/{repo}/resync",
  summary:
    "Resync a project with GitHub: environments for its branches and open pull requests, as the options say",
  description:
    "Lists the repository's branches and open pull requests on GitHub and creates, rebuilds or deletes environments to match `.github/envhooks.yml`, through the same path as GitHub's events (activities, deliveries, GitHub updates). With `dry_run=true` it answers the plan and changes nothing. Needs write access and the GitHub App's credentials. To spare the installation's GitHub rate limit, one resync of a project runs at a time, applied resyncs start a minute apart, a dry run reuses a plan made in the last minute, and a resync that would leave the installation fewer than 500 requests is refused: each refusal answers 429 with Retry-After.",
  request: {
    params: ProjectParams,
    query: z.object({
      dry_run: z
        .enum(["true", "false"])
        .optional()
        .describe("`true`: answer the plan without changing anything"),
      expected_repository_id: z.coerce
        .number()
        .int()
        .positive()
        .max(Number.MAX_SAFE_INTEGER)
        .optional()
        .describe(
          "Applied only if GitHub still reports this repository id for the name (the `repository_id` the plan showed); otherwise 409 `identity_changed`",
        ),
    }),
  },
  responses: {
    200: {
      description:
        "The plan (each change with its action, environment and reason), what GitHub was asked, and the activities recorded (none on a dry run)",
      content: {
        "application/json": {
          schema: z.object({
            project: z.string(),
            dry_run: z.boolean(),
            github_requests: z.number(),
            branches: z.number(),
            pull_requests: z.number().nullable(),
            plan: z.array(z.object({ action: z.string(), environment: z.string(), reason: z.string() })),
            notes: z.array(z.string()),
            activities: z.array(Json),
            repository_id: z.number().describe("The repository id GitHub reports for the name"),
            identity: z
              .object({
                kind: z.enum(["renamed", "identity"]),
                project: z.string(),
                from_repository_id: z.number().nullable(),
                to_repository_id: z.number(),
                to_name: z.string(),
                released: z.string().nullable(),
                displaced: z.string().nullable(),
                description: z.string(),
              })
              .nullable()
              .describe(
                "What changes of which project is which repository: GitHub renamed it (`renamed`), or reports another id for this name (`identity`); null when GitHub agrees",
              ),
            planned_at: z.string().describe("When the plan was made"),
            reused: z
              .boolean()
              .describe(
                "`true`: a dry run answered with the plan another made in the last minute, without asking GitHub",
              ),
          }),
        },
      },
    },
  },
});

export interface ResyncRouteDeps {
  /** With GitHub App credentials: resyncs a repository (`resyncRepository`); unset, the route answers 503. */
  resync?:
    | ((
        fullName: string,
        options: { dryRun: boolean; expectedRepositoryId?: number | undefined },
      ) => Promise<ResyncResult>)
    | undefined;
}

/** `POST /api/projects/{owner}/{repo}/resync` (the project's write access is checked by the server). */
export function projectResyncRoutes({ resync }: ResyncRouteDeps) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });
  app.openapi(resyncRoute, async (c) => {
    const { owner, repo } = c.req.valid("param");
    const query = c.req.valid("query");
    const dryRun = query.dry_run === "true";
    if (!resync) {
      throw new HttpError(
        503,
        "github_not_configured",
        "Resync lists the repository on GitHub: set the GitHub App's APP_ID and PRIVATE_KEY.",
      );
    }
    let result: ResyncResult;
    try {
      result = await resync(`${owner}/${repo}`, {
        dryRun,
        expectedRepositoryId: query.expected_repository_id,
      });
    } catch (error) {
      if (error instanceof Refused) throw new HttpError(error.status, error.code, error.message);
      if (error instanceof ResyncLimited) {
        c.header("Retry-After", String(error.retryAfterSeconds));
        throw new HttpError(429, error.code, error.message, { retry_after_seconds: error.retryAfterSeconds });
      }
      const status = (error as { status?: unknown }).status;
      if (typeof status === "number") {
        throw new HttpError(
          502,
          "github_failed",
          `GitHub answered ${status} while listing ${owner}/${repo}; nothing was changed. Try again later.`,
        );
      }
      throw error;
    }
    return c.json(
      {
        project: result.project,
        dry_run: result.dryRun,
        github_requests: result.githubRequests,
        branches: result.branches,
        pull_requests: result.pullRequests,
        plan: result.plan,
        notes: result.notes,
        activities: result.activities as unknown as Array<Record<string, unknown>>,
        repository_id: result.repositoryId,
        identity: result.identity && {
          kind: result.identity.kind,
          project: result.identity.project,
          from_repository_id: result.identity.fromId,
          to_repository_id: result.identity.toId,
          to_name: result.identity.toName,
          released: result.identity.released,
          displaced: result.identity.displaced,
          description: result.identity.description,
        },
        planned_at: (result.plannedAt ?? new Date()).toISOString(),
        reused: result.reused ?? false,
      },
      200,
    );
  });
  return app;
}

/**
 * A renamed or transferred project's old name keeps answering: a request to
 * `/api/projects/{old owner}/{old repo}/…` is redirected (307, any method, body kept) to the same
 * path under the new name, with `{"moved_to": "owner/repo"}` for clients that do not follow
 * redirects. 307, not GitHub's 301: another repository may take the old name at any time (the
 * pointer then ends), so a client must not cache it. Only for callers who may read the project now.
 */
export function redirectMovedProject(db: Database): MiddlewareHandler {
  return async function movedProject(c, next) {
    const match = /^\/api\/projects\/([^/]+)\/([^/]+)(.*)$/.exec(c.req.path);
    if (!match?.[1] || !match[2]) return next();
    const moved = await findMovedProject(
      db,
      `${decodeURIComponent(match[1])}/${decodeURIComponent(match[2])}`,
    );
    if (!moved || !canRead(c.get("principal"), moved.fullName)) return next();
    const [owner = "", repo = ""] = moved.fullName.split("/");
    const url = new URL(c.req.url);
    const location = `/api/projects/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}${match[3] ?? ""}${url.search}`;
    c.header("Location", location);
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        moved_to: moved.fullName,
        location,
        message: `Project ${decodeURIComponent(match[1])}/${decodeURIComponent(match[2])} is now ${moved.fullName} (renamed or transferred on GitHub): use the new name.`,
      },
      307,
    );
  };
}
