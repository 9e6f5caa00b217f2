import type { Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { serve } from "@hono/node-server";
import { pino } from "pino";
import { readSettings } from "./config/env.schema.ts";
import { startEnvhooks } from "./envhooks.ts";
import type { QueueTarget } from "./queue/open-queue.ts";
import type { Database } from "./store/database.ts";
import { DataDirLockedError } from "./store/lock-data-dir.ts";
import { openPglite } from "./store/open-pglite.ts";
import { openPostgres } from "./store/open-postgres.ts";
import { createSecretBox, SecretKeyError } from "./store/secret-box.ts";
import { embeddedStoreKeys } from "./store/secret-key-file.ts";

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
    const embedded = await openPglite({
      dataDir: settings.database.dataDir,
      lock: { log },
    });
    db = embedded;
    queue = { kind: "pglite", pglite: embedded.pglite };
    secretKeys = await embeddedStoreKeys(settings.database.dataDir, secretKeys);
  }
} catch (error) {
  if (error instanceof DataDirLockedError) {
    log.fatal(error.message);
    process.exit(1);
  }
  throw error;
}

const envhooks = await startEnvhooks({
  db,
  queue,
  log,
  github: settings.github,
  apiToken: settings.apiToken,
  metricsToken: settings.metricsToken,
  allowPrivateUrls: settings.allowPrivateUrls,
  publicUrl: settings.publicUrl,
  role: settings.role,
  secrets: createSecretBox(secretKeys),
}).catch((error) => {
  if (!(error instanceof SecretKeyError)) throw error;
  log.fatal(error.message);
  process.exit(1);
});
const server = serve(
  { fetch: envhooks.app.fetch, port: settings.port, hostname: settings.host ?? "0.0.0.0" },
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
  },
);

const missing = [
  !settings.github.webhookSecret && "WEBHOOK_SECRET (GitHub webhooks are refused with 503 until it is set)",
  !envhooks.githubConnected &&
    "APP_ID and PRIVATE_KEY or PRIVATE_KEY_PATH (without them .github/envhooks.yml cannot be read: every repository gets the default options)",
  !settings.apiToken && "ENVHOOKS_API_TOKEN (the API answers 503 until it is set)",
].filter(Boolean);
if (secretKeys.length === 0) {
  log.warn(
    'ENVHOOKS_SECRET_KEY is not set: integrations\' secrets, URLs and headers are stored in plain text in PostgreSQL. Set it to `openssl rand -base64 32` on every instance (README, "Secrets").',
  );
}
if (missing.length > 0) {
  log.warn(`Not set: ${missing.join("; ")}. See README.md, "Register the GitHub App", and .env.example.`);
}

/** Each step of a shutdown waits at most this long: requests in flight, then deliveries in flight. */
const SHUTDOWN_STEP_MS = 10_000;
let stopping = false;

/**
 * SIGTERM: readiness turns false (and, with ENVHOOKS_SHUTDOWN_DELAY_MS, requests are still served
 * while the load balancer notices); then no new connections, requests in flight finish, the
 * deliveries and GitHub requests in flight finish (a send still waiting for its receiver at the
 * deadline is cut short, and sent again by the next process), and the process exits 0. Work not
 * started stays in the database for the next process.
 */
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  envhooks.notReady();
  log.info({ signal, delayMs: settings.shutdownDelayMs }, "shutting down: readiness is false");
  await sleep(settings.shutdownDelayMs);
  await closeServer(server as Server, SHUTDOWN_STEP_MS);
  await envhooks
    .stop(SHUTDOWN_STEP_MS)
    .catch((error) => log.error({ err: error }, "queue did not stop cleanly"));
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
