import { verify as verifyGithubStyle } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import type { Database } from "../../src/store/database.ts";
import { findEvent } from "../../src/store/github-events.ts";
import { listMigrations, migrate } from "../../src/store/migrate.ts";
import { openPglite } from "../../src/store/open-pglite.ts";
import { openPostgres } from "../../src/store/open-postgres.ts";
import { createSecretBox, keyId } from "../../src/store/secret-box.ts";
import { pushCreatingMaster, pushToBranch, REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { createTestDatabase, STORES, type TestStore } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const OLD_KEY = Buffer.alloc(32, "old key");
const NEW_KEY = Buffer.alloc(32, "new key");
const OTHER_KEY = Buffer.alloc(32, "someone else's key");

const SIGNING_SECRET = "whsec_c2lnbmluZy1zZWNyZXQtdmFsdWU=";
const ROTATED_SECRET = `whsec_${Buffer.from("rotated-signing-secret").toString("base64")}`;
const BEARER = "Bearer tok-4f8a9c2e";
const CUSTOM_VALUE = "team-blue-b7d1";
const API_KEY = "k3y-9d2f61";
const PASSWORD = "pw-5e3c";
const CHAT_TOKEN = "chat-token-81aa";
const HIPCHAT_TOKEN = "room-token-3c7e";
/** Every plain secret these tests set: none may be found in a stored row. */
const PLAIN = [
  SIGNING_SECRET,
  ROTATED_SECRET,
  "tok-4f8a9c2e",
  CUSTOM_VALUE,
  API_KEY,
  PASSWORD,
  CHAT_TOKEN,
  HIPCHAT_TOKEN,
];

const base = `/api/projects/${REPO}/integrations`;

describe.each(STORES)("secrets at rest on $name", (kind) => {
  let store: TestStore | undefined;
  let envhooks: TestEnvhooks | undefined;
  let receiver: Receiver | undefined;
  let pushes = 0;

  afterEach(async () => {
    await receiver?.stop();
    await envhooks?.close();
    await store?.close();
    envhooks = undefined;
    store = undefined;
    pushes = 0;
  });

  async function start(keys: Buffer[]) {
    await envhooks?.close();
    envhooks = undefined;
    store ??= await kind.open();
    envhooks = await startTestEnvhooks(kind, { store, secrets: createSecretBox(keys) });
    return envhooks;
  }

  /** A webhook whose URL holds a password and an API key, with a bearer and a custom header. */
  async function addWebhook(running: TestEnvhooks) {
    const url = new URL(receiver?.url ?? "");
    url.username = "deploy";
    url.password = PASSWORD;
    url.search = `?api_key=${API_KEY}&region=eu`;
    const response = await running.api(base, {
      body: {
        type: "webhook",
        url: url.href,
        secret: SIGNING_SECRET,
        headers: { Authorization: BEARER, "X-Team": CUSTOM_VALUE },
        retry_schedule: [0, 0, 0, 0, 0],
      },
    });
    expect(response.status).toBe(201);
    return response.json();
  }

  async function push(running: TestEnvhooks) {
    pushes++;
    const id = `push-${pushes}`;
    const payload =
      pushes === 1 ? pushCreatingMaster() : pushToBranch("master", { after: `${pushes}`.padStart(40, "b") });
    expect((await running.deliver("push", payload, { deliveryId: id })).status).toBe(202);
    await eventually(async () => (await findEvent(running.store.db, id))?.state === "processed");
  }

  async function storedRows() {
    const { rows } = await (store as TestStore).db.query<{
      config: string;
      secret: string | null;
      previous: string | null;
    }>("SELECT config::text AS config, secret, previous_secret AS previous FROM integrations ORDER BY id");
    return rows;
  }

  it.skipIf(kind.skip)(
    "stores no secret, URL or header value in plain text, and the receiver still gets signed deliveries",
    async () => {
      receiver = await new Receiver().start();
      const running = await start([NEW_KEY]);
      const webhook = await addWebhook(running);
      const chat = await running.api(base, {
        body: { type: "slack", url: `${receiver.url}/services/T0/B0/${CHAT_TOKEN}` },
      });
      expect(chat.status).toBe(201);
      const hipchat = await running.api(base, {
        body: { type: "hipchat", url: receiver.url.replace("/hook", ""), room: "ops", token: HIPCHAT_TOKEN },
      });
      expect(hipchat.status).toBe(201);
      // A new signing secret keeps the old one beside it (rotation): both are stored encrypted.
      const patched = await running.api(`${base}/${webhook.id}`, {
        method: "PATCH",
        body: { secret: ROTATED_SECRET },
      });
      expect(patched.status).toBe(200);

      const rows = await storedRows();
      expect(rows).toHaveLength(3);
      const dump = JSON.stringify(rows);
      for (const plain of PLAIN) expect(dump).not.toContain(plain);
      expect(dump).not.toContain(receiver.url.replace("/hook", ""));
      const sealed = `enc:v1:${keyId(NEW_KEY)}:`;
      for (const row of rows) expect(row.secret?.startsWith(sealed)).toBe(true);
      expect(rows.filter((row) => row.previous?.startsWith(sealed))).toHaveLength(1);
      // Filters stay readable: matching an activity needs them.
      expect(dump).toContain('\\"events\\": [\\"*\\"]');

      await push(running);
      const received = await eventually(async () => {
        const forWebhook = receiver?.received.filter((request) => request.path.startsWith("/hook?"));
        return forWebhook?.length ? forWebhook : undefined;
      });
      const request = received[0];
      if (!request) throw new Error("nothing received");
      const headers = request.headers as Record<string, string>;
      expect(request.path).toBe(`/hook?api_key=${API_KEY}&region=eu`);
      expect(headers.authorization).toBe(BEARER);
      expect(headers["x-team"]).toBe(CUSTOM_VALUE);
      // Signed with the new secret and the old one (rotation), each verified by its own library.
      expect(new Webhook(ROTATED_SECRET).verify(request.body, headers)).toMatchObject({
        type: "environment.branch",
      });
      expect(new Webhook(SIGNING_SECRET).verify(request.body, headers)).toMatchObject({
        type: "environment.branch",
      });
      expect(
        await verifyGithubStyle(ROTATED_SECRET, request.body, headers["x-envhooks-signature-256"] as string),
      ).toBe(true);
      await eventually(async () =>
        receiver?.received.some((r) => r.path === `/hook/services/T0/B0/${CHAT_TOKEN}`),
      );
      await eventually(async () =>
        receiver?.received.some((r) => r.headers.authorization === `Bearer ${HIPCHAT_TOKEN}`),
      );
    },
  );

  it.skipIf(kind.skip)("API answers and the attempt log mask credentials in URLs and headers", async () => {
    receiver = await new Receiver().start();
    const running = await start([NEW_KEY]);
    const webhook = await addWebhook(running);
    await push(running);
    await eventually(async () => (receiver?.received.length ?? 0) > 0);

    const shown = await (await running.api(`${base}/${webhook.id}`)).json();
    const listed = await (await running.api(base)).json();
    for (const answer of [shown, listed[0]]) {
      expect(answer.url).toBe(
        `http://********:********@${new URL(receiver.url).host}/hook?api_key=********&region=eu`,
      );
      expect(answer.headers).toEqual({ Authorization: "********", "X-Team": CUSTOM_VALUE });
      expect(answer.secret).toBe("********");
    }

    const [delivery] = await eventually(async () => {
      const page = await (await running.api(`${base}/${webhook.id}/deliveries`)).json();
      return page.items[0]?.state === "delivered" ? page.items : undefined;
    });
    const detail = await (await running.api(`/api/deliveries/${delivery.id}`)).json();
    const [attempt] = detail.attempt_log;
    expect(attempt.url).not.toContain(API_KEY);
    expect(attempt.url).not.toContain(PASSWORD);
    expect(attempt.request_headers.Authorization).toBe("********");
    expect(attempt.request_headers["webhook-signature"]).toMatch(/^v1,/);

    // As stored: no bearer, no custom value, no password or API key in the URL.
    const { rows } = await running.store.db.query<{ url: string; headers: string }>(
      "SELECT url, request_headers::text AS headers FROM delivery_attempts",
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      for (const plain of PLAIN) expect(`${row.url} ${row.headers}`).not.toContain(plain);
      expect(JSON.parse(row.headers)).toMatchObject({
        Authorization: "********",
        "X-Team": "********",
        "content-type": "application/json",
      });
    }
  });

  it.skipIf(kind.skip)(
    "a rotation encrypts again with the new key, the old one decrypting meanwhile; rows stored plain are encrypted at start",
    async () => {
      receiver = await new Receiver().start();
      let running = await start([OLD_KEY]);
      const webhook = await addWebhook(running);
      // A row written before encryption existed, in plain text.
      await running.store.db.query(
        `INSERT INTO integrations (id, project_key, type, config, secret)
         SELECT 'zzzzzzzzzzzzz', project_key, type, config, $1 FROM integrations WHERE id = $2`,
        [SIGNING_SECRET, webhook.id],
      );
      await running.store.db.query(
        `UPDATE integrations SET config = jsonb_set(jsonb_set(config, '{url}', to_jsonb($1::text)),
           '{headers}', jsonb_build_object('Authorization', $2::text)) WHERE id = 'zzzzzzzzzzzzz'`,
        [`${receiver.url}?token=${API_KEY}`, BEARER],
      );
      const legacy = await (await running.api(`${base}/zzzzzzzzzzzzz`)).json();
      expect(legacy.url).toBe(`${receiver.url}?token=********`);

      // The new key first, the old one after it: start-up encrypts every row again with the new one.
      running = await start([NEW_KEY, OLD_KEY]);
      const rows = await storedRows();
      const dump = JSON.stringify(rows);
      for (const plain of PLAIN) expect(dump).not.toContain(plain);
      expect(dump).not.toContain(keyId(OLD_KEY));
      expect(dump).toContain(keyId(NEW_KEY));

      // The old key can go: everything opens with the new one alone, and deliveries are signed as before.
      running = await start([NEW_KEY]);
      await push(running);
      const received = await eventually(async () =>
        (receiver?.received.length ?? 0) >= 2 ? receiver?.received : undefined,
      );
      for (const request of received) {
        expect(
          new Webhook(SIGNING_SECRET).verify(request.body, request.headers as Record<string, string>),
        ).toBeTruthy();
      }
      expect(received.map((request) => request.headers.authorization)).toEqual([BEARER, BEARER]);
    },
  );

  it.skipIf(kind.skip)(
    "refuses to start, saying what to set, without the key secrets were encrypted with",
    async () => {
      const running = await start([OLD_KEY]);
      receiver = await new Receiver().start();
      await addWebhook(running);
      await running.close();
      envhooks = undefined;

      for (const keys of [[OTHER_KEY], []]) {
        const refused = startTestEnvhooks(kind, { store, secrets: createSecretBox(keys) });
        await expect(refused).rejects.toThrow(
          new RegExp(`encrypted with key ${keyId(OLD_KEY)}, which ENVHOOKS_SECRET_KEY does not hold`),
        );
      }
      // With the key listed again, it starts.
      envhooks = await startTestEnvhooks(kind, { store, secrets: createSecretBox([OTHER_KEY, OLD_KEY]) });
      expect((await (await envhooks.api(base)).json()).length).toBe(1);
    },
  );

  it.skipIf(kind.skip)("attempts recorded before masking are masked by migration 008", async () => {
    let db: Database;
    let drop = async () => {};
    if (kind.name === "pglite") db = await openPglite();
    else {
      const database = await createTestDatabase();
      db = await openPostgres(database.url);
      drop = database.drop;
    }
    try {
      await migrate(
        db,
        listMigrations().filter((migration) => migration.version < 8),
      );
      await db.query(
        `INSERT INTO integrations (id, project_key, type, config, secret) VALUES ('aaaaaaaaaaaaa', 'a/b', 'webhook', '{}', 's')`,
      );
      await db.query(
        `INSERT INTO deliveries (id, integration_id, activity_id, event, body) VALUES ('msg_1', 'aaaaaaaaaaaaa', 'x', 'e', '{}')`,
      );
      await db.query(
        `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, url, request_headers, succeeded)
         VALUES ('msg_1', 1, now(), 5, $1, $2, true), ('msg_1', 2, now(), 5, 'https://example.com/hook', '{"content-type": "application/json"}', true)`,
        [
          `https://deploy:${PASSWORD}@example.com/hook?api_key=${API_KEY}&region=eu`,
          JSON.stringify({ Authorization: BEARER, "X-Team": CUSTOM_VALUE, "webhook-id": "msg_1" }),
        ],
      );
      // Up to the migration that keeps only a webhook URL's origin (019, tested in reader-views).
      await migrate(
        db,
        listMigrations().filter((migration) => migration.version < 19),
      );
      const { rows } = await db.query<{ url: string; headers: Record<string, string> }>(
        "SELECT url, request_headers AS headers FROM delivery_attempts ORDER BY attempt",
      );
      expect(rows).toEqual([
        {
          url: "https://********:********@example.com/hook?api_key=********&region=eu",
          headers: { Authorization: "********", "X-Team": "********", "webhook-id": "msg_1" },
        },
        { url: "https://example.com/hook", headers: { "content-type": "application/json" } },
      ]);
    } finally {
      await db.close();
      await drop();
    }
  });
});
