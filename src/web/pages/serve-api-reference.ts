import { Hono } from "hono";
import { html } from "hono/html";
import { type Markup, renderPage } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { renderMarkdown } from "./render-markdown.ts";

interface Operation {
  summary?: string;
  description?: string;
  parameters?: Array<{
    name: string;
    in: string;
    required?: boolean;
    description?: string;
    schema?: unknown;
  }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
  security?: unknown[];
}

interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}

const METHODS = ["get", "post", "put", "patch", "delete"];

const anchor = (method: string, path: string) =>
  `${method}-${path.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "")}`;

const schemaText = (schema: unknown) => JSON.stringify(schema, null, 2);

function operation(method: string, path: string, op: Operation): Markup {
  const body = op.requestBody?.content?.["application/json"]?.schema;
  return html`<section class="card" id="${anchor(method, path)}" aria-labelledby="${anchor(method, path)}-title">
<h3 id="${anchor(method, path)}-title"><span class="badge info">${method.toUpperCase()}</span> <code>${path}</code></h3>
${op.summary ? html`<p>${op.summary}</p>` : ""}
${op.description ? html`<div class="muted">${renderMarkdown(op.description)}</div>` : ""}
${op.security && op.security.length === 0 ? html`<p>${html`<span class="badge none">no token</span>`}</p>` : ""}
${
  op.parameters?.length
    ? html`<div class="table-wrap"><table><caption>Parameters</caption>
<thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Type</th><th scope="col">Description</th></tr></thead>
<tbody>${op.parameters.map(
        (
          parameter,
        ) => html`<tr><th scope="row"><code>${parameter.name}</code>${parameter.required ? " (required)" : ""}</th>
<td>${parameter.in}</td><td><code>${typeOf(parameter.schema)}</code></td><td>${parameter.description ? renderMarkdown(parameter.description) : ""}</td></tr>`,
      )}</tbody></table></div>`
    : ""
}
${body ? html`<details><summary>Request body (JSON)</summary><pre>${schemaText(body)}</pre></details>` : ""}
<h4>Responses</h4>
<ul>${Object.entries(op.responses ?? {}).map(([status, response]) => {
    const schema = response.content?.["application/json"]?.schema;
    return html`<li><strong>${status}</strong> ${response.description ? renderMarkdown(response.description) : ""}${
      schema ? html`<details><summary>Schema</summary><pre>${schemaText(schema)}</pre></details>` : ""
    }</li>`;
  })}</ul>
</section>`;
}

function typeOf(schema: unknown): string {
  if (!schema || typeof schema !== "object") return "";
  const s = schema as { type?: string; enum?: unknown[]; format?: string; pattern?: string };
  if (s.enum) return s.enum.join(" | ");
  return [s.type, s.format].filter(Boolean).join(", ") || "";
}

/**
 * `/docs`: the API reference rendered here from `/openapi.json`, as plain HTML under the pages'
 * CSP — no script, nothing from another origin. (Scalar's hono middleware loads its bundle from a
 * CDN, and its standalone bundle comes only with @scalar/api-reference and its Vue dependency tree.)
 */
export function serveApiReference(deps: Pick<WebDeps, "callApi">): Hono {
  const app = new Hono();
  app.get("/docs", async (c) => {
    const response = await deps.callApi("/openapi.json");
    const doc = (await response.json()) as OpenApiDocument;
    const entries = Object.entries(doc.paths)
      .flatMap(([path, item]) =>
        METHODS.filter((method) => item[method]).map((method) => ({
          path,
          method,
          op: item[method] as Operation,
        })),
      )
      .sort((a, b) => a.path.localeCompare(b.path) || METHODS.indexOf(a.method) - METHODS.indexOf(b.method));
    return renderPage(c, {
      title: "API reference",
      current: "docs",
      body: html`<h1>${doc.info.title} API <span class="muted">${doc.info.version}</span></h1>
${doc.info.description ? renderMarkdown(doc.info.description) : ""}
<p>The machine-readable description: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<nav aria-label="Operations"><details><summary>All ${entries.length} operations</summary><ul>${entries.map(
        ({ path, method, op }) =>
          html`<li><a href="#${anchor(method, path)}"><code>${method.toUpperCase()} ${path}</code></a> ${op.summary ?? ""}</li>`,
      )}</ul></details></nav>
<h2>Operations</h2>
${entries.map(({ path, method, op }) => operation(method, path, op))}
${
  doc.components?.schemas
    ? html`<h2>Schemas</h2>${Object.entries(doc.components.schemas).map(
        ([name, schema]) =>
          html`<details id="schema-${name}"><summary><code>${name}</code></summary><pre>${schemaText(schema)}</pre></details>`,
      )}`
    : ""
}`,
    });
  });
  return app;
}
