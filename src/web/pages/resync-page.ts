import type { Context } from "hono";
import { html } from "hono/html";
import { csrfInput, type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { apiProjectPath, callApi } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import { projectPath } from "./format.ts";

/** What `POST /api/projects/{owner}/{repo}/resync` answers. */
interface ResyncJson {
  project: string;
  github_requests: number;
  branches: number;
  pull_requests: number | null;
  plan: Array<{ action: string; environment: string; reason: string }>;
  notes: string[];
  activities: unknown[];
}

/** Resync with GitHub, step one: the plan (a dry run), with a button to apply it. */
export function resyncPreview(deps: WebDeps, c: Context) {
  return resyncPage(deps, c, true);
}

/** Resync with GitHub, step two: applied, and what it changed. */
export function resyncRun(deps: WebDeps, c: Context) {
  return resyncPage(deps, c, false);
}

async function resyncPage(deps: WebDeps, c: Context, dryRun: boolean) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  const answer = await callApi<ResyncJson>(
    deps,
    c,
    `${apiProjectPath(owner, repo)}/resync${dryRun ? "?dry_run=true" : ""}`,
    { method: "POST" },
  );
  if (!answer.ok) return errorPage(c, answer);
  const result = answer.body;
  const path = projectPath(result.project);
  const pulls =
    result.pull_requests === null ? "pull requests not listed" : `${result.pull_requests} open pull requests`;
  const summary = `${result.branches} branches, ${pulls} on GitHub (${result.github_requests} requests).`;
  const changes = result.plan.length;
  return renderPage(c, {
    title: `Resync ${result.project}`,
    current: "projects",
    crumbs: [
      { href: "/", label: "Projects" },
      { href: path, label: result.project },
    ],
    body: html`<h1>Resync ${result.project} with GitHub</h1>
<p>${summary}</p>
${
  dryRun
    ? html`<p class="muted">The plan below changes nothing until it is applied.</p>`
    : html`<p class="notice ok" role="status">Resynced: ${changes} ${changes === 1 ? "change" : "changes"} applied, each an activity on the <a href="${path}">project page</a>.</p>`
}
${planTable(result)}
${result.notes.length > 0 ? html`<ul>${result.notes.map((note) => html`<li>${note}</li>`)}</ul>` : ""}
${
  dryRun && changes > 0
    ? html`<form method="post" action="${path}/resync">${csrfInput(c)}<button type="submit">Apply ${changes} ${changes === 1 ? "change" : "changes"}</button></form>`
    : html`<p><a href="${path}">Back to ${result.project}</a></p>`
}`,
  });
}

function planTable(result: ResyncJson): Markup | string {
  if (result.plan.length === 0) return "";
  return html`<div class="table-wrap"><table>
<caption class="visually-hidden">Changes</caption>
<thead><tr><th scope="col">Change</th><th scope="col">Environment</th><th scope="col">Why</th></tr></thead>
<tbody>${result.plan.map(
    (step) =>
      html`<tr><td>${step.action}</td><th scope="row">${step.environment}</th><td>${step.reason}</td></tr>`,
  )}</tbody></table></div>`;
}
