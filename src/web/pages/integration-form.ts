import type { Context } from "hono";
import { html } from "hono/html";
import { csrfInput, type Markup } from "../layout.ts";

/** An integration as the API presents it (secrets masked). */
export interface IntegrationJson {
  id: string;
  type: string;
  project: string;
  url: string;
  format?: string;
  room?: string;
  events: string[];
  states: string[];
  environments: string[];
  excluded_environments: string[];
  timeout_ms: number;
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
  "url",
  "format",
  "secret",
  "room",
  "token",
  "events",
  "states",
  "environments",
  "excluded_environments",
  "timeout_ms",
];

/** What a person typed, field by field (to show again next to the API's messages). */
export type FormValues = Record<string, string | string[]>;

/** The form's values from an integration (editing). */
export function valuesOf(integration: IntegrationJson): FormValues {
  return {
    type: integration.type,
    url: "",
    format: integration.format ?? "platformsh",
    room: integration.room ?? "",
    events: integration.events.join(", "),
    states: integration.states,
    environments: integration.environments.join(", "),
    excluded_environments: integration.excluded_environments.join(", "),
    timeout_ms: String(integration.timeout_ms),
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
    values[key] = key === "states" ? list : (list[0] ?? "");
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
export function bodyOf(values: FormValues, mode: "create" | "edit", type: string): Record<string, unknown> {
  const body: Record<string, unknown> = mode === "create" ? { type } : {};
  const url = text(values, "url");
  if (mode === "create" || url) body.url = url;
  for (const key of ["events", "environments"]) {
    const value = text(values, key);
    if (value || mode === "edit") body[key] = list(value);
  }
  body.excluded_environments = list(text(values, "excluded_environments"));
  const states = values.states;
  body.states = Array.isArray(states) ? states : states ? [states] : [];
  const timeout = text(values, "timeout_ms");
  if (timeout) body.timeout_ms = numberOr(timeout);
  if (type === "webhook") {
    if (text(values, "format")) body.format = text(values, "format");
    if (text(values, "secret")) body.secret = text(values, "secret");
  }
  if (type === "hipchat") {
    if (text(values, "room") || mode === "create") body.room = text(values, "room");
    if (text(values, "token") || mode === "create") body.token = text(values, "token");
  }
  return body;
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
  },
): Markup {
  const { values, errors, mode } = options;
  const type = mode === "edit" ? (options.integration?.type ?? "webhook") : text(values, "type") || "webhook";
  const firstInvalid = FIELD_ORDER.find((name) => errors.has(name));
  const field = (name: string, label: string, input: (attributes: Markup) => Markup, hint?: string) => {
    const error = errors.get(name);
    const described = [hint ? `${name}-hint` : "", error ? `${name}-error` : ""].filter(Boolean).join(" ");
    // The first refused field takes the focus, so a keyboard user lands on what to fix.
    const attributes = html`id="${name}" name="${name}"${described ? html` aria-describedby="${described}"` : ""}${
      error ? html` aria-invalid="true"` : ""
    }${name === firstInvalid ? html` autofocus` : ""}`;
    return html`<div class="field">
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
          html`<select ${attributes}>${INTEGRATION_TYPES.map(
            (option) =>
              html`<option value="${option}"${option === type ? html` selected` : ""}>${option}</option>`,
          )}</select>`,
        "A webhook receives signed JSON; the others post to a chat channel.",
      )
    : html`<p>Type: <strong>${type}</strong></p>`
}
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
        "Payload format (webhook)",
        (attributes) =>
          html`<select ${attributes}>${FORMATS.map(
            (option) =>
              html`<option value="${option}"${option === (text(values, "format") || "platformsh") ? html` selected` : ""}>${option}</option>`,
          )}</select>`,
      )}
${field(
  "secret",
  mode === "create" ? "Signing secret (webhook, optional)" : "New signing secret",
  (attributes) => html`<input type="password" autocomplete="new-password" ${attributes} value="" />`,
  mode === "create"
    ? "16 characters at least; generated and shown once when left empty."
    : "Leave empty to keep it; the old one keeps signing alongside for 24 h.",
)}`
    : ""
}
${
  type === "hipchat" || mode === "create"
    ? html`${field("room", "Room (HipChat)", textInput("room"))}
${field(
  "token",
  "Room token (HipChat)",
  (attributes) => html`<input type="password" autocomplete="off" ${attributes} value="" />`,
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
${field("environments", "Environments", textInput("environments"), "Comma-separated names with * wildcards: main, pr-*")}
${field("excluded_environments", "Except environments", textInput("excluded_environments"), "Never sent, even when listed above.")}
${field("timeout_ms", "Timeout (ms)", textInput("timeout_ms", html`inputmode="numeric"`), "How long the receiver has to answer: 100 to 60000.")}
<button type="submit" class="primary">${mode === "create" ? "Add the integration" : "Save"}</button>
</form>`;
}
