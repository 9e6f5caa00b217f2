import type { Context } from "hono";
import { html } from "hono/html";
import type { SearchMatch } from "../../store/search.ts";
import { renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { callApi } from "./call-api.ts";
import { integrationHref } from "./delivery-page.ts";
import { errorPage } from "./error-page.ts";
import { projectPath } from "./format.ts";

/** Where a match's page is. */
function matchHref(match: SearchMatch): string {
  const project = match.project ? projectPath(match.project) : "/";
  switch (match.kind) {
    case "activity":
    case "commit":
      return `/activities/${match.id}`;
    case "delivery":
      return `/deliveries/${encodeURIComponent(match.id)}`;
    case "github_event":
      return `${project}/github-events/${encodeURIComponent(match.id)}`;
    case "integration":
      return integrationHref({ id: match.id, owner: match.owner ?? null }, match.project) ?? project;
    case "branch":
      return match.activity_id ? `/activities/${match.activity_id}` : project;
  }
}

const KIND: Record<SearchMatch["kind"], string> = {
  activity: "Activity",
  commit: "Commit",
  delivery: "Delivery",
  github_event: "GitHub delivery",
  integration: "Integration",
  branch: "Branch",
};

/** The search box's target: straight to a single match, a short list for several, a clear "none". */
export async function searchPage(deps: WebDeps, c: Context) {
  const q = (c.req.query("q") ?? "").trim();
  if (!q) return c.redirect("/", 303);
  const answer = await callApi<{ matches: SearchMatch[] }>(deps, c, `/api/search?q=${encodeURIComponent(q)}`);
  if (!answer.ok) return errorPage(c, answer);
  const { matches } = answer.body;
  const [only] = matches;
  if (matches.length === 1 && only) return c.redirect(matchHref(only), 303);
  return renderPage(c, {
    title: `Search: ${q}`,
    crumbs: [{ href: "/", label: "Projects" }],
    body: html`<h1>Search: <code>${q}</code></h1>
${
  matches.length === 0
    ? html`<p role="status">Nothing matches <code>${q}</code>. Search takes an activity, delivery (webhook-id),
GitHub delivery or integration id, a commit sha (7 or more digits) or a branch name, in the projects you can see.</p>`
    : html`<p role="status">${matches.length} matches.</p>
<ul id="search-results">${matches.map(
        (match) =>
          html`<li><a href="${matchHref(match)}">${KIND[match.kind]} <code>${match.id}</code></a> ${match.label}${
            match.project ? html` <span class="muted">in ${match.project}</span>` : ""
          }</li>`,
      )}</ul>`
}`,
  });
}
