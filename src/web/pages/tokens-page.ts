import type { Context } from "hono";
import { html } from "hono/html";
import { adminRepositories, csrfInput, type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { callApi, fieldErrors } from "./call-api.ts";
import { errorPage } from "./error-page.ts";
import { leaveFlash, takeFlash } from "./flash.ts";
import { badge, copyButton, when } from "./format.ts";
import { type FormValues, readForm } from "./integration-form.ts";

interface TokenJson {
  id: string;
  name: string;
  project: string;
  access: "read" | "write";
  created_at: string;
  token?: string;
}

/** Tokens (the operator; a repository admin for their repositories): create (shown once), list, revoke. */
export async function tokensPage(deps: WebDeps, c: Context) {
  // A token just created, shown once: its POST redirected here with a one-time message.
  const flash = await takeFlash(deps, c);
  const created = flash?.kind === "token-created" ? (flash.token as unknown as TokenJson) : undefined;
  return render(deps, c, {}, new Map(), created);
}

async function render(
  deps: WebDeps,
  c: Context,
  values: FormValues,
  errors: Map<string, string>,
  created?: TokenJson,
  status: 200 | 400 = 200,
) {
  const answer = await callApi<TokenJson[]>(deps, c, "/api/tokens");
  if (!answer.ok) return errorPage(c, answer);
  // Only a token id: a link cannot put other words on the page.
  const revoked = /^[a-z2-7]{13}$/.exec(c.req.query("revoked") ?? "")?.[0];
  const value = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : "");
  // A repository admin picks one of their repositories; the operator types any.
  const repositories = adminRepositories(c.get("principal"));
  const field = (name: string, label: string, input: (attributes: Markup) => Markup, hint?: string) => {
    const error = errors.get(name);
    const described = [hint ? `${name}-hint` : "", error ? `${name}-error` : ""].filter(Boolean).join(" ");
    return html`<div class="field"><label for="token-${name}">${label}</label>
${hint ? html`<span class="hint" id="${name}-hint">${hint}</span>` : ""}
${input(html`id="token-${name}" name="${name}"${described ? html` aria-describedby="${described}"` : ""}${error ? html` aria-invalid="true"` : ""}`)}
${error ? html`<p class="field-error" id="${name}-error">${error}</p>` : ""}</div>`;
  };
  return renderPage(
    c,
    {
      title: "Tokens",
      current: "tokens",
      body: html`<h1>Project tokens</h1>
<p>A project token reaches one project's API (and may sign in to the dashboard for it): <em>read</em> looks,
<em>write</em> changes integrations and redeploys.</p>
${revoked ? html`<p class="notice ok" role="status">Token <code>${revoked}</code> revoked: it stopped working at once.</p>` : ""}
${
  created?.token
    ? html`<section class="notice ok" aria-labelledby="created-heading">
<h2 id="created-heading">Token “${created.name}” created</h2>
<p>Copy it now: envhooks keeps only its hash and never shows it again.</p>
<p class="secret" id="new-token">${created.token}</p>
<p>${copyButton("token", { from: "new-token" })}</p>
</section>`
    : ""
}
<h2>Create a token</h2>
<form method="post" action="/tokens">
${csrfInput(c)}
${errors.size > 0 ? html`<p class="notice bad" role="alert">The token was not created: see the fields marked below.</p>` : ""}
${
  repositories.length > 0
    ? field(
        "project",
        "Project",
        (attributes) =>
          html`<select ${attributes}>${repositories.map(
            (key) =>
              html`<option value="${key}"${value("project") === key ? html` selected` : ""}>${key}</option>`,
          )}</select>`,
        "A repository you are admin of on GitHub.",
      )
    : field(
        "project",
        "Project",
        (attributes) =>
          html`<input type="text" ${attributes} value="${value("project")}" placeholder="owner/repo" />`,
        "owner/repo, a repository of the App's installations",
      )
}
${field("name", "Name", (attributes) => html`<input type="text" ${attributes} value="${value("name")}" />`, "What the token is for, to recognise it in the list.")}
${field(
  "access",
  "Access",
  (attributes) => html`<select ${attributes}>
<option value="read"${value("access") !== "write" ? html` selected` : ""}>read</option>
<option value="write"${value("access") === "write" ? html` selected` : ""}>write</option>
</select>`,
)}
<button type="submit" class="primary">Create the token</button>
</form>
<h2 id="tokens-heading">Live tokens</h2>
${
  answer.body.length === 0
    ? html`<p class="muted">No project token.</p>`
    : html`<div class="table-wrap"><table aria-labelledby="tokens-heading">
<thead><tr><th scope="col">Name</th><th scope="col">Project</th><th scope="col">Access</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${answer.body.map(
        (token) => html`<tr id="token-${token.id}">
<th scope="row">${token.name} <code class="muted">${token.id}</code></th>
<td>${token.project}</td>
<td>${token.access === "write" ? badge("warn", "write") : badge("info", "read")}</td>
<td>${when(token.created_at)}</td>
<td><form method="post" action="/tokens/${token.id}/revoke" class="inline">${csrfInput(c)}<button type="submit" class="danger" aria-label="Revoke ${token.name} (${token.id})">Revoke</button></form></td>
</tr>`,
      )}</tbody></table></div>`
}`,
    },
    status,
  );
}

export async function createToken(deps: WebDeps, c: Context) {
  const values = await readForm(c);
  const body: Record<string, string> = {};
  for (const key of ["project", "name", "access"]) {
    const value = values[key];
    if (typeof value === "string" && value.trim()) body[key] = value.trim();
  }
  if (body.project === undefined) body.project = "";
  // The form offers only repositories envhooks knows (the App's installations, or that sent an
  // event): a token for any other would reach nothing.
  if (body.project && /^[^/]+\/[^/]+$/.test(body.project)) {
    const known = await callApi<Array<{ project: string }>>(deps, c, "/api/projects");
    const wanted = body.project.toLowerCase();
    if (known.ok && !known.body.some((project) => project.project.toLowerCase() === wanted)) {
      const message = `envhooks knows no repository ${body.project}: install the GitHub App on it (or let it send an event) first.`;
      return render(deps, c, values, new Map([["project", message]]), undefined, 400);
    }
  }
  const answer = await callApi<TokenJson>(deps, c, "/api/tokens", { method: "POST", body });
  if (!answer.ok) {
    if (answer.status !== 400) return errorPage(c, answer);
    return render(deps, c, values, fieldErrors(answer.error), undefined, 400);
  }
  // POST/redirect/GET: a reload of the page that shows the token creates no other.
  const flash = await leaveFlash(deps, c, {
    kind: "token-created",
    token: answer.body as unknown as Record<string, unknown>,
  });
  return c.redirect(`/tokens?${flash}`, 303);
}

export async function revokeToken(deps: WebDeps, c: Context) {
  const id = c.req.param("id") ?? "";
  const answer = await callApi(deps, c, `/api/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
  if (!answer.ok) return errorPage(c, answer);
  return c.redirect(`/tokens?revoked=${encodeURIComponent(id)}`, 303);
}
