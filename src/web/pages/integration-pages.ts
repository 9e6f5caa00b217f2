import type { Context } from "hono";
import { html } from "hono/html";
import { canWrite } from "../../http/require-api-token.ts";
import { integrationName } from "../../relay/present-integration.ts";
import { csrfInput, type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { apiProjectPath, callApi, fieldErrors } from "./call-api.ts";
import { attemptList, type DeliveryJson } from "./delivery-page.ts";
import { errorPage } from "./error-page.ts";
import { type Flash, leaveFlash, takeFlash } from "./flash.ts";
import {
  badge,
  cursorParam,
  deliveryBadge,
  integrationBadge,
  integrationUrl,
  projectPath,
  when,
} from "./format.ts";
import {
  bodyOf,
  type FormValues,
  type IntegrationJson,
  integrationForm,
  readForm,
  valuesOf,
} from "./integration-form.ts";
import { pollStream, SentMarkup } from "./live-stream.ts";

interface Counts {
  pending: number;
  delivered: number;
  failed: number;
}

/** The project named by the path: its API base, dashboard path and name. */
function projectOf(c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const name = `${owner}/${repo}`;
  return { name, api: apiProjectPath(owner, repo), path: projectPath(name) };
}

/** What the project page says after an action (codes, so a link cannot put words on the page). */
export const DONE_MESSAGES: Record<string, string> = {
  paused: "The integration is paused: its deliveries are kept, not sent.",
  resumed: "The integration is active again: kept deliveries are being sent, oldest first.",
  deleted: "The integration and its delivery log were deleted.",
  saved: "The integration was saved.",
  redeployed: "Redeploy started: its activity is at the top of the list.",
};

export function newIntegrationPage(_deps: WebDeps, c: Context) {
  const project = projectOf(c);
  return formPage(c, project, "create", { type: "webhook", states: ["complete"] }, new Map());
}

function formPage(
  c: Context,
  project: ReturnType<typeof projectOf>,
  mode: "create" | "edit",
  values: FormValues,
  errors: Map<string, string>,
  options: { status?: 200 | 400 | 403 | 404; problem?: string; integration?: IntegrationJson } = {},
) {
  const title = mode === "create" ? "Add an integration" : "Edit the integration";
  return renderPage(
    c,
    {
      title: `${title} · ${project.name}`,
      current: "projects",
      crumbs: [
        { href: "/", label: "Projects" },
        { href: project.path, label: project.name },
      ],
      body: html`<h1>${title}</h1>
${integrationForm(c, {
  action:
    mode === "create"
      ? `${project.path}/integrations`
      : `${project.path}/integrations/${options.integration?.id ?? ""}/edit`,
  mode,
  values,
  errors,
  problem: options.problem,
  ...(options.integration ? { integration: options.integration } : {}),
})}`,
    },
    options.status ?? 200,
  );
}

export async function createIntegration(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const values = await readForm(c);
  const type = typeof values.type === "string" ? values.type : "webhook";
  const answer = await callApi<IntegrationJson & { secret?: string }>(
    deps,
    c,
    `${project.api}/integrations`,
    {
      method: "POST",
      body: bodyOf(values, "create", type),
    },
  );
  if (!answer.ok) {
    if (answer.status !== 400) return errorPage(c, answer);
    const errors = fieldErrors(answer.error);
    return formPage(c, project, "create", values, errors, {
      status: 400,
      ...(errors.size === 0 ? { problem: answer.error.message } : {}),
    });
  }
  const integration = answer.body;
  // POST/redirect/GET: the integration's page says it was added and shows its secret once (a
  // one-time message of this session); reloading that page adds nothing.
  const flash = await leaveFlash(deps, c, {
    kind: "integration-added",
    integrationId: integration.id,
    type: integration.type,
    ...(integration.secret && integration.secret !== "********" ? { secret: integration.secret } : {}),
  });
  return c.redirect(`${project.path}/integrations/${integration.id}?${flash}`, 303);
}

/** The notice of an integration just added, with its signing secret (shown this once). */
function addedNotice(flash: Flash | undefined, integration: IntegrationJson): Markup | string {
  if (flash?.kind !== "integration-added" || flash.integrationId !== integration.id) return "";
  return html`<section class="notice ok" role="status" aria-labelledby="added-heading">
<h2 id="added-heading">Integration added</h2>
<p>The integration <strong>${integrationName(integration)}</strong> (<code>${integration.id}</code>) is ${integration.status}.</p>
${
  flash.secret
    ? html`<h3>Its signing secret, shown this once</h3>
<p>Receivers verify <code>X-Envhooks-Signature-256</code> and <code>webhook-signature</code> with it. Copy it now:
envhooks never shows it again.</p>
<p class="secret" id="integration-secret">${flash.secret}</p>`
    : ""
}
</section>`;
}

async function loadIntegration(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const id = c.req.param("id") ?? "";
  const answer = await callApi<IntegrationJson>(
    deps,
    c,
    `${project.api}/integrations/${encodeURIComponent(id)}`,
  );
  return { project, id, answer };
}

export async function editIntegrationPage(deps: WebDeps, c: Context) {
  const { project, answer } = await loadIntegration(deps, c);
  if (!answer.ok) return errorPage(c, answer);
  return formPage(c, project, "edit", valuesOf(answer.body), new Map(), { integration: answer.body });
}

export async function saveIntegration(deps: WebDeps, c: Context) {
  const { project, id, answer } = await loadIntegration(deps, c);
  if (!answer.ok) return errorPage(c, answer);
  const values = await readForm(c);
  const saved = await callApi<IntegrationJson>(deps, c, `${project.api}/integrations/${id}`, {
    method: "PATCH",
    body: bodyOf(values, "edit", answer.body.type),
  });
  if (!saved.ok) {
    if (saved.status !== 400) return errorPage(c, saved);
    const errors = fieldErrors(saved.error);
    return formPage(c, project, "edit", { ...values, type: answer.body.type }, errors, {
      status: 400,
      integration: answer.body,
      ...(errors.size === 0 ? { problem: saved.error.message } : {}),
    });
  }
  return c.redirect(`${project.path}?done=saved`, 303);
}

/**
 * Pause, resume or delete, then back to the project with what happened. A delete needs the
 * confirmation page's `confirm` field (the integration's id): without it (a form of an older
 * page, a one-click post), nothing is deleted and the person is sent to that page.
 */
export function integrationAction(action: "pause" | "resume" | "delete") {
  return async function runIntegrationAction(deps: WebDeps, c: Context) {
    const project = projectOf(c);
    const id = encodeURIComponent(c.req.param("id") ?? "");
    if (action === "delete") {
      const values = await readForm(c);
      if (values.confirm !== c.req.param("id")) {
        return c.redirect(`${project.path}/integrations/${id}/delete`, 303);
      }
    }
    const answer =
      action === "delete"
        ? await callApi(deps, c, `${project.api}/integrations/${id}`, { method: "DELETE" })
        : await callApi(deps, c, `${project.api}/integrations/${id}/${action}`, { method: "POST" });
    if (!answer.ok) return errorPage(c, answer);
    const done = { pause: "paused", resume: "resumed", delete: "deleted" }[action];
    return c.redirect(`${project.path}?done=${done}`, 303);
  };
}

/**
 * Delete, step 1: what goes — the integration named by its type, id and URL, its settings and
 * secret, and its delivery log with the number of deliveries — and a button that deletes it.
 */
export async function deleteIntegrationPage(deps: WebDeps, c: Context) {
  const { project, id, answer } = await loadIntegration(deps, c);
  if (!answer.ok) return errorPage(c, answer);
  const counts = await callApi<Counts>(deps, c, `${project.api}/integrations/${id}/delivery-counts`);
  if (!counts.ok) return errorPage(c, counts);
  const integration = answer.body;
  const { pending, delivered, failed } = counts.body;
  const total = pending + delivered + failed;
  const principal = c.get("principal");
  const writable = principal ? canWrite(principal, project.name) : false;
  const href = `${project.path}/integrations/${id}`;
  const deliveries = (n: number) => (n === 1 ? "delivery" : "deliveries");
  return renderPage(c, {
    title: `Delete the integration · ${project.name}`,
    current: "projects",
    crumbs: [
      { href: "/", label: "Projects" },
      { href: project.path, label: project.name },
      { href, label: integrationName(integration) },
    ],
    body: html`<h1>Delete the integration ${integrationName(integration)}?</h1>
<p class="muted">${integration.type} integration <code>${integration.id}</code></p>
<dl class="facts">
<dt>URL</dt><dd><code>${integrationUrl(integration.url, writable)}</code></dd>
<dt>Events</dt><dd>${integration.events.join(", ")}</dd>
<dt>Status</dt><dd>${integrationBadge(integration)}</dd>
</dl>
<p id="delete-what" class="notice bad">This deletes the integration, its settings and signing secret, and its
delivery log: <strong>${total}</strong> ${deliveries(total)} with every attempt (${delivered} delivered,
${failed} failed${
      pending > 0 ? html`, <strong>${pending}</strong> pending that will never be sent` : ""
    }), and its test deliveries. It cannot be undone: pausing keeps everything instead.</p>
<form method="post" action="${href}/delete" class="actions">
${csrfInput(c)}
<input type="hidden" name="confirm" value="${integration.id}" />
<button type="submit" class="danger" aria-describedby="delete-what">Delete the integration and its ${total} ${deliveries(total)}</button>
<a class="button" href="${href}">Keep it</a>
</form>`,
  });
}

/** Sends a sample now; the integration's page then shows the attempt (POST/redirect/GET). */
export async function testIntegration(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const id = encodeURIComponent(c.req.param("id") ?? "");
  const answer = await callApi<DeliveryJson>(deps, c, `${project.api}/integrations/${id}/test`, {
    method: "POST",
  });
  if (!answer.ok) return errorPage(c, answer);
  const delivery = encodeURIComponent(answer.body.id);
  return c.redirect(`${project.path}/integrations/${id}?test=${delivery}#test-result`, 303);
}

/** The test delivery named by `?test=`, if it is one of this integration's tests. */
async function testResult(deps: WebDeps, c: Context, integrationId: string) {
  const id = c.req.query("test");
  if (!id || !/^[\w-]{1,64}$/.test(id)) return undefined;
  const answer = await callApi<DeliveryJson>(deps, c, `/api/deliveries/${encodeURIComponent(id)}`);
  if (!answer.ok || !answer.body.test || answer.body.integration_id !== integrationId) return undefined;
  return answer.body;
}

/** A test's outcome, inline on the integration's page. */
function testNotice(delivery: DeliveryJson | undefined): Markup | string {
  if (!delivery) return "";
  const delivered = delivery.state === "delivered";
  return html`<section id="test-result" aria-labelledby="test-heading">
<h2 id="test-heading">Test delivery</h2>
<p class="notice ${delivered ? "ok" : "bad"}" role="status">The sample activity was ${
    delivered ? "delivered" : "not delivered"
  }: ${deliveryBadge(delivery.state)}. A test stays in the log below, marked as one; it counts in no
success rate and no bulk redeliver sends it again.</p>
${attemptList(delivery)}
</section>`;
}

/** One integration: its settings, its deliveries (newest first) and bulk redeliver. */
export async function integrationPage(deps: WebDeps, c: Context) {
  const { project, id, answer } = await loadIntegration(deps, c);
  if (!answer.ok) return errorPage(c, answer);
  const integration = answer.body;
  const status = c.req.query("status");
  const filter = status === "failed" || status === "delivered" || status === "pending" ? status : undefined;
  const before = cursorParam(c.req.query("before"));
  const deliveries = await callApi<{ items: DeliveryJson[]; next_cursor: number | null }>(
    deps,
    c,
    `${project.api}/integrations/${id}/deliveries?limit=50${filter ? `&status=${filter}` : ""}${before ? `&cursor=${before}` : ""}`,
  );
  if (!deliveries.ok) return errorPage(c, deliveries);
  const principal = c.get("principal");
  const writable = principal ? canWrite(principal, project.name) : false;
  const href = `${project.path}/integrations/${id}`;
  const flash = await takeFlash(deps, c);
  const tested = await testResult(deps, c, integration.id);
  return renderPage(c, {
    title: `${integrationName(integration)} · ${project.name}`,
    current: "projects",
    crumbs: [
      { href: "/", label: "Projects" },
      { href: project.path, label: project.name },
    ],
    body: html`<h1>${integrationName(integration)}</h1>
<p class="muted">${integration.type} integration <code>${integration.id}</code></p>
${addedNotice(flash, integration)}
${testNotice(tested)}
<dl class="facts">
<dt>Status</dt><dd>${integrationBadge(integration)} ${integration.disabled_reason ?? ""}</dd>
<dt>URL</dt><dd><code>${integrationUrl(integration.url, writable)}</code></dd>
${integration.format ? html`<dt>Format</dt><dd>${integration.format}</dd>` : ""}
<dt>Events</dt><dd>${integration.events.join(", ")}</dd>
<dt>States</dt><dd>${integration.states.join(", ")}</dd>
<dt>Environments</dt><dd>${integration.environments.join(", ")}${
      integration.excluded_environments.length
        ? html`, except ${integration.excluded_environments.join(", ")}`
        : ""
    }</dd>
<dt>Last attempt</dt><dd>${when(integration.last_datetime)} ${integration.last_status ?? ""} ${integration.last_reason ?? ""}</dd>
</dl>
${writable ? html`<p class="actions"><a class="button" href="${href}/edit">Edit</a> <a class="button danger" href="${href}/delete">Delete…</a></p>` : ""}

<h2 id="deliveries-heading">Deliveries</h2>
<nav aria-label="Filter deliveries" class="actions">
${[undefined, "pending", "delivered", "failed"].map(
  (option) =>
    html`<a href="${href}${option ? `?status=${option}` : ""}"${option === filter ? html` aria-current="page"` : ""}>${option ?? "all"}</a>`,
)}
</nav>
${deliveryTable(deliveries.body.items)}
${
  deliveries.body.next_cursor
    ? html`<p><a href="${href}?${filter ? `status=${filter}&` : ""}before=${deliveries.body.next_cursor}">Older deliveries</a></p>`
    : ""
}

${
  writable
    ? html`<h2 id="redeliver-heading">Redeliver failed deliveries</h2>
<form method="get" action="${href}/redeliver" class="stack">
<div class="field">
<label for="since">Failed deliveries created since (UTC)</label>
<input type="datetime-local" id="since" name="since" required step="1" />
</div>
<button type="submit">Count them</button>
</form>`
    : ""
}`,
  });
}

function deliveryTable(deliveries: DeliveryJson[]): Markup {
  if (deliveries.length === 0) return html`<p class="muted">No delivery.</p>`;
  return html`<div class="table-wrap"><table aria-labelledby="deliveries-heading">
<thead><tr><th scope="col">Delivery</th><th scope="col">Activity</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Created</th></tr></thead>
<tbody>${deliveries.map(
    (delivery) => html`<tr>
<td><a class="mono" href="/deliveries/${delivery.id}">${delivery.id}</a></td>
<td>${
      delivery.test
        ? html`${delivery.event} ${badge("info", "test")}`
        : html`<a href="/activities/${delivery.activity_id}">${delivery.event}</a>`
    }</td>
<td>${deliveryBadge(delivery.state)}</td>
<td>${delivery.attempts}</td>
<td>${delivery.last_status ?? ""} ${delivery.last_error ?? ""}</td>
<td>${when(delivery.created_at)}</td>
</tr>`,
  )}</tbody></table></div>`;
}

/** `2026-11-30T10:00` (a datetime-local field, read as UTC) or an ISO time with offset. */
function readSince(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const withSeconds = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value) ? `${value}:00` : value;
  const iso = /[zZ]|[+-]\d{2}:\d{2}$/.test(withSeconds) ? withSeconds : `${withSeconds}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : new Date(iso).toISOString();
}

/** Bulk redeliver, step 1: how many it will send, and a button to send them. */
export async function redeliverPreview(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const id = encodeURIComponent(c.req.param("id") ?? "");
  const since = readSince(c.req.query("since"));
  const href = `${project.path}/integrations/${id}`;
  const crumbs = [
    { href: "/", label: "Projects" },
    { href: project.path, label: project.name },
    { href, label: "Integration" },
  ];
  if (!since) {
    return renderPage(
      c,
      {
        title: "Redeliver",
        current: "projects",
        crumbs,
        body: html`<h1>Redeliver failed deliveries</h1>
<p class="field-error" role="alert">Give the time as a date and time, e.g. 2026-11-30T10:00.</p>
<p><a href="${href}">Back</a></p>`,
      },
      400,
    );
  }
  const counts = await callApi<Counts>(
    deps,
    c,
    `${project.api}/integrations/${id}/delivery-counts?since=${encodeURIComponent(since)}`,
  );
  if (!counts.ok) return errorPage(c, counts);
  const failed = counts.body.failed;
  return renderPage(c, {
    title: "Redeliver",
    current: "projects",
    crumbs,
    body: html`<h1>Redeliver failed deliveries</h1>
<p id="redeliver-count" role="status">${
      failed === 0
        ? html`No failed delivery since ${when(since)}: nothing to send.`
        : html`This will send <strong>${failed}</strong> failed ${failed === 1 ? "delivery" : "deliveries"} created since ${when(since)} again, oldest first, each with its own webhook-id.`
    }</p>
${
  failed > 0
    ? html`<form method="post" action="${href}/redeliver">
${csrfInput(c)}
<input type="hidden" name="since" value="${since}" />
<button type="submit" class="primary">Redeliver ${failed} ${failed === 1 ? "delivery" : "deliveries"}</button>
</form>`
    : ""
}
<p><a href="${href}">Back to the integration</a></p>`,
  });
}

/** Bulk redeliver, step 2: queue them, then follow their progress. */
export async function redeliverRun(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const id = encodeURIComponent(c.req.param("id") ?? "");
  const values = await readForm(c);
  const since = readSince(typeof values.since === "string" ? values.since : undefined);
  if (!since) return c.redirect(`${project.path}/integrations/${id}`, 303);
  const answer = await callApi<{ redelivered: number }>(
    deps,
    c,
    `${project.api}/integrations/${id}/redeliver?status=failed&since=${encodeURIComponent(since)}`,
    { method: "POST" },
  );
  if (!answer.ok) return errorPage(c, answer);
  return c.redirect(
    `${project.path}/integrations/${id}/redeliver/progress?since=${encodeURIComponent(since)}&sent=${answer.body.redelivered}`,
    303,
  );
}

function progressMarkup(counts: Counts, sent: number): Markup {
  const finished = Math.min(sent, Math.max(0, sent - counts.pending));
  return html`<div id="redeliver-progress" role="status">
<p><progress max="${Math.max(sent, 1)}" value="${finished}" aria-label="Redelivered">${finished} of ${sent}</progress>
${finished} of ${sent} sent again${counts.pending === 0 ? " — done" : ""}.</p>
<p>${deliveryBadge("delivered")} ${counts.delivered} · ${deliveryBadge("failed")} ${counts.failed} · ${deliveryBadge("pending")} ${counts.pending}</p>
</div>`;
}

/** Bulk redeliver, step 3: progress, live. */
export async function redeliverProgress(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const id = encodeURIComponent(c.req.param("id") ?? "");
  const since = readSince(c.req.query("since")) ?? new Date(0).toISOString();
  const sent = Number(c.req.query("sent") ?? 0) || 0;
  const counts = await callApi<Counts>(
    deps,
    c,
    `${project.api}/integrations/${id}/delivery-counts?since=${encodeURIComponent(since)}`,
  );
  if (!counts.ok) return errorPage(c, counts);
  const href = `${project.path}/integrations/${id}`;
  const query = `since=${encodeURIComponent(since)}&sent=${sent}`;
  return renderPage(c, {
    title: "Redelivering",
    current: "projects",
    crumbs: [
      { href: "/", label: "Projects" },
      { href: project.path, label: project.name },
      { href, label: "Integration" },
    ],
    body: html`<h1>Redelivering ${sent} ${sent === 1 ? "delivery" : "deliveries"}</h1>
<p class="muted">Deliveries of this integration created since ${when(since)}, by state; this page follows them as they go.</p>
<div data-live="${href}/redeliver/progress/live?${query}">${progressMarkup(counts.body, sent)}</div>
<p><a href="${href}?status=failed">Failed deliveries</a> · <a href="${href}">Back to the integration</a></p>`,
  });
}

export function redeliverProgressStream(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const id = encodeURIComponent(c.req.param("id") ?? "");
  const since = readSince(c.req.query("since")) ?? new Date(0).toISOString();
  const sent = Number(c.req.query("sent") ?? 0) || 0;
  const markup = new SentMarkup();
  return pollStream(c, async () => {
    const counts = await callApi<Counts>(
      deps,
      c,
      `${project.api}/integrations/${id}/delivery-counts?since=${encodeURIComponent(since)}`,
    );
    if (!counts.ok) return { patches: [], done: true };
    const patch = markup.changed({
      id: "redeliver-progress",
      html: String(await progressMarkup(counts.body, sent)),
    });
    return { patches: patch ? [patch] : [], done: counts.body.pending === 0 };
  });
}
