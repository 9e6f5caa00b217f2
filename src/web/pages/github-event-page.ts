import type { Context } from "hono";
import { html } from "hono/html";
import { renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { apiProjectPath, callApi } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import { prettyJson, projectPath, when } from "./format.ts";

/** A GitHub delivery's payload, on demand (like "Recent Deliveries"). */
export async function githubEventPage(deps: WebDeps, c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const deliveryId = c.req.param("delivery") ?? "";
  const answer = await callApi<{
    event: string;
    action: string | null;
    received_at: string;
    payload: unknown;
  }>(deps, c, `${apiProjectPath(owner, repo)}/github-events/${encodeURIComponent(deliveryId)}`);
  if (!answer.ok) return errorPage(c, answer);
  const event = answer.body;
  const project = `${owner}/${repo}`;
  return renderPage(c, {
    title: `GitHub delivery ${deliveryId}`,
    current: "projects",
    crumbs: [
      { href: "/", label: "Projects" },
      { href: projectPath(project), label: project },
    ],
    body: html`<h1>GitHub delivery <code>${deliveryId}</code></h1>
<dl class="facts"><dt>Event</dt><dd>${event.event}${event.action ? `.${event.action}` : ""}</dd>
<dt>Received</dt><dd>${when(event.received_at)}</dd></dl>
<h2>Payload</h2>
<pre tabindex="0" aria-label="Payload">${prettyJson(event.payload)}</pre>`,
  });
}

/** Redeploy an environment, then back to the project. */
export async function redeploy(deps: WebDeps, c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const name = c.req.param("name") ?? "";
  const answer = await callApi(
    deps,
    c,
    `${apiProjectPath(owner, repo)}/environments/${encodeURIComponent(name)}/redeploy`,
    { method: "POST" },
  );
  if (!answer.ok) return errorPage(c, answer);
  return c.redirect(`${projectPath(`${owner}/${repo}`)}?done=redeployed`, 303);
}
