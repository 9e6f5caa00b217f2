import { type Context, Hono } from "hono";
import { requireSignedIn, verifyCsrf } from "../access/session.ts";
import type { WebDeps } from "../web-routes.ts";
import { activityPage, activityStream } from "./activity-page.ts";
import { alertsPage } from "./alerts-page.ts";
import { deliveryPage, deliveryStream, redeliverOne } from "./delivery-page.ts";
import { githubEventPage, redeliverGithubEvent, redeploy } from "./github-event-page.ts";
import {
  createIntegration,
  deleteIntegrationPage,
  editIntegrationPage,
  integrationAction,
  integrationPage,
  integrationStream,
  newIntegrationPage,
  redeliverFromList,
  redeliverPreview,
  redeliverProgress,
  redeliverProgressStream,
  redeliverRun,
  saveIntegration,
  testIntegration,
} from "./integration-pages.ts";
import { ownerIntegrationsPage, ownerIntegrationsStream } from "./owner-integrations-page.ts";
import { projectPage, projectStream, sendTestEvent } from "./project-page.ts";
import { projectsPage, projectsStream } from "./projects-page.ts";
import { resyncPreview, resyncResult, resyncRun } from "./resync-page.ts";
import { searchPage } from "./search-page.ts";
import { serveApiReference } from "./serve-api-reference.ts";
import { assetRoutes } from "./serve-assets.ts";
import { createToken, revokeToken, tokensPage } from "./tokens-page.ts";

type Page = (deps: WebDeps, c: Context) => Response | Promise<Response>;

/**
 * The dashboard's pages. Each one reads and acts through the HTTP API (`deps.callApi`, as the
 * signed-in person), so what the API allows and refuses is what the pages allow and refuse.
 */
export function pageRoutes(deps: WebDeps): Hono {
  const app = new Hono();
  app.route("/", assetRoutes());
  app.route("/", serveApiReference(deps));
  const get = (path: string, page: Page) => app.get(path, requireSignedIn, (c) => page(deps, c));
  const post = (path: string, page: Page) =>
    app.post(path, requireSignedIn, verifyCsrf, (c) => page(deps, c));

  const project = "/projects/:owner/:repo";
  get("/", projectsPage);
  get("/projects/live", projectsStream);
  get(project, projectPage);
  get(`${project}/live`, projectStream);
  post(`${project}/test-event`, sendTestEvent);
  get(`${project}/github-events/:delivery`, githubEventPage);
  post(`${project}/github-events/:delivery/redeliver`, redeliverGithubEvent);
  post(`${project}/environments/:name/redeploy`, redeploy);
  get(`${project}/resync`, resyncPreview);
  post(`${project}/resync`, resyncRun);
  get(`${project}/resync/result`, resyncResult);
  // A project's integrations, and an owner's owner-wide ones: the same pages, the scope from the path.
  for (const scope of [project, "/owners/:owner{[A-Za-z0-9-]+}"]) {
    const integration = `${scope}/integrations/:id{[a-z2-7]{13}}`;
    get(`${scope}/integrations/new`, newIntegrationPage);
    post(`${scope}/integrations`, createIntegration);
    get(integration, integrationPage);
    get(`${integration}/live`, integrationStream);
    get(`${integration}/edit`, editIntegrationPage);
    post(`${integration}/edit`, saveIntegration);
    post(`${integration}/test`, testIntegration);
    post(`${integration}/pause`, integrationAction("pause"));
    post(`${integration}/resume`, integrationAction("resume"));
    get(`${integration}/delete`, deleteIntegrationPage);
    post(`${integration}/delete`, integrationAction("delete"));
    post(`${integration}/deliveries/:delivery{msg_[0-9a-z]{26}}/redeliver`, redeliverFromList);
    get(`${integration}/redeliver`, redeliverPreview);
    post(`${integration}/redeliver`, redeliverRun);
    get(`${integration}/redeliver/progress`, redeliverProgress);
    get(`${integration}/redeliver/progress/live`, redeliverProgressStream);
  }
  get("/owners/:owner{[A-Za-z0-9-]+}/integrations", ownerIntegrationsPage);
  get("/owners/:owner{[A-Za-z0-9-]+}/integrations/live", ownerIntegrationsStream);
  get("/activities/:id", activityPage);
  get("/activities/:id/live", activityStream);
  get("/deliveries/:id", deliveryPage);
  get("/deliveries/:id/live", deliveryStream);
  post("/deliveries/:id/redeliver", redeliverOne);
  get("/search", searchPage);
  get("/alerts", alertsPage);
  get("/tokens", tokensPage);
  post("/tokens", createToken);
  post("/tokens/:id/revoke", revokeToken);
  return app;
}
