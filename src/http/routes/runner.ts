import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ActionsRunClaims } from "../../actions/verify-actions-token.ts";
import { type ApplyDeps, Refused, redeployEnvironment } from "../../intake/apply-event.ts";
import { reportProgress } from "../../intake/report-progress.ts";
import { apiTokenName } from "../../store/api-tokens.ts";
import type { Queryable } from "../../store/database.ts";
import { projectKey } from "../../store/projects.ts";
import { runsOfActivity } from "../../store/workflow-runs.ts";
import { HttpError } from "../http-error.ts";
import { authorizeProject } from "../require-api-token.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";

const Json = z.record(z.string(), z.unknown());

/**
 * An absolute http(s) URL as RFC 3986 writes it: no spaces, quotes, `<`, `>` or other characters
 * that must be percent-encoded. These URLs go into chat messages and GitHub links, where such a
 * character could end the link and start markup.
 */
const httpUrl = z
  .string()
  .max(2000)
  .refine(
    (text) =>
      /^https?:\/\/[^/?#]/i.test(text) &&
      !/[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/.test(text) &&
      URL.canParse(text),
    "must be an absolute http:// or https:// URL, percent-encoded (no spaces, quotes, <, > or non-ASCII characters)",
  );

/** A deploy runner's report on an activity. */
export const progressSchema = z
  .object({
    state: z
      .enum(["in_progress", "complete", "cancelled"])
      .optional()
      .describe("The activity's new state; leave it out to report progress or log lines only"),
    result: z
      .enum(["success", "failure"])
      .optional()
      .describe("With `complete` (default success) or `cancelled` (default failure)"),
    completion_percent: z.number().int().min(0).max(100).optional(),
    log: z.string().max(100_000).optional().describe("Lines appended to the activity's log"),
    environment_url: httpUrl
      .optional()
      .describe("Where the environment is served; shown on GitHub and in chat"),
    log_url: httpUrl.optional().describe("Where the runner's own log is; linked from GitHub"),
  })
  .strict()
  .refine((report) => Object.keys(report).length > 0, { message: "report at least one field", path: [] })
  .refine(
    (report) => report.result === undefined || report.state === "complete" || report.state === "cancelled",
    {
      message: "result goes with state complete or cancelled",
      path: ["result"],
    },
  );

const ActivityParams = z.object({
  id: z.string().regex(/^[a-z2-7]{13}$/, "must be a 13-character activity id"),
});

const EnvironmentParams = z.object({
  owner: z.string().min(1).max(100),
  repo: z.string().min(1).max(100),
  name: z.string().min(1).max(300).describe("The environment's name (URL-encoded) or machine name"),
});

/** What deploy runners and operators call: progress reports and redeploys. */
export function runnerRoutes(apply: ApplyDeps) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/activities/{id}/progress",
      summary: "Report a deploy runner's progress on an activity",
      description:
        "`pending` → `in_progress` → `complete` or `cancelled`. Each change of state is relayed to integrations whose `states` match and mirrored on GitHub. A finished activity cannot move again (409). Authorization: a token that may write the activity's project, or, with `runner: github-actions`, the GitHub Actions OIDC token (audience ENVHOOKS_PUBLIC_URL) of the run started for this activity (403 for another run).",
      request: {
        params: ActivityParams,
        body: { content: { "application/json": { schema: progressSchema } }, required: true },
      },
      responses: { 200: jsonContent(Json, "The activity after the report") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const report = c.req.valid("json");
      const run = c.get("actionsRun");
      // A workflow's OIDC token reports only on the activity its run was started for.
      if (run) await authorizeRun(apply.db, id, run);
      const activity = await answerRefusals(
        reportProgress(apply, id, report, run ? () => {} : (key) => authorizeProject(c, key)),
      );
      return c.json(activity, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/projects/{owner}/{repo}/environments/{name}/redeploy",
      summary: "Redeploy an environment",
      description:
        "Builds the environment again at the same commit: an `environment.redeploy` activity whose text names who asked " +
        "(the operator, a GitHub user signed in to the dashboard, or a project token by its name).",
      request: { params: EnvironmentParams },
      responses: { 202: jsonContent(Json, "The redeploy activity") },
    }),
    async (c) => {
      const { owner, repo, name } = c.req.valid("param");
      const activity = await answerRefusals(
        redeployEnvironment(apply, projectKey(`${owner}/${repo}`), name, null, await askedBy(apply.db, c)),
      );
      return c.json(activity, 202);
    },
  );

  return app;
}

/**
 * A GitHub Actions OIDC token may report on an activity only if its run was started for it: the
 * same run id, repository and branch as its claims. Any other is 403.
 */
async function authorizeRun(db: Queryable, activityId: string, claims: ActionsRunClaims): Promise<void> {
  const runs = await runsOfActivity(db, activityId);
  const matches = runs.some(
    (run) =>
      run.runId === claims.runId &&
      run.projectKey === projectKey(claims.repository) &&
      (run.ref === null || `refs/heads/${run.ref}` === claims.ref),
  );
  if (!matches) {
    throw new HttpError(
      403,
      "forbidden",
      `This OIDC token is run ${claims.runId}'s of ${claims.repository} at ${claims.ref}: activity ${activityId} was not started by that run.`,
    );
  }
}

/** A refusal becomes the HTTP answer it stands for; anything else is left to the error handler. */
async function answerRefusals<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof Refused) throw new HttpError(error.status, error.code, error.message);
    throw error;
  }
}

/** Who is calling, as an activity's text names them. */
async function askedBy(db: ApplyDeps["db"], c: Context): Promise<string> {
  const principal = c.get("principal");
  if (principal.kind === "user") return `GitHub user ${principal.login}`;
  if (principal.kind === "project") {
    const name = await apiTokenName(db, principal.tokenId);
    return name ? `token ${name}` : "a project token";
  }
  return "the operator";
}
