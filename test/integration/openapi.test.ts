import { compileErrors, validate } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STORES } from "../helpers/stores.ts";
import { startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const pglite = STORES[0];

describe("the OpenAPI description", () => {
  let envhooks: TestEnvhooks;
  let document: { paths: Record<string, Record<string, unknown>> };

  beforeAll(async () => {
    if (!pglite) throw new Error("no embedded store");
    envhooks = await startTestEnvhooks(pglite);
    const response = await envhooks.app.request("/openapi.json");
    expect(response.status).toBe(200);
    document = await response.json();
  });
  afterAll(async () => {
    await envhooks?.close();
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, result.valid ? "" : compileErrors(result)).toBe(true);
    expect((document as unknown as { openapi: string }).openapi).toBe("3.1.0");
  });

  it("describes every route the server answers", () => {
    // The JSON API and the probes; the dashboard's pages (setup, sign-in, /projects, /assets, …) are HTML.
    const api = /^\/(api|rest)\/|^\/(healthz|readyz|metrics)$/;
    const served = envhooks.app.routes
      .filter((route) => route.method !== "ALL" && api.test(route.path))
      .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`);
    const described = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    expect(served.length).toBeGreaterThan(20);
    expect(new Set(served)).toEqual(new Set(described));
  });

  it("asks for the bearer token on the API, not on probes or GitHub's deliveries", () => {
    const doc = document as unknown as {
      security: unknown[];
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/healthz"]?.get?.security).toEqual([]);
    expect(doc.paths["/api/github/webhooks"]?.post?.security).toEqual([]);
    expect(doc.paths["/api/projects/{owner}/{repo}/integrations"]?.post?.security).toBeUndefined();
  });

  it("serves a browsable reference at /docs", async () => {
    const response = await envhooks.app.request("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(await response.text()).toContain("/openapi.json");
  });

  it("describes every parameter", () => {
    const missing = Object.entries(
      document.paths as Record<
        string,
        Record<string, { parameters?: Array<{ name: string; in: string; description?: string }> }>
      >,
    ).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) =>
        (operation.parameters ?? [])
          .filter((parameter) => !parameter.description?.trim())
          .map((parameter) => `${method} ${path}: ${parameter.in} ${parameter.name}`),
      ),
    );
    expect(missing).toEqual([]);
  });

  it("renders Markdown in descriptions at /docs: code, bold and links, with nothing unescaped", async () => {
    const page = await (await envhooks.app.request("/docs")).text();
    // POST /api/projects/{owner}/{repo}/github-events/{delivery_id}/redeliver says **409** and `<delivery_id>`.
    expect(page).toContain("<strong>409</strong>");
    expect(page).toContain("<code>&lt;delivery_id&gt;.redelivery-&lt;8 hex&gt;</code>");
    expect(page).not.toContain("**409**");
    expect(page).not.toMatch(/<p class="muted">[^<]*`[^`<]+`/);
  });
});
