import type { Context } from "hono";
import { html } from "hono/html";
import type { Activity } from "../../activity/activity.ts";
import { renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { callApi } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import { activityBadge, cursorParam, when } from "./format.ts";

type OwnerAlert = Activity & { owner: string };

/**
 * Owner alerts (the operator only): what owner-wide integrations failed at. They are no project's
 * activities, so no project page shows them; the API refuses anyone else (403).
 */
export async function alertsPage(deps: WebDeps, c: Context) {
  const before = cursorParam(c.req.query("before"));
  const answer = await callApi<{ items: OwnerAlert[]; next_cursor: number | null }>(
    deps,
    c,
    `/api/alerts?limit=50${before ? `&cursor=${before}` : ""}`,
  );
  if (!answer.ok) return errorPage(c, answer);
  const { items, next_cursor: next } = answer.body;
  return renderPage(c, {
    title: "Owner alerts",
    current: "alerts",
    body: html`<h1>Owner-wide integrations' alerts</h1>
<p>When an owner-wide integration's delivery fails for good, or the integration is disabled, the alert is
kept here for the operator: it is no project's activity and is relayed to no project's receivers. One
alert stands for every alert of its integration and type in 10 minutes (its count).</p>
${
  items.length === 0
    ? html`<p id="no-alerts" class="muted">No alert.</p>`
    : html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Alert</th><th scope="col">Owner</th><th scope="col">Integration</th><th scope="col">Count</th><th scope="col">Status</th><th scope="col">First</th><th scope="col">Last</th></tr></thead>
<tbody>${items.map(
        (alert) => html`<tr id="alert-${alert.id}">
<td>${alert.type}<br /><span class="muted">${alert.text}</span></td>
<td>${alert.owner}</td>
<td><code>${alert.alert?.integration ?? ""}</code></td>
<td>${alert.alert?.count ?? 1}</td>
<td>${activityBadge(alert)}</td>
<td>${when(alert.alert?.first_at ?? alert.created_at)}</td>
<td>${when(alert.alert?.last_at ?? alert.updated_at)}</td>
</tr>`,
      )}</tbody></table></div>`
}
${next ? html`<p><a href="/alerts?before=${next}">Older alerts</a></p>` : ""}`,
  });
}
