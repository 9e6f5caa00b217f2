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
  copyButton,
  cursorParam,
  deliveryBadge,
  duration,
  integrationBadge,
  integrationUrl,
  nextAttempt,
  projectPath,
  utcText,
  when,
} from "./format.ts";
import { answerText, type HealthJson, healthChart } from "./health-chart.ts";
import {
  bodyOf,
  type FormValues,
  type IntegrationJson,
  integrationForm,
  readForm,
  valuesOf,
} from "./integration-form.ts";
import { type Patch, pollStream, SentMarkup } from "./live-stream.ts";

interface Counts {
  pending: number;
  delivered: number;
  failed: number;
}

/**
 * Where the path's integrations live: a project (`/projects/{owner}/{repo}`), or an owner's
 * owner-wide integrations (`/owners/{owner}`). `api` is the API base of its `/integrations`,
 * `path` the dashboard's, `home` where actions return, `crumbs` the way back.
 */
export function projectOf(c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo");
  if (repo === undefined) {
    const path = `/owners/${encodeURIComponent(owner)}`;
    const home = `${path}/integrations`;
    return {
      name: `${owner} (owner-wide)`,
      owner,
      ownerWide: true,
      api: `/api/owners/${encodeURIComponent(owner)}`,
      path,
      home,
      crumbs: [
        { href: "/", label: "Projects" },
        { href: home, label: `${owner}: owner-wide integrations` },
      ],
    };
  }
  const name = `${owner}/${repo}`;
  const path = projectPath(name);
  return {
    name,
    owner,
    ownerWide: false,
    api: apiProjectPath(owner, repo),
    path,
    home: path,
    crumbs: [
      { href: "/", label: "Projects" },
      { href: path, label: name },
    ],
  };
}

/** Whether the signed-in person may change the scope's integrations (owner-wide: the operator only). */
function mayWrite(c: Context, project: ReturnType<typeof projectOf>) {
  const principal = c.get("principal");
  if (!principal) return false;
  return project.ownerWide ? principal.kind === "operator" : canWrite(principal, project.name);
}

/** What the project page says after an action (codes, so a link cannot put words on the page). */
export const DONE_MESSAGES: Record<string, string> = {
  paused: "The integration is paused: its deliveries are kept, not sent.",
  resumed: "The integration is active again: kept deliveries are being sent, oldest first.",
  deleted: "The integration and its delivery log were deleted.",
  saved: "The integration was saved.",
  redeployed: "Redeploy started: its activity is at the top of the list.",
  redelivered: "The delivery is pending again: it is sent with the same webhook-id.",
  "test-event": "Test event sent: its activities appear below as envhooks records them.",
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
      crumbs: project.crumbs,
      body: html`<h1>${title}${project.ownerWide ? html` <span class="muted">for every repository of ${project.owner}</span>` : ""}</h1>
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
  ownerWide: project.ownerWide,
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
      body: bodyOf(values, "create", type, project.ownerWide),
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
<p class="secret" id="integration-secret">${flash.secret}</p>
<p>${copyButton("the signing secret", { from: "integration-secret" })}</p>`
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
    body: bodyOf(values, "edit", answer.body.type, project.ownerWide),
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
  return c.redirect(`${project.home}?done=saved`, 303);
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
    // From the integration's own page (`back=integration`), back to it; else to the list.
    const back = action !== "delete" && c.req.query("back") === "integration";
    return c.redirect(
      back ? `${project.path}/integrations/${id}?done=${done}` : `${project.home}?done=${done}`,
      303,
    );
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
  const writable = mayWrite(c, project);
  const href = `${project.path}/integrations/${id}`;
  const deliveries = (n: number) => (n === 1 ? "delivery" : "deliveries");
  return renderPage(c, {
    title: `Delete the integration · ${project.name}`,
    current: "projects",
    crumbs: [...project.crumbs, { href, label: integrationName(integration) }],
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

/** The deliveries list's filters, as the URL carries them (and the API's query takes them). */
interface DeliveryFilter {
  status?: "pending" | "delivered" | "failed" | undefined;
  event?: string | undefined;
  code?: string | undefined;
}

const DELIVERY_STATES = ["pending", "delivered", "failed"] as const;

function deliveryFilterOf(query: (name: string) => string | undefined): DeliveryFilter {
  const event = query("event");
  const code = query("code");
  return {
    status: DELIVERY_STATES.find((state) => state === query("status")),
    event: event && /^[a-z_]+(\.[a-z_]+)*$/.test(event) && event.length <= 100 ? event : undefined,
    code: code && /^(0|[1-5]\d\d)$/.test(code) ? code : undefined,
  };
}

/** `status=…&event=…` for the filters set. */
function deliveryQuery(filter: DeliveryFilter): string {
  return Object.entries(filter)
    .filter(([, value]) => value)
    .map(([key, value]) => `${key}=${encodeURIComponent(value as string)}`)
    .join("&");
}

/** The API path of a page of the integration's deliveries. */
function deliveriesApi(api: string, id: string, filter: DeliveryFilter, before?: number) {
  return `${api}/integrations/${id}/deliveries?limit=50${filter.status ? `&status=${filter.status}` : ""}${
    filter.event ? `&event=${encodeURIComponent(filter.event)}` : ""
  }${filter.code ? `&status_code=${filter.code}` : ""}${before ? `&cursor=${before}` : ""}`;
}

/** The integration's settings and state, in the element the live stream replaces whole. */
function integrationFacts(
  integration: IntegrationJson,
  health: HealthJson | undefined,
  writable: boolean,
): Markup {
  const counts = health?.counts;
  const done = counts ? counts.delivered + counts.failed : 0;
  return html`<div id="integration-facts"><dl class="facts">
<dt>Status</dt><dd>${integrationBadge(integration)} ${integration.disabled_reason ?? ""}</dd>
<dt>Type</dt><dd>${integration.type}${integration.format ? ` (${integration.format})` : ""}</dd>
<dt>URL</dt><dd><code class="break">${integrationUrl(integration.url, writable)}</code></dd>
${integration.project.endsWith("/*") ? html`<dt>Repositories</dt><dd>${integration.projects?.join(", ") ?? "all"}</dd>` : ""}
<dt>Events</dt><dd>${integration.events.join(", ")}</dd>
<dt>States</dt><dd>${integration.states.join(", ")}${integration.results ? html` (${integration.results.join(", ")} only)` : ""}</dd>
<dt>Environments</dt><dd>${integration.environments.join(", ")}${
    integration.excluded_environments.length
      ? html`, except ${integration.excluded_environments.join(", ")}`
      : ""
  }</dd>
<dt>Last attempt</dt><dd>${
    integration.last_datetime
      ? html`${when(integration.last_datetime)} ${integration.last_reason ?? integration.last_status ?? ""}`
      : html`<span class="muted">never</span>`
  }</dd>
<dt>Success, 24 h</dt><dd>${
    done > 0 && counts
      ? html`${Math.round((counts.delivered / done) * 100)} % <span class="muted">(${counts.delivered} of ${done})</span>`
      : html`<span class="muted">no delivery</span>`
  }</dd>
<dt>Latency, 24 h</dt><dd>${
    health && health.latency_ms.attempts > 0
      ? html`p50 ${duration(health.latency_ms.p50)} · p95 ${duration(health.latency_ms.p95)} <span class="muted">(${health.latency_ms.attempts} attempts)</span>`
      : html`<span class="muted">no attempt</span>`
  }</dd>
</dl>
${health ? healthChart(health.hours, "delivery-chart") : ""}</div>`;
}

/** Test, Pause or Resume, Edit and Delete, on the integration's own page (each comes back to it). */
function integrationButtons(c: Context, integration: IntegrationJson, href: string): Markup {
  const button = (action: string, label: string) =>
    html`<form method="post" action="${href}/${action}?back=integration" class="inline">${csrfInput(c)}<button type="submit">${label}</button></form>`;
  return html`<div class="actions" id="integration-actions">
${button("test", "Send a test")}
${integration.status === "active" ? button("pause", "Pause") : button("resume", integration.status === "disabled" ? "Re-enable" : "Resume")}
<a class="button" href="${href}/edit">Edit</a>
<a class="button danger" href="${href}/delete">Delete…</a>
</div>`;
}

/** The deliveries list's filters: a GET form, so they live in the URL. */
function deliveryFilters(href: string, filter: DeliveryFilter): Markup {
  return html`<form method="get" action="${href}#deliveries-heading" class="filters" aria-label="Filter deliveries">
<div class="field"><label for="filter-status">State</label><select id="filter-status" name="status"><option value="">any</option>${DELIVERY_STATES.map(
    (state) =>
      html`<option value="${state}"${state === filter.status ? html` selected` : ""}>${state}</option>`,
  )}</select></div>
<div class="field"><label for="filter-event">Event</label><input type="text" id="filter-event" name="event" value="${filter.event ?? ""}" placeholder="environment.push" list="event-types" /></div>
<datalist id="event-types">${ACTIVITY_TYPE_NAMES.map((type) => html`<option value="${type}"></option>`)}</datalist>
<div class="field"><label for="filter-code">Status code</label><input type="text" id="filter-code" name="code" value="${filter.code ?? ""}" inputmode="numeric" placeholder="500, or 0: no answer" size="8" /></div>
<div class="filter-buttons"><button type="submit">Filter</button>${deliveryQuery(filter) ? html` <a href="${href}#deliveries-heading">Clear</a>` : ""}</div>
</form>`;
}

const ACTIVITY_TYPE_NAMES = [
  "environment.push",
  "environment.branch",
  "environment.redeploy",
  "environment.activate",
  "environment.deactivate",
  "environment.delete",
  "integration.disabled",
  "integration.delivery.failed",
  "environment.runner.timeout",
];

/** One integration: its state and health, its deliveries (newest first, live) and bulk redeliver. */
export async function integrationPage(deps: WebDeps, c: Context) {
  const { project, id, answer } = await loadIntegration(deps, c);
  if (!answer.ok) return errorPage(c, answer);
  const integration = answer.body;
  const filter = deliveryFilterOf((name) => c.req.query(name));
  const before = cursorParam(c.req.query("before"));
  const [deliveries, health] = await Promise.all([
    callApi<{ items: DeliveryJson[]; next_cursor: number | null }>(
      deps,
      c,
      deliveriesApi(project.api, id, filter, before),
    ),
    callApi<HealthJson>(deps, c, `${project.api}/integrations/${id}/health`),
  ]);
  if (!deliveries.ok) return errorPage(c, deliveries);
  const writable = mayWrite(c, project);
  const href = `${project.path}/integrations/${id}`;
  const flash = await takeFlash(deps, c);
  const tested = await testResult(deps, c, integration.id);
  const done = DONE_MESSAGES[c.req.query("done") ?? ""];
  const query = deliveryQuery(filter);
  return renderPage(c, {
    title: `${integrationName(integration)} · ${project.name}`,
    current: "projects",
    crumbs: project.crumbs,
    body: html`<h1>${integrationName(integration)}</h1>
<p class="muted">${integration.type} integration <code>${integration.id}</code> ${copyButton("id", { text: integration.id })}${project.ownerWide ? html` · for every repository of ${project.owner}` : ""}</p>
${done ? html`<p class="notice ok" role="status">${done}</p>` : ""}
${addedNotice(flash, integration)}
${testNotice(tested)}
${writable ? integrationButtons(c, integration, href) : ""}
<div data-live="${href}/live${query ? `?${query}` : ""}" id="integration-live">
${integrationFacts(integration, health.ok ? health.body : undefined, writable)}

<h2 id="deliveries-heading">Deliveries</h2>
${deliveryFilters(href, filter)}
${deliveryTable(deliveries.body.items, { c, href, writable, live: !before })}
</div>
${
  deliveries.body.next_cursor
    ? html`<p><a href="${href}?${query ? `${query}&` : ""}before=${deliveries.body.next_cursor}#deliveries-heading">Older deliveries</a></p>`
    : ""
}${before ? html`<p><a href="${href}${query ? `?${query}` : ""}#deliveries-heading">Newest deliveries</a></p>` : ""}

${
  writable
    ? html`<h2 id="redeliver-heading">Redeliver failed deliveries</h2>
<form method="get" action="${href}/redeliver" class="stack">
<div class="field">
<label for="since">Failed deliveries created since (UTC, not your local time)</label>
<p class="hint" id="since-hint">As UTC, e.g. ${utcText(new Date(Date.now() - 86_400_000).toISOString()).slice(0, 16)}; now it is ${utcText(new Date().toISOString())}.</p>
<input type="datetime-local" id="since" name="since" required step="1" aria-describedby="since-hint" value="${new Date(Date.now() - 86_400_000).toISOString().slice(0, 16)}" />
</div>
<button type="submit">Count them</button>
</form>`
    : ""
}`,
  });
}

/**
 * The integration's page, live: its state and chart, and its deliveries (of the page's filters) as
 * they are created and change — a new one on top, a changed one where it is.
 */
export function integrationStream(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const id = encodeURIComponent(c.req.param("id") ?? "");
  const filter = deliveryFilterOf((name) => c.req.query(name));
  const href = `${project.path}/integrations/${id}`;
  const writable = mayWrite(c, project);
  const sent = new SentMarkup();
  return pollStream(c, async () => {
    const [integration, deliveries, health] = await Promise.all([
      callApi<IntegrationJson>(deps, c, `${project.api}/integrations/${id}`),
      callApi<{ items: DeliveryJson[] }>(deps, c, deliveriesApi(project.api, id, filter)),
      callApi<HealthJson>(deps, c, `${project.api}/integrations/${id}/health`),
    ]);
    if (!integration.ok || !deliveries.ok) return { patches: [], done: true };
    const patches: Patch[] = [];
    const add = (patch: Patch) => {
      const changed = sent.changed(patch);
      if (changed) patches.push(changed);
    };
    add({
      id: "integration-facts",
      html: String(await integrationFacts(integration.body, health.ok ? health.body : undefined, writable)),
    });
    for (const delivery of [...deliveries.body.items].reverse()) {
      add({
        id: `delivery-${delivery.id}`,
        html: String(await deliveryRow(delivery, { c, href, writable })),
        into: "delivery-rows",
      });
    }
    if (deliveries.body.items.length > 0) add({ id: "no-delivery", html: "" });
    return { patches };
  });
}

/** Sends one delivery again from the integration's page, and comes back to it. */
export async function redeliverFromList(deps: WebDeps, c: Context) {
  const project = projectOf(c);
  const id = encodeURIComponent(c.req.param("id") ?? "");
  const delivery = c.req.param("delivery") ?? "";
  const answer = await callApi(deps, c, `/api/deliveries/${encodeURIComponent(delivery)}/redeliver`, {
    method: "POST",
  });
  if (!answer.ok) return errorPage(c, answer);
  return c.redirect(
    `${project.path}/integrations/${id}?done=redelivered#delivery-${encodeURIComponent(delivery)}`,
    303,
  );
}

interface RowOptions {
  c: Context;
  href: string;
  writable: boolean;
}

/** One delivery: state first (it is what a glance looks for), then what and when, and Redeliver. */
function deliveryRow(delivery: DeliveryJson, { c, href, writable }: RowOptions): Markup {
  return html`<tr id="delivery-${delivery.id}">
<td data-label="State" class="status-cell">${deliveryBadge(delivery.state)}</td>
<td><a class="mono break" href="/deliveries/${delivery.id}">${delivery.id}</a> ${copyButton("webhook-id", { text: delivery.id })}</td>
<td data-label="Activity">${
    delivery.test
      ? html`${delivery.event} ${badge("info", "test")}`
      : html`<a href="/activities/${delivery.activity_id}">${delivery.event}</a>`
  }</td>
<td data-label="Attempts">${delivery.attempts}</td>
<td data-label="Last answer">${answerText(delivery.last_status, delivery.last_error) || html`<span class="muted">—</span>`}${
    delivery.state === "pending" && delivery.next_attempt_at ? html`<br />${nextAttempt(delivery)}` : ""
  }</td>
<td data-label="Created">${when(delivery.created_at)}</td>
<td>${
    writable && !delivery.test && delivery.state !== "pending"
      ? html`<form method="post" action="${href}/deliveries/${delivery.id}/redeliver" class="inline">${csrfInput(c)}<button type="submit" aria-label="Redeliver ${delivery.id}">Redeliver</button></form>`
      : ""
  }</td>
</tr>`;
}

function deliveryTable(deliveries: DeliveryJson[], options: RowOptions & { live: boolean }): Markup {
  return html`<div class="table-wrap"><table class="stack-narrow" aria-labelledby="deliveries-heading">
<thead><tr><th scope="col">State</th><th scope="col">Delivery</th><th scope="col">Activity</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody id="${options.live ? "delivery-rows" : "older-delivery-rows"}" aria-live="polite">${deliveries.map((delivery) => deliveryRow(delivery, options))}</tbody></table></div>
${deliveries.length === 0 ? html`<p class="muted" id="no-delivery">No delivery.</p>` : ""}`;
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
  const crumbs = [...project.crumbs, { href, label: "Integration" }];
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
    crumbs: [...project.crumbs, { href, label: "Integration" }],
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
