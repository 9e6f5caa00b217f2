import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushToBranch, REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

describe.each(STORES)("Kudu's hooks API on $name", (kind) => {
  let envhooks: TestEnvhooks;
  let receiver: Receiver;
  let token: string;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    receiver = await new Receiver().start();
    const created = await envhooks.api("/api/tokens", { body: { project: REPO, access: "write" } });
    token = (await created.json()).token;
  });
  afterEach(async () => {
    await receiver?.stop();
    await envhooks?.close();
  });

  function kudu(path: string, init: { method?: string; body?: unknown; as?: string } = {}) {
    return envhooks.app.request(path, {
      method: init.method ?? (init.body ? "POST" : "GET"),
      headers: { authorization: `Bearer ${init.as ?? token}`, "content-type": "application/json" },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
  }

  it("answers 201, 200, 409, 404 and 200 exactly as Kudu does", async () => {
    const created = await kudu("/api/hooks", { body: { url: receiver.url, event: "PostDeployment" } });
    expect(created.status).toBe(201);
    const hook = await created.json();
    expect(hook).toMatchObject({
      url: receiver.url,
      event: "PostDeployment",
      insecure_ssl: false,
      last_status: null,
    });

    const again = await kudu("/api/hooks", { body: { url: receiver.url, event: "PostDeployment" } });
    expect(again.status).toBe(200);
    expect((await again.json()).id).toBe(hook.id);

    const other = `${receiver.url}/platformsh`;
    await envhooks.api(`/api/projects/${REPO}/integrations`, { body: { type: "webhook", url: other } });
    const conflict = await kudu("/api/hooks", { body: { url: other, event: "PostDeployment" } });
    expect(conflict.status).toBe(409);

    expect((await (await kudu("/api/hooks")).json()).map((h: { id: string }) => h.id)).toEqual([hook.id]);
    expect((await kudu(`/api/hooks/${hook.id}`)).status).toBe(200);
    expect((await kudu("/api/hooks/aaaaaaaaaaaaa")).status).toBe(404);
    expect((await kudu(`/api/hooks/${hook.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await kudu(`/api/hooks/${hook.id}`)).status).toBe(404);
  });

  it("sends completed activities in Kudu's PostDeployment shape and shows the last attempt", async () => {
    const hook = await (
      await kudu("/api/hooks", { body: { url: receiver.url, event: "PostDeployment" } })
    ).json();
    const payload = pushToBranch("feature-kudu", { before: "1".repeat(40), after: "2".repeat(40) });
    expect((await envhooks.deliver("push", payload, { deliveryId: "kudu-push" })).status).toBe(202);
    await eventually(async () => (await findEvent(envhooks.store.db, "kudu-push"))?.state === "processed");
    await eventually(async () => receiver.received.length >= 1);
    const body = JSON.parse(receiver.received[0]?.body ?? "{}");
    expect(Object.keys(body).sort()).toEqual(
      ["author", "author_email", "deployer", "end_time", "id", "message", "start_time", "status"].sort(),
    );
    expect(body).toMatchObject({ id: "2".repeat(40), status: "success" });
    const shown = await eventually(async () => {
      const current = await (await kudu(`/api/hooks/${hook.id}`)).json();
      return current.last_status ? current : undefined;
    });
    expect(shown).toMatchObject({ last_status: "OK", last_reason: "HTTP 200" });
    expect(JSON.parse(shown.last_context)).toMatchObject({ status: "success" });

    const published = await kudu("/api/hooks/publish/PostDeployment", { method: "POST" });
    expect(published.status).toBe(200);
    expect((await published.json()).published).toHaveLength(1);
    expect(receiver.received).toHaveLength(2);
  });

  it("refuses what Kudu would, naming the field, and needs a project token that may write", async () => {
    const bad = await kudu("/api/hooks", { body: { url: "not a url", event: "PreDeployment" } });
    expect(bad.status).toBe(400);
    const fields = (await bad.json()).error.details.fields.map((f: { field: string }) => f.field).sort();
    expect(fields).toEqual(["event", "url"]);

    const operator = await kudu("/api/hooks", { as: API_TOKEN });
    expect(operator.status).toBe(403);
    expect((await operator.json()).error.message).toContain("project token");

    const read = (await (await envhooks.api("/api/tokens", { body: { project: REPO } })).json()).token;
    expect((await kudu("/api/hooks", { as: read })).status).toBe(200);
    expect(
      (await kudu("/api/hooks", { as: read, body: { url: receiver.url, event: "PostDeployment" } })).status,
    ).toBe(403);
    expect(await (await kudu("/api/hooks")).json()).toEqual([]);
  });

  it("skips TLS verification for an insecure_ssl hook only", async () => {
    const folder = mkdtempSync(join(tmpdir(), "envhooks-tls-"));
    let server: Server | undefined;
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=127.0.0.1",
          "-keyout",
          join(folder, "key.pem"),
          "-out",
          join(folder, "cert.pem"),
        ],
        { stdio: "ignore" },
      );
      const got: string[] = [];
      server = createHttpsServer(
        { key: readFileSync(join(folder, "key.pem")), cert: readFileSync(join(folder, "cert.pem")) },
        (request, response) => {
          got.push(request.url ?? "");
          request.resume();
          request.on("end", () => response.end("ok"));
        },
      );
      await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
      const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const insecure = await (
        await kudu("/api/hooks", {
          body: { url: `${base}/insecure`, event: "PostDeployment", insecure_ssl: true },
        })
      ).json();
      await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: `${base}/strict`, format: "kudu" },
      });
      const { published } = await (
        await kudu("/api/hooks/publish/PostDeployment", { method: "POST" })
      ).json();
      expect(got).toEqual(["/insecure"]);
      // The strict one is a Kudu-format webhook too, so publish tried it and its certificate was refused.
      expect(
        published.map((hook: { id: string; last_status: string }) => [hook.id, hook.last_status]),
      ).toEqual([
        [insecure.id, "OK"],
        [expect.any(String), "Failed"],
      ]);
      // Publish sends tests: the hooks' own summaries stay their real deliveries' (none yet).
      expect((await (await kudu(`/api/hooks/${insecure.id}`)).json()).last_status).toBeNull();
    } finally {
      server?.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
