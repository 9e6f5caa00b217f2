import type { Context } from "hono";
import { html } from "hono/html";
import { csrfInput, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { apiProjectPath, callApi } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import { activityBadge, copyButton, eventBadge, prettyJson, projectPath, when } from "./format.ts";

interface GithubEventJson {
  delivery_id: string;
  event: string;
  action: string | null;
  received_at: string;
  state: string;
  attempts: number;
  last_error: string | null;
  outcome: string | null;
  processed_at: string | null;
  redelivery_of: string | null;
  headers: Record<string, string> | null;
  activities: Array<{
    id: string;
    type: string;
    state: string;
    result: string | null;
    environment: string | null;
  }>;
  payload: unknown;
}

/** What applying the delivery took, in words ("Attempts 0" said nothing). */
export function eventAttempts(event: { state: string; attempts: number }): string {
  const retries = event.attempts;
  if (event.state === "processed")
    return retries === 0
      ? "applied at the first try"
      : `applied after ${retries} ${retries === 1 ? "retry" : "retries"}`;
  if (event.state === "failed") return `gave up after ${retries} ${retries === 1 ? "attempt" : "attempts"}`;
  return retries === 0
    ? "waiting to be applied"
    : `${retries} failed ${retries === 1 ? "attempt" : "attempts"} so far`;
}

/**
 * A GitHub delivery, like GitHub's "Recent Deliveries": the request (the headers envhooks keeps and
 * the payload), its state and outcome, the activities it produced, and Redeliver for an operator.
 */
export async function githubEventPage(deps: WebDeps, c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const deliveryId = c.req.param("delivery") ?? "";
  const answer = await callApi<GithubEventJson>(
    deps,
    c,
    `${apiProjectPath(owner, repo)}/github-events/${encodeURIComponent(deliveryId)}`,
  );
  if (!answer.ok) return errorPage(c, answer);
  const event = answer.body;
  const project = `${owner}/${repo}`;
  const path = projectPath(project);
  const isOperator = (c.var as { principal?: { kind: string } }).principal?.kind === "operator";
  const redelivered = c.req.query("redelivered");
  return renderPage(c, {
    title: `GitHub delivery ${deliveryId}`,
    current: "projects",
    crumbs: [
      { href: "/", label: "Projects" },
      { href: path, label: project },
    ],
    body: html`<h1>GitHub delivery <code>${deliveryId}</code></h1>
${
  redelivered
    ? html`<p class="notice ok" role="status">Redelivered as <a href="${path}/github-events/${encodeURIComponent(redelivered)}">${redelivered}</a>: it is applied after what already waits for ${project}.</p>`
    : ""
}
${
  isOperator
    ? html`<form method="post" action="${path}/github-events/${encodeURIComponent(deliveryId)}/redeliver">
${csrfInput(c)}<button type="submit">Redeliver</button>
<span class="muted">applies the payload again, under a new delivery id</span>
</form>`
    : ""
}
<dl class="facts">
<dt>Event</dt><dd>${event.event}${event.action ? `.${event.action}` : ""}</dd>
<dt>State</dt><dd>${eventBadge(event.state)} ${eventAttempts(event)}</dd>
<dt>Outcome</dt><dd>${event.last_error ? html`<span class="error">${event.last_error}</span>` : (event.outcome ?? html`<span class="muted">—</span>`)}</dd>
<dt>Received</dt><dd>${when(event.received_at)}</dd>
<dt>Applied</dt><dd>${when(event.processed_at)}</dd>
${
  event.redelivery_of
    ? html`<dt>Redelivery of</dt><dd><a class="mono" href="${path}/github-events/${encodeURIComponent(event.redelivery_of)}">${event.redelivery_of}</a></dd>`
    : ""
}
<dt>Activities</dt><dd>${
      event.activities.length === 0
        ? html`<span class="muted">none</span>`
        : html`<ul class="plain" id="event-activities">${event.activities.map(
            (activity) =>
              html`<li><a href="/activities/${activity.id}">${activity.type}</a> ${activity.environment ?? ""} ${activityBadge(activity)}</li>`,
          )}</ul>`
    }</dd>
</dl>
<h2>Request</h2>
<h3>Headers</h3>
${
  event.headers
    ? html`<pre id="event-headers">${Object.entries(event.headers)
        .map(([name, value]) => `${name}: ${value}`)
        .join("\n")}</pre>`
    : html`<pre id="event-headers">X-GitHub-Event: ${event.event}
X-GitHub-Delivery: ${event.delivery_id}</pre>
<p class="muted">Received before envhooks kept GitHub's request headers: only these two are known.</p>`
}
<h3>Payload</h3>
${
  event.payload === null
    ? html`<p class="muted">No longer kept (retention).</p>`
    : html`<p>${copyButton("payload", { from: "event-payload" })}</p>
<pre id="event-payload" tabindex="0" aria-label="Payload">${prettyJson(event.payload)}</pre>`
}`,
  });
}

/** Redeliver a GitHub delivery (operator), then its page names the new one. */
export async function redeliverGithubEvent(deps: WebDeps, c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const deliveryId = c.req.param("delivery") ?? "";
  const answer = await callApi<{ delivery_id: string }>(
    deps,
    c,
    `${apiProjectPath(owner, repo)}/github-events/${encodeURIComponent(deliveryId)}/redeliver`,
    { method: "POST" },
  );
  if (!answer.ok) return errorPage(c, answer);
  const path = `${projectPath(`${owner}/${repo}`)}/github-events/${encodeURIComponent(deliveryId)}`;
  return c.redirect(`${path}?redelivered=${encodeURIComponent(answer.body.delivery_id)}`, 303);
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
