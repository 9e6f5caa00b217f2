import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "@octokit/webhooks-methods";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushCreatingMaster, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { ServerProcess } from "../helpers/server-process.ts";
import { createTestDatabase, STORES } from "../helpers/stores.ts";
import { eventually } from "../helpers/test-envhooks.ts";

const SECRET = "process-test-secret";
const TOKEN = "process-test-token-0123456789abcdef0123456789";

async function deliver(url: string, name: string, payload: unknown, deliveryId: string = randomUUID()) {
  const body = JSON.stringify(payload);
  return fetch(`${url}/api/github/webhooks`, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": name,
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": await sign(SECRET, body),
    },
  });
}

async function activities(
  url: string,
): Promise<Array<{ type: string; parameters: { environment: string } }>> {
  const response = await fetch(`${url}/api/projects/${REPO}/activities?limit=100`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return response.status === 200 ? (await response.json()).items : [];
}

async function createIntegration(url: string, body: unknown): Promise<{ id: string }> {
  const response = await fetch(`${url}/api/projects/${REPO}/integrations`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return response.json();
}

// Each test starts real server processes, and a first start on a new embedded database creates it
// in a child process: on a busy CI machine one start alone has taken 40 s.
describe.each(STORES)("the server process on $name", { timeout: 150_000 }, (kind) => {
  let github: FakeGithub;
  let folder: string;
  let env: Record<string, string>;
  let drop: (() => Promise<void>) | undefined;
  const servers: ServerProcess[] = [];

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    folder = mkdtempSync(join(tmpdir(), "envhooks-e2e-"));
    env = {
      WEBHOOK_SECRET: SECRET,
      ENVHOOKS_API_TOKEN: TOKEN,
      APP_ID: "1",
      PRIVATE_KEY: github.privateKey,
      GHE_HOST: new URL(github.baseUrl).host,
      GHE_PROTOCOL: "http",
      ENVHOOKS_DATA_DIR: join(folder, "data"),
      ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
    };
    if (kind.name === "postgres") {
      const database = await createTestDatabase();
      env.DATABASE_URL = database.url;
      drop = database.drop;
    }
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill("SIGKILL");
    await github?.stop();
    await drop?.();
    drop = undefined;
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  function start() {
    const server = new ServerProcess(env);
    servers.push(server);
    return server;
  }

  it("loses nothing acknowledged when killed with SIGKILL right after the 202", async () => {
    let release = () => {};
    github.holdContents = new Promise((resolve) => {
      release = resolve;
    });
    const first = start();
    const url = await first.ready();
    const response = await deliver(url, "push", pushCreatingMaster(), "acked-then-killed");
    expect(response.status).toBe(202);
    // The worker is stuck reading the repo config from GitHub: nothing has been applied yet.
    await eventually(async () => github.callsTo(/contents/).length > 0);
    expect(await activities(url)).toEqual([]);
    expect(await first.kill("SIGKILL")).toBe("SIGKILL");

    release();
    github.holdContents = undefined;
    const second = start();
    const again = await second.ready();
    const applied = await eventually(async () => {
      const list = await activities(again);
      return list.length > 0 ? list : undefined;
    });
    expect(applied.map((a) => a.type)).toEqual(["environment.branch"]);
    expect(
      github.callsTo(/\/repos\/Codertocat\/Hello-World\/contents\/\.github\/envhooks\.yml$/).length,
    ).toBeGreaterThanOrEqual(2);
    expect(await second.kill("SIGTERM")).toBe(0);
  });

  it("delivers what was being sent when the process was killed, after restart, with the same webhook-id", async () => {
    const receiver = await new Receiver().start();
    receiver.answer = (n) => (n === 0 ? "hang" : { status: 200 });
    try {
      const first = start();
      const url = await first.ready();
      const created = await fetch(`${url}/api/projects/${REPO}/integrations`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({
          type: "webhook",
          url: receiver.url,
          timeout_ms: 2000,
          retry_schedule: [1, 1, 1, 1, 1],
        }),
      });
      expect(created.status).toBe(201);
      expect((await deliver(url, "push", pushCreatingMaster())).status).toBe(202);
      await eventually(async () => receiver.received.length === 1);
      expect(await first.kill("SIGKILL")).toBe("SIGKILL");

      const second = start();
      await second.ready();
      await eventually(async () => receiver.received.length === 2, 40_000);
      const [killed, again] = receiver.received;
      expect(again?.headers["webhook-id"]).toBe(killed?.headers["webhook-id"]);
      expect(JSON.parse(again?.body ?? "")).toMatchObject({ type: "environment.branch", project: REPO });
      expect(await second.kill("SIGTERM")).toBe(0);
    } finally {
      await receiver.stop();
    }
  }, 150_000);

  it("on SIGTERM turns readiness false, finishes the delivery in flight and exits 0", async () => {
    const receiver = await new Receiver().start();
    receiver.answer = () => ({ status: 200, delayMs: 2000 });
    try {
      env.ENVHOOKS_SHUTDOWN_DELAY_MS = "1000";
      const server = start();
      const url = await server.ready();
      const integration = await createIntegration(url, { type: "webhook", url: receiver.url });
      expect((await deliver(url, "push", pushCreatingMaster())).status).toBe(202);
      await eventually(async () => receiver.received.length === 1);

      server.child.kill("SIGTERM");
      // During the delay the process still answers, but not as ready.
      await eventually(async () => (await fetch(`${url}/readyz`)).status === 503, 900);
      expect(await server.exited()).toBe(0);
      expect(server.output).toContain("shutting down: readiness is false");

      const again = await start().ready();
      const log = await fetch(`${again}/api/projects/${REPO}/integrations/${integration.id}/deliveries`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      }).then((response) => response.json());
      // Answered while shutting down and recorded: not sent again after the restart.
      expect(log.items.map((d: { state: string }) => d.state)).toEqual(["delivered"]);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.stop();
    }
  });

  it("on SIGTERM cuts short a send to a receiver that never answers, and sends it again after restart", async () => {
    const receiver = await new Receiver().start();
    receiver.answer = (n) => (n === 0 ? "hang" : { status: 200 });
    try {
      const first = start();
      const url = await first.ready();
      // A minute to answer: without a deadline of its own, the shutdown would wait for it.
      const integration = await createIntegration(url, {
        type: "webhook",
        url: receiver.url,
        timeout_ms: 60_000,
      });
      expect((await deliver(url, "push", pushCreatingMaster())).status).toBe(202);
      await eventually(async () => receiver.received.length === 1);

      const signalledAt = Date.now();
      first.child.kill("SIGTERM");
      const exit = await Promise.race([
        first.exited(),
        new Promise((resolve) => setTimeout(() => resolve("still running after 15 s"), 15_000)),
      ]);
      // 10 s for the deliveries in flight, then the interrupted attempt is recorded.
      expect(exit).toBe(0);
      expect(Date.now() - signalledAt).toBeGreaterThan(9_000);

      const second = start();
      const again = await second.ready();
      await eventually(async () => receiver.received.length === 2);
      const [cut, resent] = receiver.received;
      expect(resent?.headers["webhook-id"]).toBe(cut?.headers["webhook-id"]);
      expect(resent?.headers["x-envhooks-delivery"]).toBe(cut?.headers["x-envhooks-delivery"]);

      const headers = { authorization: `Bearer ${TOKEN}` };
      const [listed] = (
        await fetch(`${again}/api/projects/${REPO}/integrations/${integration.id}/deliveries`, {
          headers,
        }).then((response) => response.json())
      ).items;
      const delivery = await eventually(async () => {
        const shown = await fetch(`${again}/api/deliveries/${listed.id}`, { headers }).then((r) => r.json());
        return shown.state === "delivered" ? shown : undefined;
      });
      expect(
        delivery.attempt_log.map((a: { error: string | null; succeeded: boolean }) => [a.succeeded, a.error]),
      ).toEqual([
        [false, expect.stringMatching(/^interrupted: /)],
        [true, null],
      ]);
      // An interrupted attempt is not the receiver failing.
      const shownIntegration = await fetch(`${again}/api/projects/${REPO}/integrations/${integration.id}`, {
        headers,
      }).then((response) => response.json());
      expect(shownIntegration.failing_since).toBeNull();
      expect(await second.kill("SIGTERM")).toBe(0);
    } finally {
      await receiver.stop();
    }
  }, 150_000);

  it("on SIGTERM ends at its drain deadline however much is in flight, and says what it cut off", async () => {
    const receiver = await new Receiver().start();
    receiver.answer = () => "hang";
    try {
      // Each step alone would wait 10 s (requests, then deliveries): 20 s and more in all.
      env.ENVHOOKS_DRAIN_TIMEOUT_MS = "3000";
      const server = start();
      const url = await server.ready();
      await createIntegration(url, { type: "webhook", url: receiver.url, timeout_ms: 60_000 });
      expect((await deliver(url, "push", pushCreatingMaster())).status).toBe(202);
      await eventually(async () => receiver.received.length === 1);
      // A request in flight too: a webhook whose body never finishes arriving.
      const socket = connect(Number(new URL(url).port), "127.0.0.1");
      socket.on("error", () => {});
      socket.write(
        "POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n" +
          `X-GitHub-Event: push\r\nX-GitHub-Delivery: ${randomUUID()}\r\nX-Hub-Signature-256: sha256=${"0".repeat(64)}\r\n\r\n{`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));

      const signalledAt = Date.now();
      server.child.kill("SIGTERM");
      const exit = await Promise.race([
        server.exited(),
        new Promise((resolve) => setTimeout(() => resolve("still running after 15 s"), 15_000)),
      ]);
      socket.destroy();
      expect(exit).not.toBe("still running after 15 s");
      expect(Date.now() - signalledAt).toBeLessThan(12_000);
      expect(server.output).toContain("requests still in flight were cut off");
    } finally {
      await receiver.stop();
    }
  });

  it("keeps its state across a graceful restart", async () => {
    const first = start();
    const url = await first.ready();
    expect((await deliver(url, "push", pushCreatingMaster())).status).toBe(202);
    expect((await deliver(url, "push", pushToBranch("feature"))).status).toBe(202);
    await eventually(async () => (await activities(url)).length === 2);
    expect(await first.kill("SIGTERM")).toBe(0);

    const second = start();
    const again = await second.ready();
    expect((await activities(again)).map((a) => a.parameters.environment)).toEqual(["feature", "master"]);
    expect(await second.kill("SIGTERM")).toBe(0);
  });

  it.runIf(kind.name === "pglite")(
    "refuses a second process on the same data folder, and the first keeps working",
    async () => {
      const first = start();
      const url = await first.ready();
      const second = start();
      expect(await second.exited()).toBe(1);
      expect(second.output).toContain("is in use by another envhooks process");
      expect((await deliver(url, "push", pushCreatingMaster())).status).toBe(202);
      await eventually(async () => (await activities(url)).length === 1);
    },
    // The second process gives a live holder 10 s to exit before it gives up.
    60_000,
  );
});
