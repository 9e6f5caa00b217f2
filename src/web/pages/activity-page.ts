import type { Context } from "hono";
import { html } from "hono/html";
import type { Activity } from "../../activity/activity.ts";
import { type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { callApi } from "./call-api.ts";
import { attemptList, type DeliveryJson } from "./delivery-page.ts";
import { errorPage } from "./error-page.ts";
import {
  activityBadge,
  commitLink,
  deliveryBadge,
  githubWeb,
  projectPath,
  pullRequestLink,
  when,
} from "./format.ts";
import { pollStream, SentMarkup } from "./live-stream.ts";

const FINAL = new Set(["complete", "cancelled"]);

function summary(web: string, activity: Activity): Markup {
  const environment = activity.payload.environment;
  return html`<section id="activity-summary" aria-labelledby="summary-heading">
<h2 id="summary-heading" class="visually-hidden">Summary</h2>
<p>${activity.text}</p>
<dl class="facts">
<dt>Type</dt><dd>${activity.type}</dd>
<dt>State</dt><dd>${activityBadge(activity)} <span class="muted">${activity.state}${activity.result ? `, ${activity.result}` : ""}</span></dd>
<dt>Progress</dt><dd><progress max="100" value="${activity.completion_percent}" aria-label="Progress">${activity.completion_percent} %</progress> ${activity.completion_percent} %</dd>
<dt>Project</dt><dd><a href="${projectPath(activity.project)}">${activity.project}</a></dd>
<dt>Environment</dt><dd>${activity.parameters.environment ?? "—"}${
    environment?.url ? html` · <a href="${environment.url}">${environment.url}</a>` : ""
  }${environment?.pull_request ? html` · pull request ${pullRequestLink(web, activity.project, environment.pull_request)}` : ""}</dd>
<dt>Commit</dt><dd>${commitLink(web, activity.project, activity.parameters.new_commit)}${
    activity.parameters.old_commit
      ? html` <span class="muted">from</span> ${commitLink(web, activity.project, activity.parameters.old_commit)}`
      : ""
  }</dd>
<dt>By</dt><dd>${activity.payload.user?.display_name ?? activity.parameters.user ?? "—"}</dd>
<dt>Created</dt><dd>${when(activity.created_at)}</dd>
<dt>Completed</dt><dd>${when(activity.completed_at)}</dd>
${activity.log_url ? html`<dt>Deploy log</dt><dd><a href="${activity.log_url}">${activity.log_url}</a></dd>` : ""}
</dl>
</section>`;
}

function commits(web: string, activity: Activity): Markup {
  if (activity.payload.commits.length === 0) return html``;
  return html`<h2>Commits</h2>
<ul>${activity.payload.commits.map(
    (commit) =>
      html`<li>${commitLink(web, activity.project, commit.sha)} ${commit.message.split("\n")[0]} <span class="muted">— ${commit.author.name}</span></li>`,
  )}</ul>`;
}

function log(activity: Activity): Markup {
  return html`<pre id="activity-log" class="log" tabindex="0" aria-label="Log">${activity.log || "(empty)"}</pre>`;
}

function deliveries(items: DeliveryJson[]): Markup {
  return html`<div id="activity-deliveries">${
    items.length === 0
      ? html`<p class="muted">No integration received this activity.</p>`
      : items.map(
          (delivery) => html`<section class="card" aria-label="Delivery ${delivery.id}">
<h3><a href="/deliveries/${delivery.id}">${delivery.id}</a> ${deliveryBadge(delivery.state)}</h3>
<p class="muted">Integration <code>${delivery.integration_id}</code> · ${delivery.event} · ${delivery.attempts} ${delivery.attempts === 1 ? "attempt" : "attempts"}</p>
${attemptList(delivery, 3)}
</section>`,
        )
  }</div>`;
}

async function load(deps: WebDeps, c: Context, id: string) {
  const activity = await callApi<Activity>(deps, c, `/api/activities/${encodeURIComponent(id)}`);
  if (!activity.ok) return { activity };
  const delivered = await callApi<DeliveryJson[]>(
    deps,
    c,
    `/api/activities/${encodeURIComponent(id)}/deliveries`,
  );
  return { activity, deliveries: delivered.ok ? delivered.body : [] };
}

/** Activity: what happened, its log (live while running) and each integration's delivery. */
export async function activityPage(deps: WebDeps, c: Context) {
  const id = c.req.param("id") ?? "";
  const { activity: answer, deliveries: items = [] } = await load(deps, c, id);
  if (!answer.ok) return errorPage(c, answer);
  const activity = answer.body;
  return renderPage(c, {
    title: `${activity.type} ${activity.id}`,
    crumbs: [
      { href: "/", label: "Projects" },
      { href: projectPath(activity.project), label: activity.project },
    ],
    body: html`<h1>${activity.type} <code>${activity.id}</code></h1>
<div data-live="/activities/${activity.id}/live">
${summary(githubWeb(deps), activity)}
${commits(githubWeb(deps), activity)}
<h2>Log</h2>
${log(activity)}
<h2>Deliveries</h2>
${deliveries(items)}
</div>`,
  });
}

/** The whole delivery list is asked again at least this often, even when the activity did not change. */
const RELIST_MS = 10_000;

/**
 * The activity's page, live: summary, log and deliveries as they change. The activity is read each
 * second (one row by id). Its deliveries are listed again only when it changed (they are written
 * with its changes) or every 10 s; in between, those still pending are read by id.
 */
export function activityStream(deps: WebDeps, c: Context) {
  const id = c.req.param("id") ?? "";
  const sent = new SentMarkup();
  let listedFor: string | undefined;
  let listedAt = 0;
  let items: DeliveryJson[] = [];
  return pollStream(c, async () => {
    const activity = await callApi<Activity>(deps, c, `/api/activities/${encodeURIComponent(id)}`);
    if (!activity.ok) return { patches: [], done: true };
    if (activity.body.updated_at !== listedFor || Date.now() - listedAt >= RELIST_MS) {
      const listed = await callApi<DeliveryJson[]>(
        deps,
        c,
        `/api/activities/${encodeURIComponent(id)}/deliveries`,
      );
      if (listed.ok) {
        items = listed.body;
        listedFor = activity.body.updated_at;
        listedAt = Date.now();
      }
    } else if (items.some((delivery) => delivery.state === "pending")) {
      items = await Promise.all(
        items.map(async (delivery) => {
          if (delivery.state !== "pending") return delivery;
          const fresh = await callApi<DeliveryJson>(
            deps,
            c,
            `/api/deliveries/${encodeURIComponent(delivery.id)}`,
          );
          return fresh.ok ? fresh.body : delivery;
        }),
      );
    }
    const patches = [
      { id: "activity-summary", html: String(await summary(githubWeb(deps), activity.body)) },
      { id: "activity-log", html: String(await log(activity.body)) },
      { id: "activity-deliveries", html: String(await deliveries(items)) },
    ].flatMap((patch) => sent.changed(patch) ?? []);
    const settled = FINAL.has(activity.body.state) && items.every((delivery) => delivery.state !== "pending");
    return { patches, done: settled };
  });
}
