import type { Context } from "hono";
import { html } from "hono/html";
import type { Activity } from "../../activity/activity.ts";
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
  eventBadge,
  githubWeb,
  integrationBadge,
  integrationUrl,
  projectPath,
  pullRequestLink,
  when,
} from "./format.ts";
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

interface Counts {
  pending: number;
  delivered: number;
  failed: number;
}

const DAY_MS = 86_400_000;

/** Project: environments with redeploy, the live activity stream, integrations, GitHub events. */
export async function projectPage(deps: WebDeps, c: Context) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const base = apiProjectPath(owner, repo);
  // Older pages: `activities_before` and `events_before` are the API's cursors (positive integers).
  const activitiesBefore = cursorParam(c.req.query("activities_before"));
  const eventsBefore = cursorParam(c.req.query("events_before"));
  // The activity list's filter: alerts alone, or everything else (the API's `alerts`).
  const alerts = ALERT_FILTERS.find((filter) => filter === c.req.query("alerts"));
  const overview = await callApi<ProjectSummary>(deps, c, base);
  if (!overview.ok && overview.status === 404) return projectBeforeFirstEvent(deps, c, `${owner}/${repo}`);
  if (!overview.ok) return errorPage(c, overview);
  const [environments, activities, integrations, events] = await Promise.all([
    callApi<EnvironmentJson[]>(deps, c, `${base}/environments`),
    callApi<{ items: Activity[]; next_cursor: number | null }>(
      deps,
      c,
      `${base}/activities?limit=20${activitiesBefore ? `&cursor=${activitiesBefore}` : ""}${alerts ? `&alerts=${alerts}` : ""}`,
    ),
    callApi<IntegrationJson[]>(deps, c, `${base}/integrations`),
    callApi<{ items: EventJson[]; next_cursor: number | null }>(
      deps,
      c,
      `${base}/github-events?limit=20${eventsBefore ? `&cursor=${eventsBefore}` : ""}`,
    ),
  ]);
  for (const answer of [environments, activities, integrations, events]) {
    if (!answer.ok) return errorPage(c, answer);
  }
  const project = overview.body;
  const since = new Date(Date.now() - DAY_MS).toISOString();
  const integrationList = integrations.ok ? integrations.body : [];
  const rates = await Promise.all(
    integrationList.map(async (integration) => {
      const counts = await callApi<Counts>(
        deps,
        c,
        `${base}/integrations/${integration.id}/delivery-counts?since=${encodeURIComponent(since)}`,
      );
      return counts.ok ? counts.body : undefined;
    }),
  );
  const principal = c.get("principal");
  const writable = principal ? canWrite(principal, project.project) : false;
  const recent = activities.ok ? activities.body.items : [];
  const flash = DONE_MESSAGES[c.req.query("done") ?? ""];
  const path = projectPath(project.project);

  return renderPage(c, {
    title: project.project,
    current: "projects",
    crumbs: [{ href: "/", label: "Projects" }],
    body: html`<h1>${project.project}</h1>
${flash ? html`<p class="notice ok" role="status">${flash}</p>` : ""}
<p class="muted">Default branch <code>${project.default_branch}</code>${
      project.environment_ttl
        ? html` · environments with no activity for ${project.environment_ttl} are deleted`
        : ""
    } · <a href="${githubWeb(deps)}/${project.project}">on GitHub</a></p>

<section aria-labelledby="environments-heading">
<h2 id="environments-heading">Environments</h2>
${environmentsTable(environments.ok ? environments.body : [], recent, project, writable, c, path, githubWeb(deps))}
${writable ? html`<p><a class="button" href="${path}/resync">Resync with GitHub…</a></p>` : ""}
</section>

<section aria-labelledby="activity-heading">
<h2 id="activity-heading">Activity</h2>
<p class="muted">Newest first; new activities appear here as they happen${alerts ? " (reload to see new ones with a filter)" : ""}.</p>
${activityFilters(path, alerts)}
<div class="table-wrap"${activitiesBefore || alerts ? "" : html` data-live="${path}/live${eventsBefore ? "" : "?events=1"}"`}>
<table>
<caption class="visually-hidden">Activities</caption>
<thead><tr><th scope="col">Activity</th><th scope="col">Environment</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Created</th></tr></thead>
<tbody id="activity-rows" aria-live="polite">${recent.map(activityRow)}</tbody>
</table>
</div>
${recent.length === 0 ? html`<p id="no-activity" class="muted">No activity yet.</p>` : ""}
${
  activities.ok && activities.body.next_cursor
    ? html`<p><a href="${path}?activities_before=${activities.body.next_cursor}${alerts ? `&alerts=${alerts}` : ""}#activity-heading">Older activities</a></p>`
    : ""
}${activitiesBefore ? html`<p><a href="${path}${alerts ? `?alerts=${alerts}` : ""}#activity-heading">Newest activities</a></p>` : ""}
</section>

<section aria-labelledby="integrations-heading">
<h2 id="integrations-heading">Integrations</h2>
${writable ? html`<p><a class="button" href="${path}/integrations/new">Add an integration</a></p>` : ""}
${integrationsTable(integrationList, rates, writable, c, path)}
</section>

<section aria-labelledby="events-heading">
<h2 id="events-heading">GitHub events</h2>
<div id="github-events">${eventsTable(events.ok ? events.body.items : [], path)}</div>
${
  events.ok && events.body.next_cursor
    ? html`<p><a href="${path}?events_before=${events.body.next_cursor}#events-heading">Older GitHub events</a></p>`
    : ""
}
</section>`,
  });
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
): Markup {
  if (environments.length === 0) {
    return html`<div id="environments"><p class="muted">No environment yet.</p></div>`;
  }
  const byId = new Map(recent.map((activity) => [activity.id, activity]));
  const ttlMs = project.environment_ttl ? durationMs(project.environment_ttl) : undefined;
  return html`<div id="environments"><div class="table-wrap"><table>
<thead><tr><th scope="col">Environment</th><th scope="col">Status</th><th scope="col">URL</th><th scope="col">Pull request</th><th scope="col">Head</th><th scope="col">Last activity</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${environments.map((environment) => {
    const last = environment.last_activity_id ? byId.get(environment.last_activity_id) : undefined;
    const expires =
      ttlMs && !environment.is_main
        ? new Date(new Date(environment.updated_at).getTime() + ttlMs).toISOString()
        : undefined;
    return html`<tr id="environment-${environment.name}">
<th scope="row">${environment.title}${environment.is_main ? html` ${badge("info", "default branch")}` : ""}</th>
<td>${environment.status === "active" ? badge("ok", "active") : badge("none", environment.status)}</td>
<td>${environment.url ? html`<a href="${environment.url}">${environment.url}</a>` : html`<span class="muted">—</span>`}</td>
<td>${pullRequestLink(web, project.project, environment.pull_request)}</td>
<td>${commitLink(web, project.project, environment.head_commit)}</td>
<td>${
      environment.last_activity_id
        ? html`<a href="/activities/${environment.last_activity_id}">${last?.type ?? environment.last_activity_id}</a>
          ${last ? activityBadge(last) : ""}`
        : html`<span class="muted">—</span>`
    }</td>
<td>${expires ? when(expires) : html`<span class="muted">never</span>`}</td>
<td>${
      writable && environment.status === "active"
        ? html`<form method="post" action="${path}/environments/${encodeURIComponent(environment.name)}/redeploy" class="inline">
  ${csrfInput(c)}<button type="submit" aria-label="Redeploy ${environment.name}">Redeploy</button>
</form>`
        : ""
    }</td>
</tr>`;
  })}</tbody></table></div></div>`;
}

const ALERT_FILTERS = ["only", "exclude"] as const;

/** Links between the whole activity list, the list without alerts and the alerts alone. */
function activityFilters(path: string, current: (typeof ALERT_FILTERS)[number] | undefined): Markup {
  const link = (filter: typeof current, label: string) =>
    html`<a href="${path}${filter ? `?alerts=${filter}` : ""}#activity-heading"${filter === current ? html` aria-current="page"` : ""}>${label}</a>`;
  return html`<nav aria-label="Activity filter" class="muted">Show: ${link(undefined, "All")} · ${link("exclude", "Without alerts")} · ${link("only", "Alerts only")}</nav>`;
}

/** One row of the activity stream (also what the live stream sends). */
export function activityRow(activity: Activity): Markup {
  return html`<tr id="activity-${activity.id}">
<td><a href="/activities/${activity.id}">${activity.type}</a><br /><span class="muted">${activity.text}</span></td>
<td>${activity.parameters.environment ?? html`<span class="muted">—</span>`}</td>
<td>${activityBadge(activity)}</td>
<td class="nowrap"><progress max="100" value="${activity.completion_percent}" aria-label="Progress of ${activity.id}">${activity.completion_percent} %</progress> ${activity.completion_percent} %</td>
<td>${when(activity.created_at)}</td>
</tr>`;
}

function integrationsTable(
  integrations: IntegrationJson[],
  rates: Array<Counts | undefined>,
  writable: boolean,
  c: Context,
  path: string,
): Markup {
  if (integrations.length === 0) return html`<p class="muted">No integration: activities go nowhere yet.</p>`;
  return html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Integration</th><th scope="col">Filters</th><th scope="col">Status</th><th scope="col">Last attempt</th><th scope="col">Success, 24 h</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${integrations.map((integration, index) => {
    const counts = rates[index];
    const done = counts ? counts.delivered + counts.failed : 0;
    const href = `${path}/integrations/${integration.id}`;
    return html`<tr id="integration-${integration.id}">
<th scope="row"><a href="${href}">${integrationName(integration)}</a><br /><span class="muted">${integration.type}${integration.format ? ` (${integration.format})` : ""}</span><br /><code>${integrationUrl(integration.url, writable)}</code></th>
<td><span class="muted">events</span> ${integration.events.join(", ")}<br />
<span class="muted">states</span> ${integration.states.join(", ")}<br />
<span class="muted">environments</span> ${integration.environments.join(", ")}${
      integration.excluded_environments.length
        ? html`<br /><span class="muted">except</span> ${integration.excluded_environments.join(", ")}`
        : ""
    }</td>
<td>${integrationBadge(integration)}${integration.disabled_reason ? html`<br /><span>${integration.disabled_reason}</span>` : ""}</td>
<td>${
      integration.last_datetime
        ? html`${when(integration.last_datetime)}<br />${integration.last_status ?? ""} ${integration.last_reason ?? ""}`
        : html`<span class="muted">never</span>`
    }</td>
<td>${done > 0 && counts ? html`${Math.round((counts.delivered / done) * 100)} % <span class="muted">(${counts.delivered} of ${done})</span>` : html`<span class="muted">no delivery</span>`}</td>
<td>${writable ? integrationActions(integration, c, href) : ""}</td>
</tr>`;
  })}</tbody></table></div>`;
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
  return html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Delivery</th><th scope="col">Event</th><th scope="col">Received</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Outcome</th></tr></thead>
<tbody>${events.map(
    (event) => html`<tr>
<td><a class="mono" href="${path}/github-events/${encodeURIComponent(event.delivery_id)}">${event.delivery_id}</a></td>
<td>${event.event}${event.action ? `.${event.action}` : ""}</td>
<td>${when(event.received_at)}</td>
<td>${eventBadge(event.state)}</td>
<td>${event.attempts}</td>
<td>${event.last_error ? html`<span>${event.last_error}</span>` : (event.outcome ?? "")}</td>
</tr>`,
  )}</tbody></table></div>`;
}

/**
 * The project page, live: new and changed activities, the environments as they change, and (with
 * `?events=1`, when the page shows the newest) the GitHub events.
 */
export function projectStream(deps: WebDeps, c: Context) {
  const base = apiProjectPath(c.req.param("owner") ?? "", c.req.param("repo") ?? "");
  const path = projectPath(`${c.req.param("owner") ?? ""}/${c.req.param("repo") ?? ""}`);
  const sent = new SentMarkup();
  // The project's name and options, once: its counts (and their scan of failed events) are not shown live.
  let overview: Awaited<ReturnType<typeof callApi<ProjectSummary>>> | undefined;
  return pollStream(c, async () => {
    overview ??= await callApi<ProjectSummary>(deps, c, base);
    const withEvents = c.req.query("events") === "1";
    const [environments, activities, events] = await Promise.all([
      callApi<EnvironmentJson[]>(deps, c, `${base}/environments`),
      callApi<{ items: Activity[] }>(deps, c, `${base}/activities?limit=20`),
      withEvents ? callApi<{ items: EventJson[] }>(deps, c, `${base}/github-events?limit=20`) : undefined,
    ]);
    if (!overview.ok || !environments.ok || !activities.ok || events?.ok === false) {
      return { patches: [], done: true };
    }
    const recent = activities.body.items;
    const patches: Patch[] = [];
    const add = (patch: Patch) => {
      const changed = sent.changed(patch);
      if (changed) patches.push(changed);
    };
    // Oldest first, each put first: the newest ends on top.
    for (const activity of [...recent].reverse()) {
      add({
        id: `activity-${activity.id}`,
        html: String(await activityRow(activity)),
        into: "activity-rows",
      });
    }
    if (recent.length > 0) add({ id: "no-activity", html: "" });
    const principal = c.get("principal");
    const writable = principal ? canWrite(principal, overview.body.project) : false;
    add({
      id: "environments",
      html: String(
        await environmentsTable(environments.body, recent, overview.body, writable, c, path, githubWeb(deps)),
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

/**
 * A project envhooks has no event from yet: its integrations can be set up already (they are kept
 * by the repository's name), so that the first activity is relayed.
 */
async function projectBeforeFirstEvent(deps: WebDeps, c: Context, name: string) {
  const base = apiProjectPath(...(name.split("/") as [string, string]));
  const integrations = await callApi<IntegrationJson[]>(deps, c, `${base}/integrations`);
  if (!integrations.ok) return errorPage(c, integrations);
  const principal = c.get("principal");
  const writable = principal ? canWrite(principal, name) : false;
  const path = projectPath(name);
  const flash = DONE_MESSAGES[c.req.query("done") ?? ""];
  return renderPage(c, {
    title: name,
    current: "projects",
    crumbs: [{ href: "/", label: "Projects" }],
    body: html`<h1>${name}</h1>
${flash ? html`<p class="notice ok" role="status">${flash}</p>` : ""}
<p class="notice">envhooks has received no event from ${name} yet: its environments and activities appear
with the first one (install the GitHub App on the repository, then push). Integrations set up now
receive its first activities.</p>
<section aria-labelledby="integrations-heading">
<h2 id="integrations-heading">Integrations</h2>
${writable ? html`<p><a class="button" href="${path}/integrations/new">Add an integration</a></p>` : ""}
${integrationsTable(integrations.body, [], writable, c, path)}
</section>`,
  });
}
