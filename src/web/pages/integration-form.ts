import type { Context } from "hono";
import { html } from "hono/html";
import { csrfInput, type Markup } from "../layout.ts";

/** An integration as the API presents it (secrets masked). */
export interface IntegrationJson {
  id: string;
  type: string;
  /** As set; null shows `display_name` (`type → host`). */
  name?: string | null;
  display_name?: string;
  project: string;
  url: string;
  format?: string;
  room?: string;
  events: string[];
  states: string[];
  results?: string[];
  /** Owner-wide integrations: the repositories sent (globs); unset, all. */
  projects?: string[];
  environments: string[];
  excluded_environments: string[];
  timeout_ms: number;
  retry_schedule?: number[];
  ordering?: string;
  concurrency?: number;
  headers?: Record<string, string>;
  insecure_ssl?: boolean;
  status: string;
  disabled_reason: string | null;
  failing_since: string | null;
  last_datetime: string | null;
  last_status: string | null;
  last_reason: string | null;
  last_context: string | null;
}

export const INTEGRATION_TYPES = [
  "webhook",
  "slack",
  "discord",
  "teams",
  "mattermost",
  "googlechat",
  "hipchat",
];
const FORMATS = ["platformsh", "dockership", "kudu", "divshot", "shipway"];
const STATES = ["pending", "in_progress", "complete", "cancelled"];
/** The form's fields, top to bottom. */
const FIELD_ORDER = [
  "type",
  "name",
  "url",
  "format",
  "secret",
  "room",
  "token",
  "events",
  "states",
  "results",
  "projects",
  "environments",
  "excluded_environments",
  "timeout_ms",
  "retry_schedule",
  "ordering",
  "concurrency",
  "headers",
  "insecure_ssl",
];
const ORDERINGS = ["environment", "integration", "none"];

/** What a person typed, field by field (to show again next to the API's messages). */
export type FormValues = Record<string, string | string[]>;

/** The form's values from an integration (editing). */
export function valuesOf(integration: IntegrationJson): FormValues {
  return {
    type: integration.type,
    name: integration.name ?? "",
    url: "",
    format: integration.format ?? "platformsh",
    room: integration.room ?? "",
    events: integration.events.join(", "),
    states: integration.states,
    results: integration.results ?? [],
    projects: (integration.projects ?? []).join(", "),
    environments: integration.environments.join(", "),
    excluded_environments: integration.excluded_environments.join(", "),
    timeout_ms: String(integration.timeout_ms),
    retry_schedule: (integration.retry_schedule ?? []).join(", "),
    ordering: integration.ordering ?? "environment",
    concurrency: integration.concurrency === undefined ? "" : String(integration.concurrency),
    // Header values may be masked: the field starts empty, and only what is typed replaces them.
    headers: "",
    insecure_ssl: integration.insecure_ssl ? "on" : "",
  };
}

/** A form post as values (`states` may repeat). */
export async function readForm(c: Context): Promise<FormValues> {
  const body = await c.req.parseBody({ all: true });
  const values: FormValues = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "_csrf") continue;
    const list = (Array.isArray(value) ? value : [value]).filter(
      (item): item is string => typeof item === "string",
    );
    values[key] = key === "states" || key === "results" ? list : (list[0] ?? "");
  }
  return values;
}

const text = (values: FormValues, key: string) => {
  const value = values[key];
  return typeof value === "string" ? value.trim() : "";
};
const list = (value: string) =>
  value
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter(Boolean);
/** A number when it reads as one; otherwise the text, for the API to name what is wrong. */
const numberOr = (value: string) => (/^\d+$/.test(value) ? Number(value) : value);

/**
 * The API body for the form: lists from comma-separated text, each type's own fields only. On
 * `create`, empty filters are left to the API's defaults; on edit, an empty URL, secret or token
 * keeps the current one.
 */
export function bodyOf(
  values: FormValues,
  mode: "create" | "edit",
  type: string,
  ownerWide = false,
): Record<string, unknown> {
  const body: Record<string, unknown> = mode === "create" ? { type } : {};
  // An empty name is the default (`type → host`): left out on create, cleared (null) on edit.
  const name = text(values, "name");
  if (name) body.name = name;
  else if (mode === "edit") body.name = null;
  const url = text(values, "url");
  if (mode === "create" || url) body.url = url;
  for (const key of ["events", "environments"]) {
    const value = text(values, key);
    if (value || mode === "edit") body[key] = list(value);
  }
  body.excluded_environments = list(text(values, "excluded_environments"));
  const states = values.states;
  body.states = Array.isArray(states) ? states : states ? [states] : [];
  // Results: both (or neither) checked is every result (on edit, null clears a filter set before).
  const results = Array.isArray(values.results) ? values.results : values.results ? [values.results] : [];
  if (results.length === 1) body.results = results;
  else if (mode === "edit") body.results = null;
  if (ownerWide) {
    const projects = list(text(values, "projects"));
    if (projects.length > 0) body.projects = projects;
    else if (mode === "edit") body.projects = null;
  }
  const timeout = text(values, "timeout_ms");
  if (timeout) body.timeout_ms = numberOr(timeout);
  const schedule = text(values, "retry_schedule");
  if (schedule) body.retry_schedule = list(schedule).map(numberOr);
  if (text(values, "ordering")) body.ordering = text(values, "ordering");
  const concurrency = text(values, "concurrency");
  if (concurrency) body.concurrency = numberOr(concurrency);
  if (type === "webhook") {
    if (text(values, "format")) body.format = text(values, "format");
    if (text(values, "secret")) body.secret = text(values, "secret");
    const headers = text(values, "headers");
    if (headers) body.headers = headersOf(headers);
    body.insecure_ssl = text(values, "insecure_ssl") === "on";
  }
  if (type === "hipchat") {
    if (text(values, "room") || mode === "create") body.room = text(values, "room");
    if (text(values, "token") || mode === "create") body.token = text(values, "token");
  }
  return body;
}

/** `Name: value` lines as a headers object (a line without a colon becomes a name the API refuses). */
function headersOf(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon < 0) headers[line.trim()] = "";
    else headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The add or edit form; each field shows the API's message for it, linked for screen readers. */
export function integrationForm(
  c: Context,
  options: {
    action: string;
    mode: "create" | "edit";
    values: FormValues;
    errors: Map<string, string>;
    /** The refusal as a whole, when it names no field. */
    problem?: string | undefined;
    integration?: IntegrationJson;
    /** An owner-wide integration's form: it has `projects`. */
    ownerWide?: boolean;
  },
): Markup {
  const { values, errors, mode } = options;
  const type = mode === "edit" ? (options.integration?.type ?? "webhook") : text(values, "type") || "webhook";
  const firstInvalid = FIELD_ORDER.find((name) => errors.has(name));
  // Fields of one type only (`types`): shown for that type; the page's script hides the others as the type changes.
  const field = (
    name: string,
    label: string,
    input: (attributes: Markup) => Markup,
    hint?: string,
    types?: string[],
  ) => {
    const error = errors.get(name);
    const described = [hint ? `${name}-hint` : "", error ? `${name}-error` : ""].filter(Boolean).join(" ");
    // The first refused field takes the focus, so a keyboard user lands on what to fix.
    const attributes = html`id="${name}" name="${name}"${described ? html` aria-describedby="${described}"` : ""}${
      error ? html` aria-invalid="true"` : ""
    }${name === firstInvalid ? html` autofocus` : ""}`;
    return html`<div class="field"${types ? html` data-types="${types.join(" ")}"${types.includes(type) ? "" : html` hidden`}` : ""}>
<label for="${name}">${label}</label>
${hint ? html`<span class="hint" id="${name}-hint">${hint}</span>` : ""}
${input(attributes)}
${error ? html`<p class="field-error" id="${name}-error">${error}</p>` : ""}
</div>`;
  };
  const textInput =
    (name: string, extra: Markup = html``) =>
    (attributes: Markup) =>
      html`<input type="text" ${attributes} value="${text(values, name)}" ${extra} />`;
  const checkedStates = new Set(Array.isArray(values.states) ? values.states : ["complete"]);
  const checkedResults = new Set(
    Array.isArray(values.results) ? values.results : values.results ? [values.results] : [],
  );
  const stateError = errors.get("states");
  const otherErrors = [...errors.entries()].filter(([name]) => !FIELD_ORDER.includes(name));

  return html`<form method="post" action="${options.action}" novalidate>
${csrfInput(c)}
${
  errors.size > 0 || options.problem
    ? html`<div class="notice bad" role="alert" id="form-problem"><p>${
        options.problem ?? "The integration was not saved: see the fields marked below."
      }</p>${otherErrors.map(([name, message]) => html`<p>${name}: ${message}</p>`)}</div>`
    : ""
}
${
  mode === "create"
    ? field(
        "type",
        "Type",
        (attributes) =>
          html`<select ${attributes} data-type-switch>${INTEGRATION_TYPES.map(
            (option) =>
              html`<option value="${option}"${option === type ? html` selected` : ""}>${option}</option>`,
          )}</select>`,
        "A webhook receives signed JSON; the others post to a chat channel.",
      )
    : html`<p>Type: <strong>${type}</strong></p>`
}
${field(
  "name",
  "Name (optional)",
  textInput("name", html`maxlength="100" autocomplete="off"`),
  "What people call it, shown wherever it appears; empty shows the type and the receiver's host.",
)}
${field(
  "url",
  mode === "create" ? "URL" : "New URL",
  textInput("url", html`inputmode="url" autocomplete="off"`),
  mode === "create"
    ? "The receiver, or the channel's incoming-webhook URL (kept secret)."
    : `Now ${options.integration?.url ?? ""}; leave empty to keep it.`,
)}
${
  type === "webhook" || mode === "create"
    ? html`${field(
        "format",
        "Payload format",
        (attributes) =>
          html`<select ${attributes}>${FORMATS.map(
            (option) =>
              html`<option value="${option}"${option === (text(values, "format") || "platformsh") ? html` selected` : ""}>${option}</option>`,
          )}</select>`,
        "The payload dialect the receiver expects.",
        ["webhook"],
      )}
${field(
  "secret",
  mode === "create" ? "Signing secret (optional)" : "New signing secret",
  (attributes) => html`<input type="password" autocomplete="new-password" ${attributes} value="" />`,
  mode === "create"
    ? "16 characters at least; generated and shown once when left empty."
    : "Leave empty to keep it; the old one keeps signing alongside for 24 h.",
  ["webhook"],
)}`
    : ""
}
${
  type === "hipchat" || mode === "create"
    ? html`${field("room", "Room", textInput("room"), "The HipChat room's id or name.", ["hipchat"])}
${field(
  "token",
  "Room token",
  (attributes) => html`<input type="password" autocomplete="off" ${attributes} value="" />`,
  "A room notification token; kept as a secret.",
  ["hipchat"],
)}`
    : ""
}
${field("events", "Activity types", textInput("events"), "Comma-separated, with * wildcards: environment.push, environment.*")}
<fieldset${stateError ? html` aria-describedby="states-error"` : ""}>
<legend>States to send</legend>
${STATES.map(
  (state) =>
    html`<label><input type="checkbox" name="states" value="${state}"${checkedStates.has(state) ? html` checked` : ""}${
      firstInvalid === "states" && state === STATES[0] ? html` autofocus` : ""
    } /> ${state}</label> `,
)}
${stateError ? html`<p class="field-error" id="states-error">${stateError}</p>` : ""}
</fieldset>
<fieldset${errors.has("results") ? html` aria-describedby="results-error"` : ""}>
<legend>Results to send</legend>
<span class="hint">Neither or both: every result. One alone: a failures-only (or successes-only) channel; an activity still running has no result and is not sent.</span>
${["success", "failure"].map(
  (result) =>
    html`<label><input type="checkbox" name="results" value="${result}"${checkedResults.has(result) ? html` checked` : ""} /> ${result}</label> `,
)}
${errors.has("results") ? html`<p class="field-error" id="results-error">${errors.get("results")}</p>` : ""}
</fieldset>
${
  options.ownerWide
    ? field(
        "projects",
        "Repositories",
        textInput("projects"),
        "Comma-separated, with * wildcards: a repository name (api-*), or owner/name; empty: every repository of the owner.",
      )
    : ""
}
${field("environments", "Environments", textInput("environments"), "Comma-separated names with * wildcards: main, pr-*")}
${field("excluded_environments", "Except environments", textInput("excluded_environments"), "Never sent, even when listed above.")}
${field("timeout_ms", "Timeout (ms)", textInput("timeout_ms", html`inputmode="numeric"`), "How long the receiver has to answer: 100 to 60000.")}
<details${[...errors.keys()].some((name) => ["retry_schedule", "ordering", "concurrency", "headers", "insecure_ssl"].includes(name)) ? html` open` : ""}>
<summary>Delivery settings</summary>
${field(
  "retry_schedule",
  "Retry schedule (seconds)",
  textInput("retry_schedule", html`placeholder="5, 300, 1800, 7200, 18000, 36000, 36000"`),
  "Seconds to wait after each failure, 5 to 20 of them; empty keeps the default (or the current one).",
)}
${field(
  "ordering",
  "Order",
  (attributes) =>
    html`<select ${attributes}>${ORDERINGS.map(
      (option) =>
        html`<option value="${option}"${option === (text(values, "ordering") || "environment") ? html` selected` : ""}>${option}</option>`,
    )}</select>`,
  "environment: each environment's deliveries in turn, environments in parallel; integration: all in turn; none: any order.",
)}
${field("concurrency", "Deliveries in flight at once", textInput("concurrency", html`inputmode="numeric"`), "1 to 64; empty keeps the type's default.")}
${
  type === "webhook" || mode === "create"
    ? html`${field(
        "headers",
        "Extra headers",
        (attributes) => html`<textarea rows="3" ${attributes}>${text(values, "headers")}</textarea>`,
        mode === "create"
          ? "One per line: Name: value"
          : `One per line: Name: value; empty keeps the current ones${
              options.integration?.headers && Object.keys(options.integration.headers).length > 0
                ? ` (${Object.keys(options.integration.headers).join(", ")})`
                : ""
            }.`,
        ["webhook"],
      )}
<div class="field" data-types="webhook"${type === "webhook" ? "" : html` hidden`}><label><input type="checkbox" id="insecure_ssl" name="insecure_ssl" value="on"${
        text(values, "insecure_ssl") === "on" ? html` checked` : ""
      }${errors.has("insecure_ssl") ? html` aria-invalid="true" aria-describedby="insecure_ssl-error"` : ""} /> Skip TLS certificate checks for this receiver</label>
${errors.has("insecure_ssl") ? html`<p class="field-error" id="insecure_ssl-error">${errors.get("insecure_ssl")}</p>` : ""}</div>`
    : ""
}
</details>
<button type="submit" class="primary">${mode === "create" ? "Add the integration" : "Save"}</button>
</form>`;
}
