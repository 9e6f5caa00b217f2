import type { Context } from "hono";
import { html } from "hono/html";
import type { Activity } from "../../activity/activity.ts";
import { type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { apiProjectPath, callApi } from "./call-api.ts";
import { attemptList, type DeliveryJson, integrationHref } from "./delivery-page.ts";
import { errorPage } from "./error-page.ts";
import {
  activityBadge,
  commitLink,
  deliveryBadge,
  githubWeb,
  nextAttempt,
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
${
  // A settled activity says how it ended (the badge); a bar at 100 % would read as success.
  FINAL.has(activity.state)
    ? ""
    : html`<dt>Progress</dt><dd><progress max="100" value="${activity.completion_percent}" aria-label="Progress">${activity.completion_percent} %</progress> ${activity.completion_percent} %</dd>`
}
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

/** An integration as the activity page names and links it. */
interface IntegrationRef {
  id: string;
  display_name: string;
  owner?: string | null;
}

/**
 * Each integration's outcome first (named, linked, with the delivery's state and last answer);
 * every attempt below, collapsed.
 */
function deliveries(items: DeliveryJson[], project: string, names: Map<string, IntegrationRef>): Markup {
  if (items.length === 0)
    return html`<div id="activity-deliveries"><p class="muted">No integration received this activity.</p></div>`;
  const nameOf = (delivery: DeliveryJson) => {
    const integration = names.get(delivery.integration_id);
    const label = integration?.display_name ?? delivery.integration_id;
    const href = integrationHref({ id: delivery.integration_id, owner: integration?.owner ?? null }, project);
    return href ? html`<a href="${href}">${label}</a>` : html`${label}`;
  };
  return html`<div id="activity-deliveries">
<div class="table-wrap"><table aria-labelledby="deliveries-heading">
<thead><tr><th scope="col">Integration</th><th scope="col">Outcome</th><th scope="col">Last answer</th><th scope="col">Delivery</th></tr></thead>
<tbody>${items.map(
    (delivery) => html`<tr>
<td>${nameOf(delivery)}</td>
<td>${deliveryBadge(delivery.state)} ${nextAttempt(delivery)}</td>
<td>${answerText(delivery)}</td>
<td><a class="mono" href="/deliveries/${delivery.id}">${delivery.id}</a></td>
</tr>`,
  )}</tbody></table></div>
<h3>Attempts</h3>
${items.map(
  (delivery) => html`<details class="card" id="attempts-${delivery.id}">
<summary>${nameOf(delivery)}: ${delivery.attempts} ${delivery.attempts === 1 ? "attempt" : "attempts"}</summary>
${attemptList(delivery, 3)}
</details>`,
)}
</div>`;
}

/** The last answer once: "503", "timeout", "503: receiver down" — never "500 HTTP 500". */
function answerText(delivery: DeliveryJson): string {
  const status = delivery.last_status ? String(delivery.last_status) : "";
  const error = delivery.last_error ?? "";
  if (!status) return error || "—";
  if (!error || error.includes(status)) return error && error !== `HTTP ${status}` ? error : status;
  return `${status}: ${error}`;
}

/** The project's integrations by id (names for the deliveries); empty when they cannot be read. */
async function integrationNames(deps: WebDeps, c: Context, project: string) {
  const [owner = "", repo = ""] = project.split("/");
  const listed = await callApi<IntegrationRef[]>(deps, c, `${apiProjectPath(owner, repo)}/integrations`);
  return new Map((listed.ok ? listed.body : []).map((integration) => [integration.id, integration]));
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
<h2 id="deliveries-heading">Integrations</h2>
${deliveries(items, activity.project, await integrationNames(deps, c, activity.project))}
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
  let names: Map<string, IntegrationRef> | undefined;
  return pollStream(c, async () => {
    const activity = await callApi<Activity>(deps, c, `/api/activities/${encodeURIComponent(id)}`);
    if (!activity.ok) return { patches: [], done: true };
    names ??= await integrationNames(deps, c, activity.body.project);
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
      { id: "activity-deliveries", html: String(await deliveries(items, activity.body.project, names)) },
    ].flatMap((patch) => sent.changed(patch) ?? []);
    const settled = FINAL.has(activity.body.state) && items.every((delivery) => delivery.state !== "pending");
    return { patches, done: settled };
  });
}
