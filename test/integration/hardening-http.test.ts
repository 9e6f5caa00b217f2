import { Hono } from "hono";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleErrors } from "../../src/http/handle-errors.ts";
import { REPO } from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { STORES, type StoreKind } from "../helpers/stores.ts";
import { API_TOKEN, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

// What is checked here does not depend on the store: the embedded one is enough.
const kind = STORES[0] as StoreKind;

async function errorOf(response: Response) {
  return (await response.json()).error as { code: string; message: string; details: any };
}

const fieldsOf = async (response: Response) =>
  ((await errorOf(response)).details.fields as Array<{ field: string }>).map((f) => f.field);

describe("HTTP input limits", () => {
  let envhooks: TestEnvhooks;
  beforeAll(async () => {
    envhooks = await startTestEnvhooks(kind, { metricsToken: "m".repeat(40) });
  });
  afterAll(async () => {
    await envhooks?.close();
  });

  const integrations = `/api/projects/${REPO}/integrations`;
  const webhook = { type: "webhook", url: "https://receiver.example.com/hook" };

  it("refuses filter patterns that are too long, too wild or too many, naming the field", async () => {
    let response = await envhooks.api(integrations, {
      body: { ...webhook, environments: ["x".repeat(101)] },
    });
    expect(response.status).toBe(400);
    expect(await fieldsOf(response)).toEqual(["environments.0"]);

    response = await envhooks.api(integrations, { body: { ...webhook, events: ["***********x"] } });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("invalid_parameters");
    expect(error.message).toMatch(/events\.0 \(.*at most 10 wildcards/);

    response = await envhooks.api(integrations, {
      body: { ...webhook, excluded_environments: Array.from({ length: 51 }, (_, n) => `pr-${n}`) },
    });
    expect(response.status).toBe(400);
    expect(await fieldsOf(response)).toEqual(["excluded_environments"]);

    const created = await envhooks.api(integrations, {
      body: { ...webhook, environments: ["feature/*-?-*"], excluded_environments: ["*tmp*"] },
    });
    expect(created.status).toBe(201);
    const { id } = await created.json();
    response = await envhooks.api(`${integrations}/${id}`, {
      method: "PATCH",
      body: { excluded_environments: ["?".repeat(11)] },
    });
    expect(response.status).toBe(400);
    expect(await fieldsOf(response)).toEqual(["excluded_environments.0"]);
  });

  it("answers 413 to an API body over 1 MB, with or without Content-Length", async () => {
    const big = JSON.stringify({ ...webhook, headers: { "X-Pad": "x".repeat(1024 * 1024) } });
    const headers = { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" };
    let response = await envhooks.app.request(integrations, {
      method: "POST",
      body: big,
      headers: { ...headers, "content-length": String(Buffer.byteLength(big)) },
    });
    expect(response.status).toBe(413);
    const error = await errorOf(response);
    expect(error.code).toBe("payload_too_large");
    expect(error.message).toMatch(/1 MB/);

    const streamed = new ReadableStream({
      start(controller) {
        for (let n = 0; n < 20; n++) controller.enqueue(new Uint8Array(100 * 1024).fill(32));
        controller.close();
      },
    });
    response = await envhooks.app.request(integrations, {
      method: "POST",
      body: streamed,
      headers,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);

    // A body under the limit still reaches the route.
    response = await envhooks.api(integrations, {
      body: { ...webhook, headers: { "X-Pad": "x".repeat(1000) } },
    });
    expect(response.status).toBe(201);
  });

  it("answers 400 to a malformed percent-encoding in the path", async () => {
    for (const path of [
      "/api/projects/%E0%A4%A/x/environments",
      `/api/projects/${REPO}/environments/%E0%A4%A/redeploy`,
      `/api/projects/${REPO}/environments/%/redeploy`,
    ]) {
      const response = await envhooks.app.request(path, {
        method: path.endsWith("redeploy") ? "POST" : "GET",
        headers: { authorization: `Bearer ${API_TOKEN}` },
      });
      expect(response.status, path).toBe(400);
      expect((await errorOf(response)).code, path).toBe("invalid_path");
    }
    expect(envhooks.logs.join("")).not.toContain("URIError");
  });

  it("answers 400 naming the field to NUL in a path or a query filter, on the API and the dashboard", async () => {
    const api = (path: string, init: { method?: string; token?: string } = {}) =>
      envhooks.app.request(path, {
        method: init.method ?? "GET",
        headers: { authorization: `Bearer ${init.token ?? API_TOKEN}` },
      });
    const cases: Array<[string, string, string?]> = [
      ["/api/projects/acme%00/web/environments", "owner"],
      ["/api/projects/acme/we%00b/activities", "repo"],
      [`/api/projects/${REPO}/environments/ma%00ster/redeploy`, "path", "POST"],
      [`/api/projects/${REPO}/activities?environment=ma%00ster`, "environment"],
      [`/api/projects/${REPO}/activities?type=environment.push%00`, "type"],
    ];
    for (const [path, field, method] of cases) {
      const response = await api(path, method ? { method } : {});
      expect(response.status, path).toBe(400);
      const error = await errorOf(response);
      expect(error.code, path).toBe("invalid_parameters");
      expect(
        error.details.fields.map((f: { field: string }) => f.field),
        path,
      ).toEqual([field]);
      expect(error.message, path).toContain("NUL");
    }
    // Refused before authentication and the moved-project lookup, as a malformed path is.
    expect((await api("/api/projects/acme%00/web/environments", { token: "wrong" })).status).toBe(400);

    const dashboard = new DashboardClient(envhooks.app);
    await dashboard.signIn(API_TOKEN);
    for (const [path, field] of [
      ["/projects/acme%00/web", "owner"],
      [`/projects/${REPO}?before=1%00`, "before"],
      ["/activities/a%00b", "path"],
    ] as const) {
      const page = await dashboard.get(path);
      expect(page.status, path).toBe(400);
      expect(page.headers.get("content-type"), path).toContain("text/html");
      const text = await page.text();
      expect(text, path).toContain(`Invalid ${field}`);
    }
    // In a body, PostgreSQL's refusal is the client's error too, and nothing is stored.
    const before = (await (await envhooks.api(integrations)).json()).length;
    const named = await envhooks.api(integrations, { body: { ...webhook, environments: ["main\u0000"] } });
    expect(named.status).toBe(400);
    expect((await errorOf(named)).message).toContain("NUL");
    expect(await (await envhooks.api(integrations)).json()).toHaveLength(before);
    const logs = envhooks.logs.join("");
    expect(logs).not.toContain("request failed");
    expect(logs).not.toContain("0x00");
  });

  it("accepts only absolute http(s) URLs from a deploy runner, naming the field", async () => {
    const path = "/api/activities/aaaaaaaaaaaaa/progress";
    for (const [field, url] of [
      ["environment_url", "https://x.example.com/a><!channel> click <https://evil.example.com|here"],
      ["environment_url", "https://x.example.com/a b"],
      ["environment_url", "javascript:alert(1)//https://x"],
      ["environment_url", "//x.example.com/"],
      ["log_url", 'https://ci.example.com/"onmouseover="x'],
      ["log_url", "ftp://ci.example.com/log"],
    ] as const) {
      const response = await envhooks.api(path, { body: { [field]: url } });
      expect(response.status, url).toBe(400);
      const error = await errorOf(response);
      expect(
        error.details.fields.map((f: { field: string }) => f.field),
        url,
      ).toEqual([field]);
      expect(error.message, url).toMatch(/absolute http:\/\/ or https:\/\/ URL/);
    }
    // A well-formed URL gets past validation (and finds no such activity).
    const response = await envhooks.api(path, {
      body: { environment_url: "https://pr-2.preview.example.com/a%20b?x=1&y=(2)#top" },
    });
    expect(response.status).toBe(404);
  });

  it("serves /metrics only with ENVHOOKS_METRICS_TOKEN when it is set", async () => {
    const scrape = (authorization?: string) =>
      envhooks.app.request("/metrics", authorization ? { headers: { authorization } } : {});
    let response = await scrape();
    expect(response.status).toBe(401);
    expect((await errorOf(response)).message).toMatch(/ENVHOOKS_METRICS_TOKEN/);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await scrape(`Bearer ${"m".repeat(39)}`)).status).toBe(401);
    expect((await scrape(`Bearer ${API_TOKEN}`)).status).toBe(401);
    response = await scrape(`Bearer ${"m".repeat(40)}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("envhooks_");
  });
});

describe("/metrics without ENVHOOKS_METRICS_TOKEN", () => {
  it("is open, as before", async () => {
    const envhooks = await startTestEnvhooks(kind);
    try {
      expect((await envhooks.app.request("/metrics")).status).toBe(200);
    } finally {
      await envhooks.close();
    }
  });
});

describe("the error handler", () => {
  it("answers a URIError from decoding client input with 400, not 500", async () => {
    const app = new Hono();
    app.onError(handleErrors(pino({ level: "silent" })));
    app.get("/", (c) => c.text(decodeURIComponent(c.req.header("x-name") ?? "")));
    const response = await app.request("/", { headers: { "x-name": "%E0%A4%A" } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("invalid_encoding");
  });

  it("answers PostgreSQL refusing NUL in a value the client sent with 400, not 500", async () => {
    const store = await kind.open();
    try {
      const app = new Hono();
      const logged: string[] = [];
      app.onError(handleErrors(pino({ level: "error" }, { write: (line: string) => logged.push(line) })));
      app.post("/", async (c) => {
        await store.db.query("SELECT $1::text AS name", [(await c.req.json()).name]);
        return c.text("ok");
      });
      const response = await app.request("/", { method: "POST", body: JSON.stringify({ name: "a\u0000b" }) });
      expect(response.status).toBe(400);
      expect((await errorOf(response)).code).toBe("invalid_characters");
      expect(logged).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("answers PostgreSQL refusing a value the request did not carry (22021) with a logged 500, not the client's 400", async () => {
    const store = await kind.open();
    try {
      const app = new Hono();
      const logged: string[] = [];
      app.onError(handleErrors(pino({ level: "error" }, { write: (line: string) => logged.push(line) })));
      // A value of the server's own (bytes stored or computed), not the client's: invalid UTF-8 and NUL.
      app.post("/", async (c) => {
        await c.req.json();
        await store.db.query("SELECT convert_from('\\xc328'::bytea, 'UTF8') AS name");
        return c.text("ok");
      });
      app.get("/", async (c) => {
        await store.db.query("SELECT convert_from('\\x6100'::bytea, 'UTF8') AS name");
        return c.text("ok");
      });
      const post = await app.request("/", { method: "POST", body: JSON.stringify({ name: "fine" }) });
      expect(post.status).toBe(500);
      expect((await errorOf(post)).code).toBe("internal_error");
      const get = await app.request("/");
      expect(get.status).toBe(500);
      expect(logged).toHaveLength(2);
      expect(logged[0]).toContain("22021");
    } finally {
      await store.close();
    }
  });
});
