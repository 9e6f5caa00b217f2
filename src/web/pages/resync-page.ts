import type { Context } from "hono";
import { html } from "hono/html";
import { formField } from "../access/session.ts";
import { csrfInput, type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { type ApiError, apiProjectPath, callApi } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import { leaveFlash, takeFlash } from "./flash.ts";
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
  repository_id: number;
  identity: { kind: string; description: string } | null;
}

/**
 * Resync with GitHub, step one: the plan (a dry run), with a button to apply it. The dry run
 * spends GitHub requests, so a navigation from another site (Sec-Fetch-Site cross-site or
 * same-site: the Lax cookie goes along) does not run it: it gets a form that does, CSRF-checked.
 */
export function resyncPreview(deps: WebDeps, c: Context) {
  const site = c.req.header("sec-fetch-site");
  if (site === "cross-site" || site === "same-site") return confirmPreview(c);
  return resyncPage(deps, c, true);
}

/**
 * Resync with GitHub, step two: applied (`dry_run=1`: the plan, as step one), then a redirect to
 * what it changed (POST/redirect/GET: a reload does not resync again), kept as a one-time message.
 */
export async function resyncRun(deps: WebDeps, c: Context) {
  const expected = await formField(c, "expected_repository_id");
  const dryRun = (await formField(c, "dry_run")) === "1";
  const answer = await callResync(deps, c, dryRun, expected);
  if (!answer.ok) return answer.status === 429 ? tooSoonPage(c, answer.error) : errorPage(c, answer);
  const flash = await leaveFlash(deps, c, {
    kind: "resync",
    dryRun,
    result: answer.body as unknown as Record<string, unknown>,
  });
  return c.redirect(`${projectPath(answer.body.project)}/resync/result?${flash}`, 303);
}

/** Resync, step three: what the POST did, shown once; a reload goes to the project page. */
export async function resyncResult(deps: WebDeps, c: Context) {
  const flash = await takeFlash(deps, c);
  if (flash?.kind !== "resync") {
    return c.redirect(projectPath(`${c.req.param("owner") ?? ""}/${c.req.param("repo") ?? ""}`), 303);
  }
  return resultPage(c, flash.result as unknown as ResyncJson, flash.dryRun);
}

function confirmPreview(c: Context) {
  const path = projectPath(`${c.req.param("owner") ?? ""}/${c.req.param("repo") ?? ""}`);
  return renderPage(c, {
    title: "Resync with GitHub",
    current: "projects",
    crumbs: [{ href: "/", label: "Projects" }],
    body: html`<h1>Resync with GitHub</h1>
<p>This link was opened from another site: envhooks asks GitHub for the plan only when you confirm.</p>
<form method="post" action="${path}/resync">${csrfInput(c)}<input type="hidden" name="dry_run" value="1" /><button type="submit">Show the plan</button></form>
<p><a href="${path}">Back to the project</a></p>`,
  });
}

async function resyncPage(deps: WebDeps, c: Context, dryRun: boolean) {
  const answer = await callResync(deps, c, dryRun);
  if (!answer.ok) return answer.status === 429 ? tooSoonPage(c, answer.error) : errorPage(c, answer);
  return resultPage(c, answer.body, dryRun);
}

function callResync(deps: WebDeps, c: Context, dryRun: boolean, expected?: string) {
  const owner = c.req.param("owner") ?? "";
  const repo = c.req.param("repo") ?? "";
  // Applied as the plan showed it: the API refuses if GitHub now names another repository.
  const query = dryRun
    ? "?dry_run=true"
    : expected
      ? `?expected_repository_id=${encodeURIComponent(expected)}`
      : "";
  return callApi<ResyncJson>(deps, c, `${apiProjectPath(owner, repo)}/resync${query}`, {
    method: "POST",
  });
}

function resultPage(c: Context, result: ResyncJson, dryRun: boolean) {
  const path = projectPath(result.project);
  const pulls =
    result.pull_requests === null ? "pull requests not listed" : `${result.pull_requests} open pull requests`;
  const summary = `${result.branches} branches, ${pulls} on GitHub (${result.github_requests} requests).`;
  const changes = result.plan.length + (result.identity ? 1 : 0);
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
${
  result.identity
    ? html`<p class="notice bad" role="status"><strong>Identity change:</strong> ${result.identity.description}</p>`
    : ""
}
${planTable(result)}
${result.notes.length > 0 ? html`<ul>${result.notes.map((note) => html`<li>${note}</li>`)}</ul>` : ""}
${
  dryRun && changes > 0
    ? html`<form method="post" action="${path}/resync">${csrfInput(c)}<input type="hidden" name="expected_repository_id" value="${String(result.repository_id)}" /><button type="submit">Apply ${changes} ${changes === 1 ? "change" : "changes"}</button></form>`
    : html`<p><a href="${path}">Back to ${result.project}</a></p>`
}`,
  });
}

/**
 * The API refused the resync to spare GitHub's rate limit (429): the page says why and when to try
 * again, and answers 429 with the API's Retry-After.
 */
async function tooSoonPage(c: Context, error: ApiError) {
  const path = projectPath(`${c.req.param("owner") ?? ""}/${c.req.param("repo") ?? ""}`);
  const retryAfter = (error.details as { retry_after_seconds?: unknown } | null)?.retry_after_seconds;
  const page = await renderPage(c, {
    title: "Resync: not now",
    current: "projects",
    crumbs: [{ href: "/", label: "Projects" }],
    body: html`<h1>Resync: not now</h1>
<p class="notice bad" role="alert">${error.message}</p>
<p><a href="${path}">Back to the project</a></p>`,
  });
  const headers = Object.fromEntries(page.headers);
  if (typeof retryAfter === "number") headers["retry-after"] = String(retryAfter);
  return c.body(await page.text(), 429, headers);
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
