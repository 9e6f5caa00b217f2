import { createHmac } from "node:crypto";
import { verify as verifyGithubStyle } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushCreatingMaster, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const FAST = [0, 0, 0, 0, 0];
const sha = (n: number) => n.toString(16).padStart(40, "c");

describe.each(STORES)("relay to webhooks on $name", (kind) => {
  let envhooks: TestEnvhooks;
  let receiver: Receiver;
  let pushes = 0;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    receiver = await new Receiver().start();
    pushes = 0;
  });
  afterEach(async () => {
    await receiver?.stop();
    await envhooks?.close();
  });

  const base = `/api/projects/${REPO}/integrations`;

  async function addWebhook(body: Record<string, unknown> = {}) {
    const response = await envhooks.api(base, { body: { type: "webhook", url: receiver.url, ...body } });
    expect(response.status).toBe(201);
    return response.json();
  }

  /** Sends a signed push to `branch` and waits until it is applied. */
  async function push(branch = "master") {
    pushes++;
    const id = `push-${pushes}`;
    const payload =
      pushes === 1 && branch === "master"
        ? pushCreatingMaster()
        : pushToBranch(branch, { before: sha(pushes), after: sha(pushes + 1) });
    expect((await envhooks.deliver("push", payload, { deliveryId: id })).status).toBe(202);
    await eventually(async () => (await findEvent(envhooks.store.db, id))?.state === "processed");
  }

  async function deliveries(integrationId: string, query = "") {
    return (await (await envhooks.api(`${base}/${integrationId}/deliveries?limit=100${query}`)).json()).items;
  }

  it("creates, shows (secret masked), lists, changes and deletes a webhook integration", async () => {
    const created = await addWebhook({
      environments: ["feature/*"],
      headers: { Authorization: "Bearer abc", "X-Team": "web" },
    });
    expect(created).toMatchObject({
      type: "webhook",
      url: receiver.url,
      events: ["*"],
      states: ["complete"],
      environments: ["feature/*"],
      excluded_environments: [],
      format: "platformsh",
      timeout_ms: 15000,
      status: "active",
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);

    const shown = await (await envhooks.api(`${base}/${created.id}`)).json();
    expect(shown.secret).toBe("********");
    expect(shown.headers).toEqual({ Authorization: "********", "X-Team": "web" });
    expect(JSON.stringify(shown)).not.toContain(created.secret);

    const changed = await (
      await envhooks.api(`${base}/${created.id}`, { method: "PATCH", body: { format: "kudu" } })
    ).json();
    expect(changed).toMatchObject({ format: "kudu", environments: ["feature/*"] });
    expect((await (await envhooks.api(base)).json()).map((i: { id: string }) => i.id)).toEqual([created.id]);

    expect((await envhooks.api(`/api/projects/other/repo/integrations/${created.id}`)).status).toBe(404);
    expect((await envhooks.api(`${base}/${created.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await envhooks.api(`${base}/${created.id}`)).status).toBe(404);
  });

  it("refuses an invalid body with 400 naming each bad field, and keeps what existed", async () => {
    const kept = await addWebhook();
    const response = await envhooks.api(base, {
      body: {
        type: "webhook",
        url: "ftp://example.com",
        format: "xml",
        states: [],
        headers: { "User-Agent": "x" },
      },
    });
    expect(response.status).toBe(400);
    const error = (await response.json()).error;
    expect(error.code).toBe("invalid_parameters");
    expect(error.details.fields.map((f: { field: string }) => f.field).sort()).toEqual([
      "format",
      "headers.User-Agent",
      "states",
      "url",
    ]);
    const unknownType = await envhooks.api(base, { body: { type: "carrier-pigeon", url: receiver.url } });
    expect(unknownType.status).toBe(400);
    const malformed = await envhooks.app.request(base, {
      method: "POST",
      body: "{not json",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
    });
    expect(malformed.status).toBe(400);
    expect((await envhooks.api(base)).status).toBe(200);
    expect((await (await envhooks.api(base)).json()).map((i: { id: string }) => i.id)).toEqual([kept.id]);
  });

  it("delivers a push as the Platform.sh activity, signed so independent libraries verify it", async () => {
    const integration = await addWebhook();
    await push();
    const [request] = await eventually(async () =>
      receiver.received.length > 0 ? receiver.received : undefined,
    );
    if (!request) throw new Error("nothing received");
    const headers = request.headers as Record<string, string>;
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["user-agent"]).toMatch(/^Envhooks-Hookshot\/\d+\.\d+\.\d+$/);
    expect(headers["x-envhooks-event"]).toBe("environment.branch");
    expect(headers["x-envhooks-delivery"]).toBe(headers["webhook-id"]);
    // Standard Webhooks, checked by its own library; and GitHub's scheme, by Octokit's.
    expect(new Webhook(integration.secret).verify(request.body, headers)).toMatchObject({
      type: "environment.branch",
    });
    expect(
      await verifyGithubStyle(
        integration.secret,
        request.body,
        headers["x-envhooks-signature-256"] as string,
      ),
    ).toBe(true);

    const [activity] = (await (await envhooks.api(`/api/projects/${REPO}/activities`)).json()).items;
    expect(JSON.parse(request.body)).toEqual(activity);

    const [delivery] = await eventually(async () => {
      const list = await deliveries(integration.id);
      return list[0]?.state === "delivered" ? list : undefined;
    });
    const detail = await (await envhooks.api(`/api/deliveries/${delivery.id}`)).json();
    expect(detail.attempt_log).toHaveLength(1);
    expect(detail.attempt_log[0]).toMatchObject({
      status_code: 200,
      succeeded: true,
      response_body: "ok",
      // The log keeps the origin: a receiver's path may be a capability (issue 22).
      url: `${new URL(receiver.url).origin}/********`,
    });
    const summary = await (await envhooks.api(`${base}/${integration.id}`)).json();
    expect(summary).toMatchObject({ last_status: "OK", last_reason: "HTTP 200" });
    expect(summary.last_datetime).toBeTruthy();
  });

  it("speaks each dialect field for field, with Shipway's legacy signature", async () => {
    const byFormat: Record<string, Receiver> = {};
    const secrets: Record<string, string> = {};
    for (const format of ["dockership", "kudu", "divshot", "shipway"]) {
      byFormat[format] = await new Receiver().start();
      const created = await addWebhook({ url: byFormat[format]?.url, format });
      secrets[format] = created.secret;
    }
    try {
      await push();
      await push();
      for (const r of Object.values(byFormat)) await eventually(async () => r.received.length === 2);
      const [, second] = (byFormat.dockership as Receiver).bodies();
      expect(second).toEqual({
        previous_revision: sha(2),
        current_revision: sha(3),
        project: REPO,
        environment: "master",
        errors: [],
      });
      const kudu = (byFormat.kudu as Receiver).received[1];
      expect(kudu?.headers["x-envhooks-event"]).toBe("PostDeployment");
      expect(JSON.parse(kudu?.body ?? "")).toEqual({
        id: sha(3),
        status: "success",
        author_email: "21031067+Codertocat@users.noreply.github.com",
        author: "Codertocat",
        message: "Change 1",
        deployer: "Codertocat",
        start_time: expect.any(String),
        end_time: expect.any(String),
      });
      const divshot = (byFormat.divshot as Receiver).bodies()[1];
      expect(divshot).toMatchObject({
        event: "release",
        data: {
          app: { name: REPO, id: REPO },
          release: {
            env: "master",
            version: expect.any(Number),
            rollback: false,
            source: "envhooks",
            url: null,
          },
        },
      });
      expect(Object.keys(divshot.data.release).sort()).toEqual(
        [
          "author",
          "env",
          "permanent_url",
          "rollback",
          "source",
          "source_env",
          "timestamp",
          "url",
          "version",
        ].sort(),
      );
      const shipway = (byFormat.shipway as Receiver).received[1];
      const headers = shipway?.headers as Record<string, string>;
      expect(headers["x-shipway-event"]).toBe("build_finish");
      expect(headers["x-shipway-delivery"]).toBe(headers["webhook-id"]);
      expect(headers["user-agent"]).toMatch(/^Shipway-Hookshot\//);
      const expected = createHmac("sha1", secrets.shipway as string)
        .update(shipway?.body ?? "")
        .digest("hex");
      expect(headers["x-shipway-signature"]).toBe(`sha1=${expected}`);
      expect(JSON.parse(shipway?.body ?? "")).toMatchObject({
        build: { exit_code: 0, status: "succeeded", dockerfile_dir: "/" },
        commit: { sha: sha(3), message: "Change 1", author: { name: "Codertocat" } },
        repository: {
          name: "Hello-World",
          owner: { login: "Codertocat" },
          clone_url: `https://github.com/${REPO}.git`,
        },
      });
    } finally {
      for (const r of Object.values(byFormat)) await r.stop();
    }
  });

  it("sends only what the filters match", async () => {
    await addWebhook({
      environments: ["feature/*"],
      excluded_environments: ["feature/secret*"],
      events: ["environment.push"],
    });
    await push("master");
    await push("feature/a");
    await push("feature/a");
    await push("feature/secret-x");
    await push("feature/secret-x");
    await eventually(async () => receiver.received.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.bodies().map((b) => [b.type, b.parameters.environment])).toEqual([
      ["environment.push", "feature/a"],
    ]);
  });

  it("retries a 500 on its schedule with the same webhook-id, and logs every attempt", async () => {
    receiver.answer = (n) => (n < 2 ? { status: 500, body: "boom" } : { status: 204 });
    const integration = await addWebhook({ retry_schedule: FAST });
    await push();
    await eventually(async () => receiver.received.length === 3);
    expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    const [delivery] = await eventually(async () => {
      const list = await deliveries(integration.id);
      return list[0]?.state === "delivered" ? list : undefined;
    });
    const detail = await (await envhooks.api(`/api/deliveries/${delivery.id}`)).json();
    expect(detail.attempt_log.map((a: { status_code: number }) => a.status_code)).toEqual([500, 500, 204]);
    expect(detail.attempt_log[0]).toMatchObject({
      response_body: "boom",
      error: "HTTP 500",
      succeeded: false,
    });
    expect(detail.attempt_log[0].request_headers["x-envhooks-signature-256"]).toMatch(/^sha256=/);
  });

  it("honours Retry-After on a 429", async () => {
    receiver.answer = (n) => (n === 0 ? { status: 429, headers: { "retry-after": "2" } } : { status: 200 });
    await addWebhook({ retry_schedule: FAST });
    await push();
    await eventually(async () => receiver.received.length === 2);
    const [first, second] = receiver.received;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1900);
  });

  it("disables the integration on 410 Gone, visibly", async () => {
    receiver.answer = () => ({ status: 410 });
    const integration = await addWebhook({ retry_schedule: FAST });
    await push();
    const shown = await eventually(async () => {
      const current = await (await envhooks.api(`${base}/${integration.id}`)).json();
      return current.status === "disabled" ? current : undefined;
    });
    expect(shown.disabled_reason).toContain("410");
    expect(receiver.received).toHaveLength(1);
    expect((await deliveries(integration.id))[0].state).toBe("failed");
  });

  it("fails an attempt that hangs past the timeout, then delivers on retry", async () => {
    receiver.answer = (n) => (n === 0 ? "hang" : { status: 200 });
    const integration = await addWebhook({ timeout_ms: 300, retry_schedule: FAST });
    await push();
    const [delivery] = await eventually(async () => {
      const list = await deliveries(integration.id);
      return list[0]?.state === "delivered" ? list : undefined;
    });
    const detail = await (await envhooks.api(`/api/deliveries/${delivery.id}`)).json();
    expect(detail.attempt_log[0].error).toMatch(/^timeout/);
    expect(detail.attempt_log[0].duration_ms).toBeGreaterThanOrEqual(290);
    expect(detail.attempt_log[1].succeeded).toBe(true);
  });

  it("keeps trying while the receiver is down and delivers everything in order once it is up", async () => {
    await addWebhook({ retry_schedule: [1, 1, 1, 1, 1, 1, 1, 1] });
    await receiver.stop();
    await push();
    await push();
    await push();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await receiver.start();
    await eventually(async () => receiver.received.length === 3);
    expect(receiver.bodies().map((b) => b.parameters.new_commit)).toEqual([
      pushCreatingMaster().after,
      sha(3),
      sha(4),
    ]);
  });

  it("keeps deliveries while paused and sends them on resume, oldest first", async () => {
    const integration = await addWebhook();
    const paused = await (await envhooks.api(`${base}/${integration.id}/pause`, { body: {} })).json();
    expect(paused.status).toBe("paused");
    await push();
    await push();
    await push();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received).toHaveLength(0);
    expect((await deliveries(integration.id)).map((d: { state: string }) => d.state)).toEqual([
      "pending",
      "pending",
      "pending",
    ]);
    await envhooks.api(`${base}/${integration.id}/resume`, { body: {} });
    await eventually(async () => receiver.received.length === 3);
    expect(receiver.bodies().map((b) => b.type)).toEqual([
      "environment.branch",
      "environment.push",
      "environment.push",
    ]);
  });

  it("redelivers one delivery and, in bulk, every failed one, with the same webhook-id", async () => {
    receiver.answer = () => ({ status: 503 });
    const integration = await addWebhook({ retry_schedule: FAST });
    await push();
    await push();
    const failed = await eventually(async () => {
      const list = await deliveries(integration.id, "&status=failed");
      return list.length === 2 ? list : undefined;
    });
    receiver.answer = () => ({ status: 200 });
    const seen = receiver.received.length;

    const one = await envhooks.api(`/api/deliveries/${failed[1].id}/redeliver`, { body: {} });
    expect(one.status).toBe(202);
    await eventually(async () => receiver.received.length === seen + 1);
    expect(receiver.received.at(-1)?.headers["webhook-id"]).toBe(failed[1].id);

    const bulk = await envhooks.api(`${base}/${integration.id}/redeliver?status=failed`, { body: {} });
    expect(await bulk.json()).toEqual({ redelivered: 1 });
    await eventually(async () => receiver.received.length === seen + 2);
    expect(receiver.received.at(-1)?.headers["webhook-id"]).toBe(failed[0].id);
    expect(await deliveries(integration.id, "&status=failed")).toEqual([]);
  });

  it("sends a sample activity on test and returns the attempt", async () => {
    const integration = await addWebhook({ format: "kudu" });
    const response = await envhooks.api(`${base}/${integration.id}/test`, { body: {} });
    expect(response.status).toBe(200);
    const result = await response.json();
    expect(result).toMatchObject({ state: "delivered", event: "PostDeployment" });
    expect(result.attempt_log[0]).toMatchObject({ status_code: 200, succeeded: true });
    expect(JSON.parse(receiver.received[0]?.body ?? "")).toMatchObject({
      status: "success",
      deployer: "envhooks",
    });
  });

  it("signs with the new and the previous secret during a rotation", async () => {
    const integration = await addWebhook();
    const next = `whsec_${Buffer.from("a-brand-new-secret-value!").toString("base64")}`;
    await envhooks.api(`${base}/${integration.id}`, { method: "PATCH", body: { secret: next } });
    await push();
    await eventually(async () => receiver.received.length === 1);
    const request = receiver.received[0];
    const headers = request?.headers as Record<string, string>;
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(new Webhook(next).verify(request?.body ?? "", headers)).toBeTruthy();
    expect(new Webhook(integration.secret).verify(request?.body ?? "", headers)).toBeTruthy();
  });
});

describe("SSRF guard", () => {
  it("refuses loopback and private receivers at creation, naming the url", async () => {
    const envhooks = await startTestEnvhooks(STORES[0] as (typeof STORES)[0], { allowPrivateUrls: false });
    try {
      for (const url of [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/",
      ]) {
        const response = await envhooks.api(`/api/projects/${REPO}/integrations`, {
          body: { type: "webhook", url },
        });
        expect(response.status, url).toBe(400);
        const error = (await response.json()).error;
        expect(error.details.fields[0].field).toBe("url");
        expect(error.message).toContain("ENVHOOKS_ALLOW_PRIVATE_URLS");
      }
    } finally {
      await envhooks.close();
    }
  });
});
