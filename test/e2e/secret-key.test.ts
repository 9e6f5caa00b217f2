import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { openPglite } from "../../src/store/open-pglite.ts";
import { keyId, newSecretKey, parseSecretKey } from "../../src/store/secret-box.ts";
import { REPO } from "../fixtures/github-events.ts";
import { ServerProcess } from "../helpers/server-process.ts";
import { createTestDatabase, STORES } from "../helpers/stores.ts";

const TOKEN = "secret-key-test-operator-token-0123456789";
const SIGNING_SECRET = "whsec_c2lnbmluZy1zZWNyZXQtZTJl";

async function addWebhook(url: string) {
  const response = await fetch(`${url}/api/projects/${REPO}/integrations`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      type: "webhook",
      url: "http://127.0.0.1:9/hook?token=e2e-token",
      secret: SIGNING_SECRET,
      headers: { Authorization: "Bearer e2e-bearer" },
    }),
  });
  expect(response.status).toBe(201);
}

const postgres = STORES.find((kind) => kind.name === "postgres");

describe("the secret key of the server process", () => {
  let folder: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  const servers: ServerProcess[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill("SIGKILL");
    await drop?.();
    drop = undefined;
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  function start(env: Record<string, string>) {
    const server = new ServerProcess({
      ENVHOOKS_API_TOKEN: TOKEN,
      ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
      ...env,
    });
    servers.push(server);
    return server;
  }

  it("embedded store: generated into the data folder (mode 600) on first start; without it, the start stops saying why", async () => {
    folder = mkdtempSync(join(tmpdir(), "envhooks-key-e2e-"));
    const dataDir = join(folder, "data");
    const first = start({ ENVHOOKS_DATA_DIR: dataDir });
    await addWebhook(await first.ready());
    expect(await first.kill("SIGTERM")).toBe(0);

    const keyFile = join(dataDir, "secret.key");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = readFileSync(keyFile, "utf8").trim();
    const db = await openPglite({ dataDir });
    try {
      const { rows } = await db.query<{ stored: string }>(
        "SELECT config::text || secret AS stored FROM integrations",
      );
      expect(rows[0]?.stored).toContain(`enc:v1:${keyId(parseSecretKey(key))}:`);
      for (const plain of [SIGNING_SECRET, "e2e-token", "e2e-bearer"])
        expect(rows[0]?.stored).not.toContain(plain);
    } finally {
      await db.close();
    }

    // The key lost: a new one is generated, which cannot decrypt what the old one encrypted.
    rmSync(keyFile);
    const lost = start({ ENVHOOKS_DATA_DIR: dataDir });
    expect(await lost.exited()).toBe(1);
    expect(lost.output).toContain(
      `encrypted with key ${keyId(parseSecretKey(key))}, which ENVHOOKS_SECRET_KEY does not hold`,
    );

    // Given back through ENVHOOKS_SECRET_KEY (after a new key, which then encrypts), it starts.
    const restored = start({ ENVHOOKS_DATA_DIR: dataDir, ENVHOOKS_SECRET_KEY: `${newSecretKey()},${key}` });
    await restored.ready();
  }, 120_000);

  it.skipIf(postgres?.skip !== undefined)(
    "PostgreSQL: without a key, a warning at start; with one, encrypted",
    async () => {
      const database = await createTestDatabase();
      drop = database.drop;
      const plain = start({ DATABASE_URL: database.url });
      await plain.ready();
      expect(plain.output).toMatch(/ENVHOOKS_SECRET_KEY is not set: .* stored in plain text in PostgreSQL/);
      expect(await plain.kill("SIGTERM")).toBe(0);

      const key = newSecretKey();
      const sealed = start({ DATABASE_URL: database.url, ENVHOOKS_SECRET_KEY: key });
      await addWebhook(await sealed.ready());
      expect(sealed.output).not.toContain("stored in plain text");
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query("SELECT config::text || secret AS stored FROM integrations");
        expect(rows[0]?.stored).toContain(`enc:v1:${keyId(parseSecretKey(key))}:`);
        expect(rows[0]?.stored).not.toContain("e2e-bearer");
      } finally {
        await client.end();
      }
    },
  );
});
