import type { Context } from "hono";
import { html } from "hono/html";
import { csrfInput, type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { callApi } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import {
  badge,
  copyButton,
  deliveryBadge,
  duration,
  nextAttempt,
  prettyJson,
  projectPath,
  when,
} from "./format.ts";
import { pollStream, SentMarkup } from "./live-stream.ts";

export interface AttemptJson {
  attempt: number;
  started_at: string;
  duration_ms: number;
  url: string;
  request_headers: Record<string, string>;
  status_code: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  error: string | null;
  succeeded: boolean;
}

/** A delivery as the API presents it; `body` and `attempt_log` when asked for one. */
export interface DeliveryJson {
  id: string;
  integration_id: string;
  activity_id: string;
  event: string;
  state: string;
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  /** A test delivery: its sample activity is not stored (there is no page to link to). */
  test?: boolean;
  body?: string;
  attempt_log?: AttemptJson[];
  /** One delivery (GET /api/deliveries/{id}): its activity's project, null for an owner-wide test. */
  project?: string | null;
  /** One delivery: the integration it went to, named. */
  integration?: { id: string; type: string; display_name: string; owner: string | null };
}

/** The dashboard page of an integration: a project's, or an owner-wide one's. */
export function integrationHref(
  integration: { id: string; owner: string | null },
  project: string | null | undefined,
): string | undefined {
  if (integration.owner)
    return `/owners/${encodeURIComponent(integration.owner)}/integrations/${integration.id}`;
  return project ? `${projectPath(project)}/integrations/${integration.id}` : undefined;
}

const headerList = (headers: Record<string, string> | null): Markup =>
  headers && Object.keys(headers).length > 0
    ? html`<pre>${Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}`)
        .join("\n")}</pre>`
    : html`<p class="muted">none</p>`;

/** Every attempt of a delivery, as sent and as answered (secrets masked by the API). */
export function attemptList(delivery: DeliveryJson, headingLevel: 2 | 3 = 2): Markup {
  const attempts = delivery.attempt_log ?? [];
  if (attempts.length === 0)
    return html`<p class="muted">No attempt yet${delivery.next_attempt_at ? html`; the next at ${when(delivery.next_attempt_at)}` : ""}.</p>`;
  const heading = (text: Markup) => (headingLevel === 2 ? html`<h3>${text}</h3>` : html`<h4>${text}</h4>`);
  return html`<ol class="attempts">${attempts.map(
    (attempt) => html`<li id="attempt-${delivery.id}-${attempt.attempt}">
${heading(html`Attempt ${attempt.attempt}: ${attempt.succeeded ? badge("ok", `succeeded, ${attempt.status_code}`) : badge("bad", attempt.status_code ? `failed, ${attempt.status_code}` : "failed")}`)}
<dl class="facts">
<dt>Started</dt><dd>${when(attempt.started_at)}</dd>
<dt>Duration</dt><dd>${duration(attempt.duration_ms)}</dd>
<dt>URL</dt><dd><code>${attempt.url}</code></dd>
${attempt.error ? html`<dt>Error</dt><dd>${attempt.error}</dd>` : ""}
</dl>
<details><summary>Request headers</summary>${headerList(attempt.request_headers)}</details>
<details><summary>Response headers</summary>${headerList(attempt.response_headers)}</details>
<details${attempt.succeeded ? "" : html` open`}><summary>Response body</summary>${
      attempt.response_body ? html`<pre>${attempt.response_body}</pre>` : html`<p class="muted">empty</p>`
    }</details>
</li>`,
  )}</ol>`;
}

/** The delivery's request and every attempt. */
export function deliveryDetails(delivery: DeliveryJson): Markup {
  const integration = delivery.integration;
  const href = integration && integrationHref(integration, delivery.project);
  return html`<dl class="facts">
<dt>Delivery</dt><dd><code>${delivery.id}</code> ${copyButton("id", { text: delivery.id })} (the <code>webhook-id</code>, the same on every attempt)</dd>
<dt>State</dt><dd>${deliveryBadge(delivery.state)} ${nextAttempt(delivery)}</dd>
${
  integration
    ? html`<dt>Integration</dt><dd>${href ? html`<a href="${href}">${integration.display_name}</a>` : integration.display_name}${
        integration.owner ? html` <span class="muted">(owner-wide, ${integration.owner})</span>` : ""
      }</dd>`
    : ""
}
<dt>Activity</dt><dd>${
    delivery.test
      ? html`a sample (${delivery.event}): a test delivery, counted nowhere and never redelivered in bulk`
      : html`<a href="/activities/${delivery.activity_id}">${delivery.event} <code>${delivery.activity_id}</code></a>`
  }</dd>
<dt>Created</dt><dd>${when(delivery.created_at)}</dd>
</dl>
<h2>Request body</h2>
${
  delivery.body !== undefined
    ? html`<p>${copyButton("body", { from: `body-${delivery.id}` })}</p><pre id="body-${delivery.id}">${prettyJson(delivery.body)}</pre>`
    : html`<p class="muted">not shown</p>`
}
<h2>Attempts</h2>
${attemptList(delivery)}`;
}

/** Delivery: the request (secrets masked), every attempt, and redeliver. */
export async function deliveryPage(deps: WebDeps, c: Context) {
  const id = c.req.param("id") ?? "";
  const answer = await callApi<DeliveryJson>(deps, c, `/api/deliveries/${encodeURIComponent(id)}`);
  if (!answer.ok) return errorPage(c, answer);
  const delivery = answer.body;
  const queued = c.req.query("done") === "redelivered";
  return renderPage(c, {
    title: `Delivery ${delivery.id}`,
    // Project / Integration / Delivery (this page).
    crumbs: [
      { href: "/", label: "Projects" },
      ...(delivery.project ? [{ href: projectPath(delivery.project), label: delivery.project }] : []),
      ...(delivery.integration
        ? [
            {
              href: integrationHref(delivery.integration, delivery.project) ?? "/",
              label: delivery.integration.display_name,
            },
          ]
        : []),
    ],
    body: html`<h1>Delivery <code>${delivery.id}</code></h1>
${queued ? html`<p class="notice ok" role="status">Queued to be sent again, with the same webhook-id.</p>` : ""}
<form method="post" action="/deliveries/${delivery.id}/redeliver">
${csrfInput(c)}<button type="submit">Redeliver</button>
</form>
<div data-live="/deliveries/${delivery.id}/live"><div id="delivery-details">${deliveryDetails(delivery)}</div></div>`,
  });
}

/** The delivery page, live while the delivery is pending (its attempts appear as they are made). */
export function deliveryStream(deps: WebDeps, c: Context) {
  const id = c.req.param("id") ?? "";
  const sent = new SentMarkup();
  return pollStream(c, async () => {
    const answer = await callApi<DeliveryJson>(deps, c, `/api/deliveries/${encodeURIComponent(id)}`);
    if (!answer.ok) return { patches: [], done: true };
    const markup = String(await html`<div id="delivery-details">${deliveryDetails(answer.body)}</div>`);
    const patch = sent.changed({ id: "delivery-details", html: markup });
    return { patches: patch ? [patch] : [], done: answer.body.state !== "pending" };
  });
}

export async function redeliverOne(deps: WebDeps, c: Context) {
  const id = c.req.param("id") ?? "";
  const answer = await callApi(deps, c, `/api/deliveries/${encodeURIComponent(id)}/redeliver`, {
    method: "POST",
  });
  if (!answer.ok) return errorPage(c, answer);
  return c.redirect(`/deliveries/${encodeURIComponent(id)}?done=redelivered`, 303);
}
