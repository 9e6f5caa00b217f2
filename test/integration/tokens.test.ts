import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushCreatingMaster, REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const OTHER = "acme/other";

describe.each(STORES)("project tokens on $name", (kind) => {
  let envhooks: TestEnvhooks;
  let receiver: Receiver;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    receiver = await new Receiver().start();
  });
  afterEach(async () => {
    await receiver?.stop();
    await envhooks?.close();
  });

  async function createToken(body: Record<string, unknown>) {
    const response = await envhooks.api("/api/tokens", { body });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; token: string; project: string; access: string };
  }

  /** A request with a project token instead of the operator's. */
  function as(token: string, path: string, init: { method?: string; body?: unknown } = {}) {
    return envhooks.app.request(path, {
      method: init.method ?? (init.body ? "POST" : "GET"),
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
  }

  it("creates a token shown once, stores only its hash, and lists it without the token", async () => {
    const created = await createToken({ project: REPO, name: "ci" });
    expect(created.token).toMatch(/^ehk_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ project: REPO.toLowerCase(), access: "read", name: "ci" });
    const listed = await (await envhooks.api("/api/tokens")).text();
    expect(listed).toContain(created.id);
    expect(listed).not.toContain(created.token);
    const { rows } = await envhooks.store.db.query<Record<string, unknown>>("SELECT * FROM api_tokens");
    expect(JSON.stringify(rows)).not.toContain(created.token);
  });

  it("a read-only token reads its project, and gets 403 elsewhere and for writes", async () => {
    const { token } = await createToken({ project: REPO });
    expect((await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "token-push" })).status).toBe(
      202,
    );
    await eventually(async () => (await findEvent(envhooks.store.db, "token-push"))?.state === "processed");
    expect((await as(token, `/api/projects/${REPO}/environments`)).status).toBe(200);
    expect((await as(token, `/rest/status/${REPO}`)).status).toBe(200);

    const other = await as(token, `/api/projects/${OTHER}/environments`);
    expect(other.status).toBe(403);
    expect((await other.json()).error.message).toContain(REPO.toLowerCase());
    const write = await as(token, `/api/projects/${REPO}/integrations`, {
      body: { type: "webhook", url: receiver.url },
    });
    expect(write.status).toBe(403);
    expect((await write.json()).error.message).toContain("read-only");
    for (const path of ["/api/tokens", "/rest/projects", "/rest/status"]) {
      expect((await as(token, path)).status).toBe(403);
    }
  });

  it("a read-write token manages its project's integrations, and never another project's deliveries", async () => {
    const { token } = await createToken({ project: REPO, access: "write" });
    const mine = await as(token, `/api/projects/${REPO}/integrations`, {
      body: { type: "webhook", url: receiver.url },
    });
    expect(mine.status).toBe(201);
    expect(
      (
        await as(token, `/api/projects/${OTHER}/integrations`, {
          body: { type: "webhook", url: receiver.url },
        })
      ).status,
    ).toBe(403);

    // A delivery of another project, made by the operator.
    const theirs = await (
      await envhooks.api(`/api/projects/${OTHER}/integrations`, {
        body: { type: "webhook", url: receiver.url },
      })
    ).json();
    const tested = await (
      await envhooks.api(`/api/projects/${OTHER}/integrations/${theirs.id}/test`, { method: "POST" })
    ).json();
    expect((await as(token, `/api/deliveries/${tested.id}`)).status).toBe(403);
    expect((await as(token, `/api/deliveries/${tested.id}/redeliver`, { method: "POST" })).status).toBe(403);
    expect((await envhooks.api(`/api/deliveries/${tested.id}`)).status).toBe(200);
  });

  it("a revoked token stops working at once; unknown tokens get 401", async () => {
    const created = await createToken({ project: REPO });
    expect((await as(created.token, `/api/projects/${REPO}/integrations`)).status).toBe(200);
    expect((await envhooks.api(`/api/tokens/${created.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await as(created.token, `/api/projects/${REPO}/integrations`)).status).toBe(401);
    expect((await envhooks.api(`/api/tokens/${created.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await as("ehk_not-a-token", `/api/projects/${REPO}/integrations`)).status).toBe(401);
    expect(await (await envhooks.api("/api/tokens")).json()).toEqual([]);
  });

  it("refuses a bad body naming the field, and creates nothing", async () => {
    const response = await envhooks.api("/api/tokens", { body: { project: "no-slash", access: "admin" } });
    expect(response.status).toBe(400);
    const fields = (await response.json()).error.details.fields.map((f: { field: string }) => f.field).sort();
    expect(fields).toEqual(["access", "project"]);
    expect(await (await envhooks.api("/api/tokens")).json()).toEqual([]);
  });
});
