import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { acceptActionsToken } from "../actions/verify-actions-token.ts";
import type { Delivery } from "../intake/accept-delivery.ts";
import type { ApplyDeps } from "../intake/apply-event.ts";
import type { Metrics } from "../metrics.ts";
import { waitsForChecks } from "../store/check-waits.ts";
import type { Database } from "../store/database.ts";
import { createSecretBox, type SecretBox } from "../store/secret-box.ts";
import { AWAITED_RUN_MS, mayConcernEnvhooks } from "../store/workflow-runs.ts";
import type { UserProjects } from "../web/access/github-user.ts";
import { createSessions } from "../web/access/session.ts";
import type { SetupDeps } from "../web/access/setup.ts";
import { errorPage } from "../web/pages/error-page.ts";
import { webRoutes } from "../web/web-routes.ts";
import { handleErrors, notFound } from "./handle-errors.ts";
import { errorResponse, HttpError } from "./http-error.ts";
import { describeApi } from "./openapi.ts";
import { authorizeOperator, authorizeProjectInPath, requireApiToken } from "./require-api-token.ts";
import { requireMetricsToken } from "./require-metrics-token.ts";
import { alertRoutes } from "./routes/alerts.ts";
import { dashboardApiRoutes } from "./routes/dashboard-api.ts";
import { dockershipRoutes } from "./routes/dockership.ts";
import { githubEventRedeliverRoutes } from "./routes/github-event-redeliver.ts";
import { type GithubWebhookDeps, githubWebhookRoutes } from "./routes/github-webhooks.ts";
import { healthRoutes } from "./routes/health.ts";
import { type IntegrationRouteDeps, integrationRoutes } from "./routes/integrations.ts";
import { kuduRoutes } from "./routes/kudu.ts";
import { ownerIntegrationRoutes } from "./routes/owner-integrations.ts";
import {
  projectResyncRoutes,
  projectRoutes,
  type ResyncRouteDeps,
  redirectMovedProject,
} from "./routes/projects.ts";
import { runnerRoutes } from "./routes/runner.ts";
import { searchRoutes } from "./routes/search.ts";
import { testEventRoutes } from "./routes/test-event.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { refuseNulCharacters } from "./validation.ts";

export interface ServerDeps {
  db: Database;
  log: Logger;
  webhookSecret: string | undefined;
  apiToken: string | undefined;
  /** ENVHOOKS_METRICS_TOKEN: `/metrics` asks for it as a bearer token; open when unset. */
  metricsToken?: string | undefined;
  accept: (delivery: Delivery) => Promise<"accepted" | "duplicate">;
  /** With GitHub App credentials: installation events mark their repositories' options to be read again. */
  onInstallation?: GithubWebhookDeps["onInstallation"];
  /** What unverified webhook bodies may hold and how long they may take; production's by default. */
  webhookLimits?: GithubWebhookDeps["limits"];
  /** How activities are changed outside GitHub events (progress reports, redeploys). */
  apply: ApplyDeps;
  /** With GitHub App credentials: `POST /api/projects/{owner}/{repo}/resync`. */
  resync?: ResyncRouteDeps["resync"];
  isReady: () => boolean;
  relay: Omit<IntegrationRouteDeps, "db">;
  metrics: Metrics;
  /** ENVHOOKS_PUBLIC_URL: where people reach envhooks. */
  publicUrl?: string | undefined;
  /** ENVHOOKS_TRUSTED_PROXIES: the reverse proxies whose X-Forwarded-For sign-in throttling believes. */
  trustedProxies?: readonly string[] | undefined;
  /** GitHub's web root (GHE_HOST's, or github.com): the dashboard's links to commits and pull requests. */
  githubWebUrl?: string | undefined;
  /** A `worker` instance answers only health probes and metrics. */
  onlyProbes?: boolean;
  /** Seals what the dashboard keeps (a GitHub user's token, the cookie-signing key). */
  secrets?: SecretBox;
  /** Sign in with GitHub (the App's OAuth client), when configured. */
  userProjects?: UserProjects | undefined;
  /** Setup in the browser, while the GitHub App is not configured. */
  setup?: SetupDeps | undefined;
  now?: () => Date;
  /**
   * GitHub Actions OIDC (`runner: github-actions`): a workflow's progress report may authenticate
   * with its run's token, issued by `issuer` for `audience` (ENVHOOKS_PUBLIC_URL). Off without it.
   */
  actionsOidc?: { issuer: string; audience: string } | undefined;
}

/** The largest request body the API reads; GitHub's webhook route has its own limit (25 MB). */
export const MAX_API_BODY_BYTES = 1024 * 1024;

const limitApiBody = bodyLimit({
  maxSize: MAX_API_BODY_BYTES,
  onError: (c) =>
    errorResponse(
      c,
      413,
      "payload_too_large",
      "The API reads request bodies of at most 1 MB: send less (e.g. shorter log lines per report).",
    ),
});

/** Every HTTP route of envhooks, on one Hono app. */
export function createServer(deps: ServerDeps): OpenAPIHono {
  const sessions = createSessions({
    db: deps.db,
    log: deps.log,
    secrets: deps.secrets ?? createSecretBox([]),
    apiToken: () => deps.apiToken,
    userProjects: () => deps.userProjects,
    now: deps.now,
    publicUrl: deps.publicUrl,
  });
  // A bearer token, or the dashboard's session cookie (with its CSRF token for changes).
  const auth = requireApiToken(deps.apiToken, deps.db, sessions);
  const app = new OpenAPIHono();
  // X-Request-Id from the load balancer, or a new one; in log lines and in the answer.
  app.use(requestId());
  app.onError(handleErrors(deps.log));
  app.notFound(notFound);
  app.use(refuseMalformedPath);
  app.use(
    refuseNulCharacters({
      page: (c, error) =>
        errorPage(c, {
          status: error.status,
          error: { code: error.code, message: error.message, details: null },
        }),
    }),
  );
  app.route("/", healthRoutes(deps.isReady));
  app.get("/metrics", requireMetricsToken(deps.metricsToken), async (c) =>
    c.body(await deps.metrics.registry.metrics(), 200, { "Content-Type": deps.metrics.registry.contentType }),
  );
  if (deps.onlyProbes) return app;
  app.use("/api/*", async function limitBody(c, next) {
    return c.req.path === "/api/github/webhooks" ? next() : limitApiBody(c, next);
  });
  app.use(
    "/api/projects/*",
    auth,
    // A renamed project's old name points to the new one (before its own authorization).
    redirectMovedProject(deps.db),
    authorizeProjectInPath(/^\/api\/projects\/([^/]+)\/([^/]+)/),
  );
  app.use("/api/owners/*", auth, async function ownerWide(c, next) {
    authorizeOperator(c, "manage owner-wide integrations");
    return next();
  });
  // A workflow's progress report may carry its run's OIDC token instead of an API token.
  if (deps.actionsOidc) app.use("/api/activities/:id/progress", acceptActionsToken(deps.actionsOidc));
  app.use("/api/activities/*", async function apiTokenOrRun(c, next) {
    return c.get("actionsRun") ? next() : auth(c, next);
  });
  app.use("/api/alerts", auth);
  app.use("/api/deliveries/*", auth);
  app.use("/api/hooks", auth);
  app.use("/api/hooks/*", auth);
  app.use("/api/search", auth);
  app.use("/api/tokens", auth);
  app.use("/api/tokens/*", auth);
  app.use("/rest/*", auth, async (c, next) => {
    // Dockership's listings span every project: a project token reads its own status only.
    if (!/^\/rest\/status\/[^/]+\/[^/]+/.test(c.req.path)) authorizeOperator(c, "list every project");
    return next();
  });
  app.use("/rest/status/*", authorizeProjectInPath(/^\/rest\/status\/([^/]+)\/([^/]+)/));
  app.route(
    "/",
    githubWebhookRoutes({
      secret: deps.webhookSecret,
      accept: deps.accept,
      log: deps.log,
      metrics: deps.metrics,
      onInstallation: deps.onInstallation,
      limits: deps.webhookLimits,
      runMayConcernEnvhooks: (projectKey, runId) =>
        mayConcernEnvhooks(deps.db.urgent, projectKey, runId, new Date(Date.now() - AWAITED_RUN_MS)),
      projectWaitsForChecks: (projectKey) => waitsForChecks(deps.db.urgent, projectKey),
    }),
  );
  app.route("/", projectRoutes(deps.db));
  app.route("/", testEventRoutes({ db: deps.db, accept: deps.accept }));
  app.route("/", projectResyncRoutes({ resync: deps.resync }));
  app.route("/", dashboardApiRoutes(deps.db));
  app.route("/", githubEventRedeliverRoutes({ db: deps.db, accept: deps.accept }));
  app.route("/", searchRoutes(deps.db));
  app.route("/", runnerRoutes(deps.apply));
  app.route("/", integrationRoutes({ ...deps.relay, db: deps.db }));
  app.route("/", ownerIntegrationRoutes({ ...deps.relay, db: deps.db }));
  app.route("/", alertRoutes(deps.db));
  app.route("/", dockershipRoutes(deps.db));
  app.route("/", tokenRoutes(deps.db));
  app.route("/", kuduRoutes({ ...deps.relay, db: deps.db }));
  describeApi(app, deps.relay.version);
  app.route(
    "/",
    webRoutes({
      db: deps.db,
      log: deps.log,
      publicUrl: deps.publicUrl,
      trustedProxies: deps.trustedProxies,
      githubWebUrl: deps.githubWebUrl,
      callApi: async (path, init) => app.request(path, init),
      sessions,
      secrets: deps.secrets ?? createSecretBox([]),
      apiToken: () => deps.apiToken,
      userProjects: deps.userProjects,
      setup: deps.setup,
    }),
  );
  return app;
}

/**
 * A path whose percent-encoding does not decode (`%E0%A4%A`, a lone `%`) is refused before any
 * route reads it: Hono would hand such a parameter on undecoded, and `decodeURIComponent` throws.
 */
async function refuseMalformedPath(c: Context, next: Next) {
  try {
    // The URL parser keeps percent-encoding as written.
    decodeURIComponent(new URL(c.req.url).pathname);
  } catch {
    throw new HttpError(
      400,
      "invalid_path",
      "The path has a malformed percent-encoding: encode each byte as % and two hex digits (encodeURIComponent).",
    );
  }
  return next();
}
