import type { Context } from "hono";
import { html } from "hono/html";
import { renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { callApi } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import { activityBadge, badge, projectPath, when } from "./format.ts";
import { type HourJson, lastDay, sparkline } from "./health-chart.ts";
import { type Patch, pollStream, SentMarkup } from "./live-stream.ts";

/** What `GET /api/projects` answers for each project. */
export interface ProjectSummary {
  project: string;
  key: string;
  /** Null until the first event names it (a repository listed by its installation). */
  default_branch: string | null;
  /** `inactive`: the repository was deleted or left the installation. */
  status?: string;
  /** Listed by its installation, no event from it yet. */
  no_event_yet?: boolean;
  environment_ttl: string | null;
  last_activity: {
    id: string;
    type: string;
    state: string;
    result: string | null;
    created_at: string;
  } | null;
  environments: { total: number; active: number; by_status?: Record<string, number> };
  delivery_hours?: HourJson[];
  integrations: { total: number; failing: number; disabled: number; paused: number };
  github_events: { pending: number; failed: number };
}

/** Projects: each repository with its last activity and what needs attention. */
export async function projectsPage(deps: WebDeps, c: Context) {
  const answer = await callApi<ProjectSummary[]>(deps, c, "/api/projects");
  if (!answer.ok) return errorPage(c, answer);
  const projects = answer.body;
  // Owner-wide integrations are the operator's (the API refuses anyone else).
  const owners =
    c.get("principal")?.kind === "operator"
      ? [...new Set(projects.map((project) => project.project.split("/")[0] ?? ""))].filter(Boolean)
      : [];
  return renderPage(c, {
    title: "Projects",
    current: "projects",
    body: html`<h1>Projects</h1>
${
  owners.length > 0
    ? html`<p class="muted" id="owner-links">Owner-wide integrations: ${owners.map(
        (owner, index) =>
          html`${index > 0 ? " · " : ""}<a href="/owners/${encodeURIComponent(owner)}/integrations">${owner}</a>`,
      )}</p>`
    : ""
}
${
  projects.length === 0
    ? html`<p id="no-projects">No project yet. A repository appears here when the GitHub App is installed on it
(or with the first event envhooks receives from it).</p>`
    : ""
}
<ul class="cards" id="project-cards" aria-label="Projects" aria-live="polite" data-live="/projects/live">${projects.map(projectCard)}</ul>`,
  });
}

function projectCard(project: ProjectSummary) {
  const { integrations, github_events: events } = project;
  const health =
    integrations.failing + integrations.disabled > 0
      ? badge("bad", `${integrations.failing} failing, ${integrations.disabled} disabled`)
      : integrations.total > 0
        ? badge("ok", "all healthy")
        : badge("none", "none");
  return html`<li class="card" id="project-${project.key}">
  <h2><a href="${projectPath(project.project)}">${project.project}</a>${
    project.status === "inactive" ? html` ${badge("none", "repository gone")}` : ""
  }</h2>
  <dl class="facts">
    <dt>Last activity</dt>
    <dd>${
      project.last_activity
        ? html`<a href="/activities/${project.last_activity.id}">${project.last_activity.type}</a>
          ${activityBadge(project.last_activity)} ${when(project.last_activity.created_at)}`
        : project.no_event_yet
          ? html`<span class="muted no-event-yet">no event yet: integrations added now get its first push</span>`
          : html`<span class="muted">none yet</span>`
    }</dd>
    <dt>Environments</dt>
    <dd class="env-states">${environmentStates(project.environments)}</dd>
    <dt>Integrations</dt>
    <dd>${integrations.total}${integrations.paused ? html`, ${integrations.paused} paused` : ""} · ${health}</dd>
    ${
      integrations.total > 0
        ? html`<dt>Deliveries, 24 h</dt><dd class="spark">${sparkline(lastDay(project.delivery_hours ?? []))}</dd>`
        : ""
    }
    <dt>GitHub events</dt>
    <dd>${
      events.pending + events.failed === 0
        ? badge("ok", "none waiting")
        : html`${events.pending ? badge("warn", `${events.pending} waiting`) : ""}
          ${events.failed ? badge("bad", `${events.failed} failed`) : ""}`
    }</dd>
  </dl>
</li>`;
}

/** Environments by state, as counts ("2 active · 1 inactive"). */
function environmentStates(environments: ProjectSummary["environments"]) {
  const states = Object.entries(environments.by_status ?? { active: environments.active }).filter(
    ([, count]) => count > 0,
  );
  if (states.length === 0) return html`<span class="muted">none yet</span>`;
  return html`${states
    .sort(([a], [b]) => (a === "active" ? -1 : b === "active" ? 1 : a.localeCompare(b)))
    .map(
      ([state, count], index) =>
        html`${index > 0 ? " · " : ""}${state === "active" ? badge("ok", `${count} active`) : badge("none", `${count} ${state}`)}`,
    )}`;
}

/**
 * The projects page asks less often than the others: its counts of failed GitHub events have no
 * index of their own (a scan of the project's events).
 */
const PROJECTS_POLL_MS = 5000;

/** The projects page, live: a project's card changes (or appears) as its state does. */
export function projectsStream(deps: WebDeps, c: Context) {
  const sent = new SentMarkup();
  return pollStream(
    c,
    async () => {
      const answer = await callApi<ProjectSummary[]>(deps, c, "/api/projects");
      if (!answer.ok) return { patches: [], done: true };
      const patches: Patch[] = [];
      // A card already shown is replaced where it is; a new project's card comes first.
      for (const project of [...answer.body].reverse()) {
        const patch = sent.changed({
          id: `project-${project.key}`,
          html: String(await projectCard(project)),
        });
        if (patch) patches.push(patch);
      }
      if (answer.body.length > 0) {
        const gone = sent.changed({ id: "no-projects", html: "" });
        if (gone) patches.push(gone);
      }
      return { patches };
    },
    PROJECTS_POLL_MS,
  );
}
