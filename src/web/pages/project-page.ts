import type { Context } from "hono";
import { html } from "hono/html";
import { type Activity, ALERT_TYPES } from "../../activity/activity.ts";
import { durationMs } from "../../config/repo-config.schema.ts";
import { canWrite } from "../../http/require-api-token.ts";
import { integrationName } from "../../relay/present-integration.ts";
import { csrfInput, type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { apiProjectPath, callApi } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import {
  activityBadge,
  badge,
  commitLink,
  cursorParam,
  duration,
  eventBadge,
  githubWeb,
  integrationBadge,
  integrationUrl,
  projectPath,
  pullRequestLink,
  when,
} from "./format.ts";
import { eventAttempts } from "./github-event-page.ts";
import { type HealthJson, lastDay, sparkline } from "./health-chart.ts";
import type { IntegrationJson } from "./integration-form.ts";
import { DONE_MESSAGES } from "./integration-pages.ts";
import { type Patch, pollStream, SentMarkup } from "./live-stream.ts";
import type { ProjectSummary } from "./projects-page.ts";

interface EnvironmentJson {
  name: string;
  title: string;
  status: string;
  is_main: boolean;
  url: string | null;
  pull_request: number | null;
  head_commit: string | null;
  updated_at: string;
  last_activity_id: string | null;
}

/** What a build gate last did to an environment (`/environment-gates`). */
interface GateJson {
  name: string;
  gate: string;
  head_commit: string | null;
}

/** "skipped (paths)" or "not created: limit" beside an environment's status. */
function gateBadge(gate: string | undefined): Markup | string {
  return gate ? html` ${badge(gate.startsWith("skipped") ? "info" : "warn", gate)}` : "";
}

interface EventJson {
  delivery_id: string;
  event: string;
  action: string | null;
  state: string;
  attempts: number;
  last_error: string | null;
  outcome: string | null;
  received_at: string;
}

/** The activity list's filters, as the URL carries them (and the API's query takes them). */
interface ActivityFilter {
  type?: string | undefined;
  state?: string | undefined;
  environment?: string | undefined;
  alerts?: (typeof ALERT_FILTERS)[number] | undefined;
}

const ACTIVITY_TYPE_OPTIONS = [
  "environment.push",
  "environment.branch",
  "environment.redeploy",
  "environment.activate",
  "environment.deactivate",
  "environment.delete",
  ...ALERT_TYPES,
];
const ACTIVITY_STATE_OPTIONS = ["pending", "in_progress", "complete", "cancelled"];

/** The filters from a query (anything unknown is left out, so a link cannot put words on the page). */
function activityFilterOf(query: (name: string) => string | undefined): ActivityFilter {
  const environment = query("environment");
  return {
    type: ACTIVITY_TYPE_OPTIONS.find((type) => type === query("type")),
    state: ACTIVITY_STATE_OPTIONS.find((state) => state === query("state")),
    environment: environment && environment.length <= 200 ? environment : undefined,
    alerts: ALERT_FILTERS.find((filter) => filter === query("alerts")),
  };
}

/** `type=…&state=…` for the filters set (empty when none). */
function filterQuery(filter: ActivityFilter): string {
  return Object.entries(filter)
    .filter(([, value]) => value)
    .map(([key, value]) => `${key}=${encodeURIComponent(value as string)}`)
    .join("&");
}

/** The activities API path for a page of `filter`. */
function activitiesApi(base: string, filter: ActivityFilter, before?: number) {
  const query = filterQuery(filter);
  return `${base}/activities?limit=20${before ? `&cursor=${before}` : ""}${query ? `&${query}` : ""}`;
}

/**
 * The environments' last activities: those on the page shown, and the others read one by one (an
 * older page, a filter), so the table names each by its type, never by a raw id.
 */
async function lastActivities(
  deps: WebDeps,
  c: Context,
  environments: EnvironmentJson[],
  shown: Activity[],
): Promise<Activity[]> {
  const known = new Set(shown.map((activity) => activity.id));
  const missing = [
    ...new Set(
      environments
        .map((environment) => environment.last_activity_id)
        .filter((id): id is string => !!id && !known.has(id)),
    ),
  ].slice(0, 50);
  const read = await Promise.all(
    missing.map((id) => callApi<Activity>(deps, c, `/api/activities/${encodeURIComponent(id)}`)),
  );
  return [...shown, ...read.flatMap((answer) => (answer.ok ? [answer.body] : []))];
}

/** A project before its first event: no environment, no activity, nothing received (its page still goes live). */
const NO_EVENT_YET = Symbol("no event yet");

/** Project: environments with redeploy, the live activity stream, integrations, GitHub events. */
export async function projectPage(deps: WebDeps, c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const base = apiProjectPath(owner, repo);
  // Older pages: `activities_before` and `events_before` are the API's cursors (positive integers).
  const activitiesBefore = cursorParam(c.req.query("activities_before"));
  const eventsBefore = cursorParam(c.req.query("events_before"));
  const filter = activityFilterOf((name) => c.req.query(name));
  const overview = await callApi<ProjectSummary>(deps, c, base);
  if (!overview.ok && overview.status !== 404) return errorPage(c, overview);
  const before = overview.ok ? undefined : NO_EVENT_YET;
  const name = overview.ok ? overview.body.project : `${owner}/${repo}`;
  const empty = { ok: true as const, body: { items: [], next_cursor: null } };
  const [environments, activities, integrations, events, gates] = await Promise.all([
    before
      ? { ok: true as const, body: [] as EnvironmentJson[] }
      : callApi<EnvironmentJson[]>(deps, c, `${base}/environments`),
    before
      ? empty
      : callApi<{ items: Activity[]; next_cursor: number | null }>(
          deps,
          c,
          activitiesApi(base, filter, activitiesBefore),
        ),
    loadIntegrations(deps, c, base),
    before
      ? empty
      : callApi<{ items: EventJson[]; next_cursor: number | null }>(
          deps,
          c,
          `${base}/github-events?limit=20${eventsBefore ? `&cursor=${eventsBefore}` : ""}`,
        ),
    before
      ? { ok: true as const, body: [] as GateJson[] }
      : callApi<GateJson[]>(deps, c, `${base}/environment-gates`),
  ]);
  if (!environments.ok) return errorPage(c, environments);
  if (!activities.ok) return errorPage(c, activities);
  if (!integrations.answer.ok) return errorPage(c, integrations.answer);
  if (!events.ok) return errorPage(c, events);
  const project: ProjectSummary = overview.ok ? overview.body : placeholderProject(name);
  const principal = c.get("principal");
  const writable = principal ? canWrite(principal, name) : false;
  const recent = activities.body.items;
  const flash = DONE_MESSAGES[c.req.query("done") ?? ""];
  const path = projectPath(name);
  const query = filterQuery(filter);
  const liveQuery = [query, eventsBefore ? "" : "events=1"].filter(Boolean).join("&");
  const known = await lastActivities(deps, c, environments.body, recent);

  return renderPage(c, {
    title: name,
    current: "projects",
    crumbs: [{ href: "/", label: "Projects" }],
    body: html`<h1>${name}</h1>
${flash ? html`<p class="notice ok" role="status">${flash}</p>` : ""}
${
  before || project.no_event_yet
    ? html`<div id="first-event"><p class="notice">envhooks has received no event from ${name} yet: its environments and
activities appear here with the first one, without a reload (install the GitHub App on the repository, then push).
Integrations set up now receive its first activities.</p></div>`
    : html`<p class="muted">Default branch <code>${project.default_branch}</code>${
        project.environment_ttl
          ? html` · environments with no activity for ${project.environment_ttl} are deleted`
          : ""
      } · <a href="${githubWeb(deps)}/${project.project}">on GitHub</a></p>`
}
${recent.length === 0 && !activitiesBefore && !query && writable ? testEventForm(c, path, project.default_branch || "main") : ""}

<section aria-labelledby="environments-heading">
<h2 id="environments-heading">Environments</h2>
${environmentsTable(environments.body, known, project, writable, c, path, githubWeb(deps), gates.ok ? gates.body : [])}
${writable && !before ? html`<p><a class="button" href="${path}/resync">Resync with GitHub…</a></p>` : ""}
</section>

<section aria-labelledby="activity-heading">
<h2 id="activity-heading">Activity</h2>
<p class="muted">Newest first; new activities appear here as they happen.</p>
${activityFilters(path, filter, environments.body)}
<div class="table-wrap"${activitiesBefore ? "" : html` data-live="${path}/live${liveQuery ? `?${liveQuery}` : ""}"`}>
<table class="stack-narrow">
<caption class="visually-hidden">Activities</caption>
<thead><tr><th scope="col">State</th><th scope="col">Activity</th><th scope="col">Environment</th><th scope="col">Progress</th><th scope="col">Created</th></tr></thead>
<tbody id="activity-rows" aria-live="polite">${recent.map(activityRow)}</tbody>
</table>
</div>
${recent.length === 0 ? html`<p id="no-activity" class="muted">${query ? "No activity matches these filters." : "No activity yet."}</p>` : ""}
<div id="activity-more">${
      activities.body.next_cursor
        ? html`<p><a data-more="activity-rows" href="${path}?${query ? `${query}&` : ""}activities_before=${activities.body.next_cursor}#activity-heading">Older activities</a></p>`
        : ""
    }</div>${activitiesBefore ? html`<p><a href="${path}${query ? `?${query}` : ""}#activity-heading">Newest activities</a></p>` : ""}
</section>

<section aria-labelledby="integrations-heading">
<h2 id="integrations-heading">Integrations</h2>
${writable ? html`<p><a class="button" href="${path}/integrations/new">Add an integration</a></p>` : ""}
${integrationsTable(integrations.list, integrations.healths, writable, c, path)}
</section>

<section aria-labelledby="events-heading">
<h2 id="events-heading">GitHub events</h2>
<div id="github-events">${eventsTable(events.body.items, path)}</div>
${
  events.body.next_cursor
    ? html`<p><a href="${path}?events_before=${events.body.next_cursor}#events-heading">Older GitHub events</a></p>`
    : ""
}
</section>`,
  });
}

/** "Send a test event": the API's simulated push, then back to the page, where its activities appear live. */
export async function sendTestEvent(deps: WebDeps, c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const values = await c.req.parseBody();
  const branch = typeof values.branch === "string" ? values.branch.trim() : "";
  const answer = await callApi<{ delivery_id: string }>(
    deps,
    c,
    `${apiProjectPath(owner, repo)}/test-event`,
    {
      method: "POST",
      body: { branch },
    },
  );
  if (!answer.ok) return errorPage(c, answer);
  return c.redirect(`${projectPath(`${owner}/${repo}`)}?done=test-event#activity-heading`, 303);
}

/** What the page shows of a project envhooks has no event from yet. */
function placeholderProject(name: string): ProjectSummary {
  return {
    project: name,
    key: name.toLowerCase(),
    default_branch: "main",
    environment_ttl: null,
    last_activity: null,
    environments: { total: 0, active: 0 },
    integrations: { total: 0, failing: 0, disabled: 0, paused: 0 },
    github_events: { pending: 0, failed: 0 },
  };
}

/**
 * "Send a test event": the CLI's `simulate` from the page, for those who may write — a push to a
 * branch of their choice, marked simulated — so a new project shows what envhooks does.
 */
function testEventForm(c: Context, path: string, branch: string): Markup {
  return html`<section id="test-event" class="notice" aria-labelledby="test-event-heading">
<h2 id="test-event-heading">Try it: send a test event</h2>
<p>Simulate a push to a branch, as GitHub would send it (marked simulated): envhooks records its
activities and sends them to this project's integrations.</p>
<form method="post" action="${path}/test-event" class="actions">
${csrfInput(c)}
<label for="test-branch">Branch</label>
<input type="text" id="test-branch" name="branch" value="${branch}" maxlength="200" required />
<button type="submit" class="primary">Send a test event</button>
</form>
</section>`;
}

/** The environments, in the element the live stream replaces whole. */
function environmentsTable(
  environments: EnvironmentJson[],
  recent: Activity[],
  project: ProjectSummary,
  writable: boolean,
  c: Context,
  path: string,
  web: string,
  gates: GateJson[] = [],
): Markup {
  const gateOf = new Map(gates.map((gate) => [gate.name, gate.gate]));
  const refused = gates.filter((gate) => !environments.some((environment) => environment.name === gate.name));
  if (environments.length === 0 && refused.length === 0) {
    return html`<div id="environments"><p class="muted">No environment yet.</p></div>`;
  }
  const byId = new Map(recent.map((activity) => [activity.id, activity]));
  const ttlMs = project.environment_ttl ? durationMs(project.environment_ttl) : undefined;
  return html`<div id="environments"><div class="table-wrap"><table class="stack-narrow">
<caption class="visually-hidden">Environments</caption>
<thead><tr><th scope="col">Environment</th><th scope="col">Status</th><th scope="col">URL</th><th scope="col">Pull request</th><th scope="col">Head</th><th scope="col">Last activity</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${environments.map((environment) => {
    const last = environment.last_activity_id ? byId.get(environment.last_activity_id) : undefined;
    const expires =
      ttlMs && !environment.is_main
        ? new Date(new Date(environment.updated_at).getTime() + ttlMs).toISOString()
        : undefined;
    return html`<tr id="environment-${environment.name}">
<th scope="row">${environment.title}${environment.is_main ? html` ${badge("info", "default branch")}` : ""}</th>
<td data-label="Status" class="status-cell">${environment.status === "active" ? badge("ok", "active") : badge("none", environment.status)}${
      // wait_for_checks (issue 25): its build waits for the head commit's checks.
      last?.waiting_for_checks ? html` ${badge("info", "waiting for checks")}` : ""
    }${gateBadge(gateOf.get(environment.name))}</td>
<td data-label="URL" class="break">${environment.url ? html`<a href="${environment.url}">${environment.url}</a>` : html`<span class="muted">—</span>`}</td>
<td data-label="Pull request">${pullRequestLink(web, project.project, environment.pull_request)}</td>
<td data-label="Head">${commitLink(web, project.project, environment.head_commit)}</td>
<td data-label="Last activity">${
      environment.last_activity_id
        ? html`<a href="/activities/${environment.last_activity_id}">${last?.type ?? environment.last_activity_id}</a>
          ${last ? activityBadge(last) : ""}`
        : html`<span class="muted">—</span>`
    }</td>
<td data-label="Expires">${expires ? when(expires) : html`<span class="muted">never</span>`}</td>
<td>${
      writable && environment.status === "active"
        ? html`<form method="post" action="${path}/environments/${encodeURIComponent(environment.name)}/redeploy" class="inline">
  ${csrfInput(c)}<button type="submit" aria-label="Redeploy ${environment.name}">Redeploy</button>
</form>`
        : ""
    }</td>
</tr>`;
  })}${refused.map(
    (gate) => html`<tr id="environment-${gate.name}">
<th scope="row">${gate.name}</th>
<td data-label="Status" class="status-cell">${badge("none", "none")}${gateBadge(gate.gate)}</td>
<td data-label="URL"><span class="muted">—</span></td><td data-label="Pull request"><span class="muted">—</span></td>
<td data-label="Head">${commitLink(web, project.project, gate.head_commit)}</td>
<td data-label="Last activity"><span class="muted">—</span></td><td data-label="Expires"><span class="muted">—</span></td><td></td>
</tr>`,
  )}</tbody></table></div></div>`;
}

const ALERT_FILTERS = ["only", "exclude"] as const;

/**
 * The activity list's filters: a GET form, so they live in the URL (a link shares them, a reload
 * keeps them); without JavaScript, its button applies them.
 */
function activityFilters(path: string, filter: ActivityFilter, environments: EnvironmentJson[]): Markup {
  const select = (name: string, label: string, options: Array<[string, string]>, value: string | undefined) =>
    html`<div class="field"><label for="filter-${name}">${label}</label><select id="filter-${name}" name="${name}">
<option value="">any</option>${options.map(
      ([option, text]) =>
        html`<option value="${option}"${option === value ? html` selected` : ""}>${text}</option>`,
    )}</select></div>`;
  const names = environments.map((environment) => environment.name);
  if (filter.environment && !names.includes(filter.environment)) names.push(filter.environment);
  return html`<form method="get" action="${path}#activity-heading" class="filters" aria-label="Filter activities">
${select(
  "type",
  "Type",
  ACTIVITY_TYPE_OPTIONS.map((type) => [type, type]),
  filter.type,
)}
${select(
  "state",
  "State",
  ACTIVITY_STATE_OPTIONS.map((state) => [state, state.replace("_", " ")]),
  filter.state,
)}
${select(
  "environment",
  "Environment",
  names.map((name) => [name, name]),
  filter.environment,
)}
${select(
  "alerts",
  "Alerts",
  [
    ["exclude", "without alerts"],
    ["only", "alerts only"],
  ],
  filter.alerts,
)}
<div class="filter-buttons"><button type="submit">Filter</button>${
    filterQuery(filter) ? html` <a href="${path}#activity-heading">Clear</a>` : ""
  }</div>
</form>`;
}

/** One row of the activity stream (also what the live stream sends). */
export function activityRow(activity: Activity): Markup {
  return html`<tr id="activity-${activity.id}">
<td data-label="State" class="status-cell">${activityBadge(activity)}</td>
<td><a href="/activities/${activity.id}">${activity.type}</a><br /><span class="muted">${activity.text}</span></td>
<td data-label="Environment">${activity.parameters.environment ?? html`<span class="muted">—</span>`}</td>
<td data-label="Progress" class="nowrap"><progress max="100" value="${activity.completion_percent}" aria-label="Progress of ${activity.id}">${activity.completion_percent} %</progress> ${activity.completion_percent} %</td>
<td data-label="Created">${when(activity.created_at)}</td>
</tr>`;
}

/** A project's integrations with each one's last 24 hours (undefined where it could not be read). */
export async function loadIntegrations(deps: WebDeps, c: Context, base: string) {
  const answer = await callApi<IntegrationJson[]>(deps, c, `${base}/integrations`);
  if (!answer.ok) return { answer, list: [], healths: [] };
  const healths = await Promise.all(
    answer.body.map(async (integration) => {
      const health = await callApi<HealthJson>(deps, c, `${base}/integrations/${integration.id}/health`);
      return health.ok ? health.body : undefined;
    }),
  );
  return { answer, list: answer.body, healths };
}

/** The integrations, in the element the live stream replaces whole. */
export function integrationsTable(
  integrations: IntegrationJson[],
  healths: Array<HealthJson | undefined>,
  writable: boolean,
  c: Context,
  path: string,
): Markup {
  if (integrations.length === 0) {
    return html`<div id="integrations"><p class="muted">No integration: activities go nowhere yet.</p></div>`;
  }
  return html`<div id="integrations"><div class="table-wrap"><table class="stack-narrow">
<caption class="visually-hidden">Integrations</caption>
<thead><tr><th scope="col">Integration</th><th scope="col">Status</th><th scope="col">Last attempt</th><th scope="col">Success, 24 h</th><th scope="col">Latency p50 / p95</th><th scope="col">Filters</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${integrations.map((integration, index) => {
    const health = healths[index];
    const counts = health?.counts;
    const done = counts ? counts.delivered + counts.failed : 0;
    const href = `${path}/integrations/${integration.id}`;
    return html`<tr id="integration-${integration.id}">
<th scope="row"><a href="${href}">${integrationName(integration)}</a><br /><span class="muted">${integration.type}${integration.format ? ` (${integration.format})` : ""}</span><br /><code class="break">${integrationUrl(integration.url, writable)}</code></th>
<td data-label="Status" class="status-cell">${integrationBadge(integration)}${integration.disabled_reason ? html`<br /><span>${integration.disabled_reason}</span>` : ""}</td>
<td data-label="Last attempt">${
      integration.last_datetime
        ? html`${when(integration.last_datetime)}<br /><span class="last-answer">${integration.last_reason ?? integration.last_status ?? ""}</span>`
        : html`<span class="muted">never</span>`
    }</td>
<td data-label="Success, 24 h" class="success-cell">${
      done > 0 && counts
        ? html`<span class="rate">${Math.round((counts.delivered / done) * 100)} %</span> <span class="muted">(${counts.delivered} of ${done})</span>`
        : html`<span class="muted">no delivery</span>`
    }${health ? html`<br />${sparkline(lastDay(health.hours))}` : ""}</td>
<td data-label="Latency p50 / p95" class="nowrap">${
      health && health.latency_ms.attempts > 0
        ? html`${duration(health.latency_ms.p50)} / ${duration(health.latency_ms.p95)}`
        : html`<span class="muted">—</span>`
    }</td>
<td data-label="Filters"><span class="muted">events</span> ${integration.events.join(", ")}<br />
<span class="muted">states</span> ${integration.states.join(", ")}<br />
<span class="muted">environments</span> ${integration.environments.join(", ")}${
      integration.excluded_environments.length
        ? html`<br /><span class="muted">except</span> ${integration.excluded_environments.join(", ")}`
        : ""
    }</td>
<td>${writable ? integrationActions(integration, c, href) : ""}</td>
</tr>`;
  })}</tbody></table></div></div>`;
}

function integrationActions(integration: IntegrationJson, c: Context, href: string): Markup {
  const button = (action: string, label: string, className = "") =>
    html`<form method="post" action="${href}/${action}" class="inline">${csrfInput(c)}<button type="submit" class="${className}" aria-label="${label} ${integration.type} integration ${integration.id} (${integrationName(integration)})">${label}</button></form>`;
  return html`<div class="actions">
<a class="button" href="${href}/edit" aria-label="Edit ${integration.type} integration ${integration.id} (${integrationName(integration)})">Edit</a>
${button("test", "Test")}
${integration.status === "active" ? button("pause", "Pause") : button("resume", "Resume")}
<a class="button danger" href="${href}/delete" aria-label="Delete ${integration.type} integration ${integration.id} (${integrationName(integration)})">Delete</a>
</div>`;
}

function eventsTable(events: EventJson[], path: string): Markup {
  if (events.length === 0) return html`<p class="muted">No GitHub delivery received yet.</p>`;
  return html`<div class="table-wrap"><table class="stack-narrow">
<caption class="visually-hidden">GitHub events</caption>
<thead><tr><th scope="col">State</th><th scope="col">Delivery</th><th scope="col">Event</th><th scope="col">Received</th><th scope="col">Applying</th><th scope="col">Outcome</th></tr></thead>
<tbody>${events.map(
    (event) => html`<tr>
<td data-label="State" class="status-cell">${eventBadge(event.state)}</td>
<td><a class="mono break" href="${path}/github-events/${encodeURIComponent(event.delivery_id)}">${event.delivery_id}</a></td>
<td data-label="Event">${event.event}${event.action ? `.${event.action}` : ""}</td>
<td data-label="Received">${when(event.received_at)}</td>
<td data-label="Applying">${eventAttempts(event)}</td>
<td data-label="Outcome">${event.last_error ? html`<span>${event.last_error}</span>` : (event.outcome ?? "")}</td>
</tr>`,
  )}</tbody></table></div>`;
}

/**
 * The project page, live: new and changed activities (of the page's filters), the environments and
 * the integrations (status, last attempt, success and latency) as they change, and (with `?events=1`,
 * when the page shows the newest) the GitHub events. A project with no event yet is asked again
 * each time: its first event fills the page.
 */
export function projectStream(deps: WebDeps, c: Context) {
  const base = apiProjectPath(c.req.param("owner") ?? "", c.req.param("repo") ?? "");
  const name = `${c.req.param("owner") ?? ""}/${c.req.param("repo") ?? ""}`;
  const path = projectPath(name);
  const filter = activityFilterOf((key) => c.req.query(key));
  const sent = new SentMarkup();
  // The project's name and options, once it has them: its counts (and their scan of failed events) are not shown live.
  let overview: ProjectSummary | undefined;
  return pollStream(c, async () => {
    if (!overview) {
      const answer = await callApi<ProjectSummary>(deps, c, base);
      if (answer.ok) overview = answer.body;
      else if (answer.status !== 404) return { patches: [], done: true };
    }
    const principal = c.get("principal");
    const writable = principal ? canWrite(principal, overview?.project ?? name) : false;
    const patches: Patch[] = [];
    const add = (patch: Patch) => {
      const changed = sent.changed(patch);
      if (changed) patches.push(changed);
    };
    const integrations = await loadIntegrations(deps, c, base);
    if (!integrations.answer.ok) return { patches: [], done: true };
    add({
      id: "integrations",
      html: String(await integrationsTable(integrations.list, integrations.healths, writable, c, path)),
    });
    if (!overview) return { patches };
    const withEvents = c.req.query("events") === "1";
    const [environments, activities, events, gates] = await Promise.all([
      callApi<EnvironmentJson[]>(deps, c, `${base}/environments`),
      callApi<{ items: Activity[] }>(deps, c, activitiesApi(base, filter)),
      withEvents ? callApi<{ items: EventJson[] }>(deps, c, `${base}/github-events?limit=20`) : undefined,
      callApi<GateJson[]>(deps, c, `${base}/environment-gates`),
    ]);
    if (!environments.ok || !activities.ok || events?.ok === false) {
      return { patches: [], done: true };
    }
    const recent = activities.body.items;
    add({ id: "first-event", html: `<div id="first-event"></div>` });
    // Oldest first, each put first: the newest ends on top.
    for (const activity of [...recent].reverse()) {
      add({
        id: `activity-${activity.id}`,
        html: String(await activityRow(activity)),
        into: "activity-rows",
      });
    }
    if (recent.length > 0) {
      add({ id: "no-activity", html: "" });
      add({ id: "test-event", html: "" });
    }
    const known = await lastActivities(deps, c, environments.body, recent);
    add({
      id: "environments",
      html: String(
        await environmentsTable(
          environments.body,
          known,
          overview,
          writable,
          c,
          path,
          githubWeb(deps),
          gates.ok ? gates.body : [],
        ),
      ),
    });
    if (events?.ok) {
      add({
        id: "github-events",
        html: `<div id="github-events">${await eventsTable(events.body.items, path)}</div>`,
      });
    }
    return { patches };
  });
}
