import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushToBranch, REPO } from "../fixtures/github-events.ts";
import { type Answer, type Received, Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

/** The token inside every channel URL (and HipChat's room token): it must never come back out. */
const TOKEN = "sEcReTtOkEn42";

interface FakeService {
  type: string;
  /** The integration's fields (besides `type`), for a fake listening at `origin`. */
  settings(origin: string): Record<string, unknown>;
  /** What the service checks of a request; throws when it would refuse it. */
  check(request: Received): void;
  /** How the service answers a message it accepts. */
  answer: Answer;
}

const json = (request: Received) => JSON.parse(request.body) as Record<string, unknown>;
const expectJsonPost = (request: Received) => {
  expect(request.headers["content-type"]).toBe("application/json");
};

/** Each service as its documentation describes its incoming webhook. */
const SERVICES: FakeService[] = [
  {
    type: "slack",
    settings: (origin) => ({ url: `${origin}/services/T0ENV/B0ENV/${TOKEN}` }),
    check(request) {
      expect(request.path).toBe(`/services/T0ENV/B0ENV/${TOKEN}`);
      expectJsonPost(request);
      const body = json(request);
      expect(typeof body.text).toBe("string");
      expect(Array.isArray(body.blocks)).toBe(true);
    },
    answer: { status: 200, headers: { "content-type": "text/plain" }, body: "ok" },
  },
  {
    type: "discord",
    settings: (origin) => ({ url: `${origin}/api/webhooks/1234567890/${TOKEN}` }),
    check(request) {
      expect(request.path).toBe(`/api/webhooks/1234567890/${TOKEN}`);
      expectJsonPost(request);
      const body = json(request);
      expect(body.allowed_mentions).toEqual({ parse: [] });
      expect((body.embeds as unknown[]).length).toBe(1);
    },
    answer: { status: 204 },
  },
  {
    type: "teams",
    settings: (origin) => ({ url: `${origin}/workflows/abc/triggers/manual/paths/invoke?sig=${TOKEN}` }),
    check(request) {
      expect(request.path).toBe(`/workflows/abc/triggers/manual/paths/invoke?sig=${TOKEN}`);
      expectJsonPost(request);
      const body = json(request) as { type: string; attachments: Array<{ contentType: string }> };
      expect(body.type).toBe("message");
      expect(body.attachments[0]?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    },
    answer: { status: 202 },
  },
  {
    type: "mattermost",
    settings: (origin) => ({ url: `${origin}/hooks/${TOKEN}` }),
    check(request) {
      expect(request.path).toBe(`/hooks/${TOKEN}`);
      expectJsonPost(request);
      const body = json(request) as { text: string; attachments: Array<{ color: string }> };
      expect(body.text).toContain("Environment");
      expect(body.attachments[0]?.color).toMatch(/^#[0-9a-f]{6}$/);
    },
    answer: { status: 200, headers: { "content-type": "text/plain" }, body: "ok" },
  },
  {
    type: "googlechat",
    settings: (origin) => ({ url: `${origin}/v1/spaces/AAAA/messages?key=k&token=${TOKEN}` }),
    check(request) {
      const url = new URL(request.path, "http://x");
      expect(url.pathname).toBe("/v1/spaces/AAAA/messages");
      expect(url.searchParams.get("token")).toBe(TOKEN);
      expect(url.searchParams.get("messageReplyOption")).toBe("REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
      expectJsonPost(request);
      const body = json(request) as { cardsV2: unknown[]; thread: { threadKey: string } };
      expect(body.cardsV2).toHaveLength(1);
      expect(body.thread.threadKey).toBe("envhooks/Codertocat/Hello-World/feature-chat");
    },
    answer: {
      status: 200,
      headers: { "content-type": "application/json" },
      body: '{"name":"spaces/AAAA/messages/1"}',
    },
  },
  {
    type: "hipchat",
    settings: (origin) => ({ url: origin, room: "Deploys", token: TOKEN }),
    check(request) {
      expect(request.path).toBe("/v2/room/Deploys/notification");
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expectJsonPost(request);
      const body = json(request);
      expect(body.message_format).toBe("html");
      expect(body.color).toBe("green");
    },
    answer: { status: 204 },
  },
];

describe.each(STORES)("chat integrations on $name", (kind) => {
  let envhooks: TestEnvhooks;
  let service: Receiver;
  let pushes = 0;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    service = await new Receiver().start();
    pushes = 0;
  });
  afterEach(async () => {
    await service?.stop();
    await envhooks?.close();
  });

  const base = `/api/projects/${REPO}/integrations`;
  const origin = () => new URL(service.url).origin;

  async function add(fake: FakeService) {
    const response = await envhooks.api(base, { body: { type: fake.type, ...fake.settings(origin()) } });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string };
  }

  async function push(branch: string) {
    pushes++;
    const id = `chat-push-${pushes}`;
    const payload = pushToBranch(branch, { before: "1".repeat(40), after: `${pushes}`.padStart(40, "2") });
    expect((await envhooks.deliver("push", payload, { deliveryId: id })).status).toBe(202);
    await eventually(async () => (await findEvent(envhooks.store.db, id))?.state === "processed");
  }

  it.each(SERVICES.map((fake) => [fake.type, fake] as const))(
    "%s: the channel gets a message it accepts; the URL and token never come back out",
    async (_type, fake) => {
      service.answer = (_n, request) => {
        try {
          fake.check(request);
          return fake.answer;
        } catch (error) {
          return { status: 400, body: String(error) };
        }
      };
      const created = await add(fake);
      await push("feature-chat");
      await eventually(async () => service.received.length >= 1);
      // The fake refused (400) anything it would not accept, so this checks it accepted.
      const shown = await eventually(async () => {
        const integration = (await (await envhooks.api(`${base}/${created.id}`)).json()) as Record<
          string,
          unknown
        >;
        return integration.last_status ? integration : undefined;
      });
      expect(shown.last_status).toBe("OK");
      expect(shown.type).toBe(fake.type);

      const [delivery] = (await (await envhooks.api(`${base}/${created.id}/deliveries`)).json()).items;
      const detail = await (await envhooks.api(`/api/deliveries/${delivery.id}`)).text();
      const listed = await (await envhooks.api(base)).text();
      for (const text of [
        JSON.stringify(created),
        JSON.stringify(shown),
        detail,
        listed,
        envhooks.logs.join(""),
      ]) {
        expect(text).not.toContain(TOKEN);
      }
      expect(service.received).toHaveLength(1);
    },
  );

  it("honours 429 and Retry-After without counting a failure, then delivers", async () => {
    service.answer = (n) =>
      n === 0
        ? { status: 429, headers: { "retry-after": "1" }, body: "rate limited" }
        : { status: 200, body: "ok" };
    const created = await add(SERVICES[0] as FakeService);
    await push("feature-rate");
    await eventually(async () => service.received.length >= 2);
    const gap = (service.received[1]?.at ?? 0) - (service.received[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(900);
    const shown = await eventually(async () => {
      const integration = (await (await envhooks.api(`${base}/${created.id}`)).json()) as Record<
        string,
        unknown
      >;
      return integration.last_status === "OK" ? integration : undefined;
    });
    expect(shown.failing_since).toBeNull();
    const { rows } = await envhooks.store.db.query<{ failures: number; attempts: number; state: string }>(
      "SELECT failures, attempts, state FROM deliveries WHERE integration_id = $1",
      [created.id],
    );
    expect(rows).toEqual([{ failures: 0, attempts: 2, state: "delivered" }]);
  });

  it("honours Discord's retry_after in the body", async () => {
    service.answer = (n) =>
      n === 0
        ? {
            status: 429,
            headers: { "content-type": "application/json" },
            body: '{"message":"You are being rate limited.","retry_after":0.4,"global":false}',
          }
        : { status: 204 };
    await add(SERVICES[1] as FakeService);
    await push("feature-discord");
    await eventually(async () => service.received.length >= 2);
    expect((service.received[1]?.at ?? 0) - (service.received[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
  });

  it("sends a test message at once and answers with the attempt, URL masked", async () => {
    const created = await add(SERVICES[0] as FakeService);
    const response = await envhooks.api(`${base}/${created.id}/test`, { method: "POST" });
    expect(response.status).toBe(200);
    const attempt = (await response.json()) as {
      state: string;
      attempt_log: Array<{ status_code: number; url: string }>;
    };
    expect(attempt.state).toBe("delivered");
    expect(attempt.attempt_log[0]?.status_code).toBe(200);
    expect(attempt.attempt_log[0]?.url).toBe(`${origin()}/********`);
    expect(json(service.received[0] as Received).text).toContain("Environment rebuilt: main");
  });

  it("refuses bad bodies naming each field, and keeps what exists", async () => {
    const created = await add(SERVICES[0] as FakeService);
    const missing = await envhooks.api(base, { body: { type: "hipchat", url: origin() } });
    expect(missing.status).toBe(400);
    const error = (await missing.json()) as {
      error: { message: string; details: { fields: Array<{ field: string }> } };
    };
    expect(error.error.details.fields.map((f) => f.field).sort()).toEqual(["room", "token"]);

    const foreign = await envhooks.api(`${base}/${created.id}`, {
      method: "PATCH",
      body: { format: "kudu" },
    });
    expect(foreign.status).toBe(400);
    expect((await foreign.json()).error.message).toContain("format");

    const badUrl = await envhooks.api(base, { body: { type: "slack", url: "ftp://example.com/x" } });
    expect(badUrl.status).toBe(400);
    expect((await badUrl.json()).error.details.fields[0].field).toBe("url");

    const list = (await (await envhooks.api(base)).json()) as Array<{ id: string }>;
    expect(list.map((i) => i.id)).toEqual([created.id]);
  });

  it("a new channel URL replaces the old one and is masked too", async () => {
    const created = await add(SERVICES[0] as FakeService);
    const moved = `${origin()}/services/T1/B1/${TOKEN}-new`;
    const response = await envhooks.api(`${base}/${created.id}`, { method: "PATCH", body: { url: moved } });
    expect(response.status).toBe(200);
    expect(await response.text()).not.toContain(TOKEN);
    service.answer = () => ({ status: 200, body: "ok" });
    await push("feature-moved");
    await eventually(async () => service.received.length >= 1);
    expect(service.received[0]?.path).toBe(`/services/T1/B1/${TOKEN}-new`);
  });
});
