import { html } from "hono/html";
import type { Markup } from "../layout.ts";

type Tone = "ok" | "bad" | "warn" | "info" | "none";

/** A status as colour and as words (the colour never says anything the text does not). */
export const badge = (tone: Tone, text: string): Markup => html`<span class="badge ${tone}">${text}</span>`;

/** An activity's state and result. */
export function activityBadge(activity: { state: string; result: string | null }): Markup {
  if (activity.state === "complete") {
    return activity.result === "failure" ? badge("bad", "failed") : badge("ok", "succeeded");
  }
  if (activity.state === "in_progress") return badge("info", "in progress");
  if (activity.state === "pending") return badge("warn", "pending");
  return badge("none", activity.state);
}

/** A delivery's (or attempt's) state. */
export function deliveryBadge(state: string): Markup {
  if (state === "delivered") return badge("ok", "delivered");
  if (state === "failed") return badge("bad", "failed");
  return badge("warn", state);
}

/** An integration's status, with why it is disabled. */
export function integrationBadge(integration: { status: string; failing_since?: string | null }): Markup {
  if (integration.status === "disabled") return badge("bad", "disabled");
  if (integration.status === "paused") return badge("warn", "paused");
  if (integration.failing_since) return badge("bad", "failing");
  return badge("ok", "active");
}

/** A GitHub delivery's state. */
export function eventBadge(state: string): Markup {
  if (state === "processed") return badge("ok", "processed");
  if (state === "failed") return badge("bad", "failed");
  return badge("warn", "waiting");
}

/** An ISO time as the page prints it without script: UTC, to the second. */
export function utcText(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * A time people read. The server prints it in UTC to the second (complete without script); the
 * page script (/assets/page.js) turns every `<time data-when>` into "12 s ago" or "in 40 s", keeps
 * it fresh, and puts the exact time in the viewer's zone and in UTC in its `title` (on hover).
 */
export function when(iso: string | null | undefined, { due = false } = {}): Markup {
  if (!iso) return html`<span class="muted">—</span>`;
  const text = utcText(iso);
  // `due`: a time something is due at; once past, it reads "due now" (not "3 s ago").
  return html`<time datetime="${iso}" data-when="${due ? "due" : ""}" title="${text}">${text}</time>`;
}

/** A duration in ms under a second, in s (one decimal) under a minute, then min and s. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/**
 * When a pending delivery is tried next ("next attempt in 40 s"), or nothing for a delivery that
 * is settled.
 */
export function nextAttempt(delivery: { state: string; next_attempt_at: string | null }): Markup {
  if (delivery.state !== "pending" || !delivery.next_attempt_at) return html``;
  return html`<span class="next-attempt">next attempt ${when(delivery.next_attempt_at, { due: true })}</span>`;
}

/**
 * A button that copies `text` (or, with `from`, the text of the element with that id) to the
 * clipboard. Hidden until the page script is there to handle it.
 */
export function copyButton(label: string, copy: { text: string } | { from: string }): Markup {
  return "text" in copy
    ? html`<button type="button" class="copy" data-copy="${copy.text}" hidden>Copy ${label}</button>`
    : html`<button type="button" class="copy" data-copy-from="${copy.from}" hidden>Copy ${label}</button>`;
}

/** The dashboard path of a project (`owner/repo`). */
export function projectPath(fullName: string): string {
  const [owner = "", repo = ""] = fullName.split("/");
  return `/projects/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
}

/** A commit, shortened, linked to GitHub (`web`: GitHub's web root, GHE_HOST's or github.com). */
export function commitLink(web: string, project: string, sha: string | null | undefined): Markup {
  if (!sha) return html`<span class="muted">—</span>`;
  return html`<a class="mono" href="${web}/${project}/commit/${sha}">${sha.slice(0, 7)}</a>`;
}

/** A pull request, linked to GitHub. */
export function pullRequestLink(web: string, project: string, number: number | null | undefined): Markup {
  if (!number) return html`<span class="muted">—</span>`;
  return html`<a href="${web}/${project}/pull/${number}">#${number}</a>`;
}

/** Pretty JSON for a `<pre>`; text that is not JSON as it is. */
export function prettyJson(text: string | unknown): string {
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A page cursor from the query: a positive integer, or undefined. */
export function cursorParam(value: string | undefined): number | undefined {
  return value && /^[1-9]\d{0,15}$/.test(value) ? Number(value) : undefined;
}

/** GitHub's web root for links: GHE_HOST's, or github.com. */
export const githubWeb = (deps: { githubWebUrl?: string | undefined }) =>
  (deps.githubWebUrl ?? "https://github.com").replace(/\/+$/, "");

/**
 * An integration's URL as the page shows it: in full (masked by the API) to those who may change
 * the integration; only its origin to those who may only read, since a webhook URL's path is often
 * the credential itself (Zapier, Slack, Discord hooks).
 */
export function integrationUrl(url: string, writable: boolean): string {
  if (writable) return url;
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return "…";
  }
}
