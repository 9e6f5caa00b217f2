import type { Context } from "hono";
import { html } from "hono/html";
import { renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { errorPage } from "./error-page.ts";
import { DONE_MESSAGES, projectOf } from "./integration-pages.ts";
import { pollStream, SentMarkup } from "./live-stream.ts";
import { integrationsTable, loadIntegrations } from "./project-page.ts";

/**
 * An owner's owner-wide integrations (`/owners/{owner}/integrations`): each receives the activities
 * of every repository of the owner (or those its `projects` globs name). The API lets only the
 * operator at them; anyone else gets its 403 here.
 */
export async function ownerIntegrationsPage(deps: WebDeps, c: Context) {
  const scope = projectOf(c);
  const integrations = await loadIntegrations(deps, c, scope.api);
  if (!integrations.answer.ok) return errorPage(c, integrations.answer);
  const flash = DONE_MESSAGES[c.req.query("done") ?? ""];
  return renderPage(c, {
    title: `Owner-wide integrations · ${scope.owner}`,
    current: "projects",
    crumbs: [{ href: "/", label: "Projects" }],
    body: html`<h1>Owner-wide integrations of ${scope.owner}</h1>
${flash ? html`<p class="notice ok" role="status">${flash}</p>` : ""}
<p class="muted">Each one receives the activities of every repository of ${scope.owner} (or those its
repositories filter names), with the filters, retries, log and pause of a project's integrations.</p>
<p><a class="button" href="${scope.path}/integrations/new">Add an owner-wide integration</a></p>
<div data-live="${scope.home}/live">
${integrationsTable(integrations.list, integrations.healths, true, c, scope.path)}
</div>`,
  });
}

/** The owner's integrations, live (status, last attempt, success and latency). */
export function ownerIntegrationsStream(deps: WebDeps, c: Context) {
  const scope = projectOf(c);
  const sent = new SentMarkup();
  return pollStream(c, async () => {
    const integrations = await loadIntegrations(deps, c, scope.api);
    if (!integrations.answer.ok) return { patches: [], done: true };
    const patch = sent.changed({
      id: "integrations",
      html: String(await integrationsTable(integrations.list, integrations.healths, true, c, scope.path)),
    });
    return { patches: patch ? [patch] : [] };
  });
}
