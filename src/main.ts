import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { pino } from "pino";
import { readSettings, type Settings } from "./config/env.schema.ts";
import { githubWebUrl, startEnvhooks } from "./envhooks.ts";
import type { QueueTarget } from "./queue/open-queue.ts";
import type { Database } from "./store/database.ts";
import { DataDirLockedError } from "./store/lock-data-dir.ts";
import { openPglite } from "./store/open-pglite.ts";
import { openPostgres } from "./store/open-postgres.ts";
import { createSecretBox, SecretKeyError } from "./store/secret-box.ts";
import { embeddedStoreKeys } from "./store/secret-key-file.ts";
import { DataDirAccessError } from "./store/secure-data-dir.ts";
import { envFileHolds, updateEnvFile } from "./web/access/env-file.ts";
import { hostEnvhooks } from "./web/access/envhooks-host.ts";
import { type SetupDeps, setupUrl } from "./web/access/setup.ts";
import { createSmeeChannel, forwardWebhookProxy, type WebhookProxy } from "./web/access/webhook-proxy.ts";

// Composition root: settings → store → queue → Probot + Hono → listen. Nothing imports this file.
const startedAt = performance.now();
let settings: ReturnType<typeof readSettings>;
try {
  settings = readSettings();
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
const log = pino({ level: settings.logLevel, name: "envhooks" });

let db: Database;
let queue: QueueTarget;
let secretKeys = settings.secretKeys;
try {
  if (settings.database.kind === "postgres") {
    db = await openPostgres(settings.database.url);
    queue = { kind: "postgres", url: settings.database.url };
  } else {
    // What this process writes is its owner's only, as PostgreSQL's postmaster does (umask 077):
    // the data folder and the secret key; the .env file is written 0600 anyway. The umask is the
    // whole process's, and nothing it writes is meant for other users.
    process.umask(0o077);
    const embedded = await openPglite({
      dataDir: settings.database.dataDir,
      lock: { log },
    });
    db = embedded;
    queue = { kind: "pglite", pglite: embedded.pglite };
    secretKeys = await embeddedStoreKeys(settings.database.dataDir, secretKeys);
  }
} catch (error) {
  if (error instanceof DataDirLockedError || error instanceof DataDirAccessError) {
    log.fatal(error.message);
    process.exit(1);
  }
  throw error;
}

// Setup in the browser: while the GitHub App is not configured, /setup registers it (with a key
// only the log shows) and connects it without a restart. Credentials go to ENVHOOKS_ENV_FILE (.env).
const envFile = resolve(settings.envFile);
let setupNeeded = settings.role !== "worker" && !(settings.github.appId && settings.github.privateKey);
let generatedApiToken: string | undefined;
/** Where the operator token generated at an earlier start is kept: the setup page says so. */
let apiTokenFile: string | undefined;
if (
  setupNeeded &&
  settings.apiToken &&
  (await envFileHolds(envFile, "ENVHOOKS_API_TOKEN", settings.apiToken))
)
  apiTokenFile = envFile;
if (setupNeeded && !settings.apiToken) {
  // First start: an operator token is generated, kept with the App's credentials, shown once by /setup.
  generatedApiToken = randomBytes(32).toString("hex");
  settings.apiToken = generatedApiToken;
  await updateEnvFile(envFile, { ENVHOOKS_API_TOKEN: generatedApiToken }).then(
    // Where to find it: the sign-in page asks for it, and only /setup shows it otherwise.
    () =>
      log.info(
        { envFile },
        `Generated the operator token (ENVHOOKS_API_TOKEN) and saved it in ${envFile}: the setup page shows it once, when the GitHub App is registered; after that, it is in that file.`,
      ),
    (error) =>
      log.warn(
        { err: error, envFile },
        "the generated operator token could not be kept: it lasts until a restart",
      ),
  );
}
const setup: SetupDeps | undefined = setupNeeded
  ? {
      needed: () => setupNeeded,
      key: randomBytes(18).toString("base64url"),
      webUrl: githubWebUrl(settings.github),
      apiUrl: settings.github.baseUrl ?? "https://api.github.com",
      envFile,
      manifestFile: fileURLToPath(new URL("../app.yml", import.meta.url)),
      webhookProxyUrl: settings.webhookProxyUrl,
      async createWebhookProxy() {
        const url = await createSmeeChannel();
        await updateEnvFile(envFile, { WEBHOOK_PROXY_URL: url });
        startProxy(url);
        if (setup) setup.webhookProxyUrl = url;
        return url;
      },
      generatedApiToken,
      apiTokenFile,
      async connect(credentials) {
        setupNeeded = false;
        settings.github = {
          ...settings.github,
          appId: credentials.appId,
          privateKey: credentials.privateKey,
          webhookSecret: credentials.webhookSecret,
          clientId: credentials.clientId,
          clientSecret: credentials.clientSecret,
        };
        await host.reconnect(settings.github);
        log.info({ appId: credentials.appId }, "envhooks is connected to the GitHub App");
      },
    }
  : undefined;

const start = (github: Settings["github"]) =>
  startEnvhooks({
    db,
    queue,
    log,
    github,
    apiToken: settings.apiToken,
    metricsToken: settings.metricsToken,
    allowPrivateUrls: settings.allowPrivateUrls,
    publicUrl: settings.publicUrl,
    trustedProxies: settings.trustedProxies,
    role: settings.role,
    retention: settings.retention,
    secrets: createSecretBox(secretKeys),
    ...(setup ? { setup } : {}),
  });
const host = await hostEnvhooks(start, settings.github).catch((error) => {
  if (!(error instanceof SecretKeyError)) throw error;
  log.fatal(error.message);
  process.exit(1);
});
const server = serve(
  { fetch: host.fetch, port: settings.port, hostname: settings.host ?? "0.0.0.0" },
  (info) => {
    log.info(
      {
        port: info.port,
        database: settings.database.kind,
        role: settings.role,
        readyMs: Math.round(performance.now() - startedAt),
      },
      `envhooks listening on http://${settings.host ?? "localhost"}:${info.port}`,
    );
    if (setup) {
      // Without a public URL, /setup answers on a loopback name only: HOST=0.0.0.0 is logged as localhost.
      const local = !settings.host || settings.host === "0.0.0.0" || settings.host === "::";
      const base = settings.publicUrl ?? `http://${local ? "localhost" : settings.host}:${info.port}`;
      log.info(`Open ${setupUrl(base, setup.key)} to register the GitHub App`);
    }
  },
);

// WEBHOOK_PROXY_URL: a smee.io channel's deliveries are forwarded to this server, as Probot does.
let proxy: WebhookProxy | undefined;
function startProxy(source: string) {
  proxy?.stop();
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : settings.port;
  proxy = forwardWebhookProxy({ source, target: `http://127.0.0.1:${port}/api/github/webhooks`, log });
}
const proxyUrl = settings.webhookProxyUrl;
if (proxyUrl && settings.role !== "worker") server.once("listening", () => startProxy(proxyUrl));

const missing = setup
  ? []
  : [
      !settings.github.webhookSecret &&
        "WEBHOOK_SECRET (GitHub webhooks are refused with 503 until it is set)",
      !host.current().githubConnected &&
        "APP_ID and PRIVATE_KEY or PRIVATE_KEY_PATH (without them .github/envhooks.yml cannot be read: every repository gets the default options)",
      !settings.apiToken && "ENVHOOKS_API_TOKEN (the API answers 503 until it is set)",
    ].filter(Boolean);
if (secretKeys.length === 0) {
  log.warn(
    'ENVHOOKS_SECRET_KEY is not set: integrations\' secrets, URLs and headers are stored in plain text in PostgreSQL. Set it to `openssl rand -base64 32` on every instance (docs/security.md, "Secrets").',
  );
}
if (missing.length > 0) {
  log.warn(`Not set: ${missing.join("; ")}. See README.md, "Register the GitHub App", and .env.example.`);
}

/** Each step of a shutdown waits at most this long: requests in flight, then deliveries in flight. */
const SHUTDOWN_STEP_MS = 10_000;
let stopping = false;
/** What the shutdown is waiting for, named in the log if the drain deadline cuts it short. */
let waitingFor = "";

/**
 * SIGTERM: readiness turns false (and, with ENVHOOKS_SHUTDOWN_DELAY_MS, requests are still served
 * while the load balancer notices); then no new connections, requests in flight finish, the
 * deliveries and GitHub requests in flight finish (a send still waiting for its receiver at the
 * deadline is cut short, and sent again by the next process), and the process exits 0. Work not
 * started stays in the database for the next process. The drain after the delay ends by
 * ENVHOOKS_DRAIN_TIMEOUT_MS whatever is left (Compose's and the chart's grace periods are above it):
 * the steps share it, and at the deadline the process exits 1, naming what it was waiting for.
 */
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  host.current().notReady();
  proxy?.stop();
  log.info({ signal, delayMs: settings.shutdownDelayMs }, "shutting down: readiness is false");
  await sleep(settings.shutdownDelayMs);
  const deadline = Date.now() + settings.drainTimeoutMs;
  const half = () => Math.min(SHUTDOWN_STEP_MS, Math.max(0, deadline - Date.now()) / 2);
  setTimeout(() => {
    log.error(
      { drainTimeoutMs: settings.drainTimeoutMs, waitingFor },
      `the drain deadline passed: cut short while waiting for ${waitingFor}; work not finished is pending for the next process`,
    );
    process.exit(1);
  }, settings.drainTimeoutMs);
  waitingFor = "requests in flight";
  await closeServer(server as Server, half());
  waitingFor = "deliveries in flight, background jobs and the queue";
  await host
    .current()
    .stop(half())
    .catch((error) => log.error({ err: error }, "queue did not stop cleanly"));
  waitingFor = "the database to close";
  await db.close();
  log.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

/** Stops accepting connections and waits for the requests in flight, at most `timeoutMs`. */
function closeServer(http: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      log.warn({ timeoutMs }, "requests still in flight were cut off");
      http.closeAllConnections();
      resolve();
    }, timeoutMs);
    http.close(() => {
      clearTimeout(timer);
      resolve();
    });
    // Keep-alive connections with no request in flight would hold `close` open.
    http.closeIdleConnections();
  });
}
