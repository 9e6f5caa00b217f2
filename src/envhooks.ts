import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { PgBoss } from "pg-boss";
import type { Logger } from "pino";
import { Probot, type ProbotOctokit } from "probot";
import packageJson from "../package.json" with { type: "json" };
import { envhooksApp } from "./app.ts";
import type { Settings } from "./config/env.schema.ts";
import { DEFAULT_REPO_CONFIG } from "./config/repo-config.schema.ts";
import { createServer } from "./http/create-server.ts";
import { acceptDelivery } from "./intake/accept-delivery.ts";
import { applyEvent, type Outbox } from "./intake/apply-event.ts";
import { drainProject, type ReceiveEvent } from "./intake/drain-project.ts";
import type { GithubEvent } from "./lifecycle/github-event.ts";
import { createKeyedDispatcher } from "./queue/keyed-dispatcher.ts";
import { createKeyedQueue, dispatchKeys, enqueueKey, type KeyedQueue } from "./queue/keyed-queue.ts";
import { openQueue, type QueueTarget } from "./queue/open-queue.ts";
import {
  DEFAULT_RETRY,
  DELIVERIES_QUEUE,
  GITHUB_EVENTS_QUEUE,
  INTERNAL_RETRY_MS,
  type RetryPolicy,
} from "./queue/queues.ts";
import { drainIntegration } from "./relay/drain-integration.ts";
import { createSender } from "./relay/send-delivery.ts";
import { writeDeliveries } from "./relay/write-deliveries.ts";
import type { Database } from "./store/database.ts";
import { projectsWithPendingEvents } from "./store/github-events.ts";
import { integrationsWithDueDeliveries, releaseAllLeases } from "./store/integrations.ts";
import { migrate } from "./store/migrate.ts";

/** How often deliveries left behind (a process died holding them, a job was lost) are looked for. */
const SWEEP_INTERVAL_MS = 10_000;

export interface EnvhooksOptions {
  db: Database;
  queue: QueueTarget;
  log: Logger;
  github: Settings["github"];
  apiToken: string | undefined;
  /** ENVHOOKS_ALLOW_PRIVATE_URLS: let integrations target loopback and private addresses. */
  allowPrivateUrls: boolean;
  retry?: RetryPolicy;
  /** Probot's Octokit class (tests turn its own retries off). */
  Octokit?: typeof ProbotOctokit;
}

export interface Envhooks {
  /** Every HTTP route; serve it with @hono/node-server or call `app.request()`. */
  app: OpenAPIHono;
  boss: PgBoss;
  /** Whether GitHub App credentials are set (repo config is read from GitHub). */
  githubConnected: boolean;
  /** Stops taking work and waits (bounded) for jobs in flight; the database stays open. */
  stop(): Promise<void>;
}

/**
 * Starts envhooks on an open database: migrations, the job queue and its workers, the Probot app,
 * and the HTTP routes. Deliveries left pending by a crash are scheduled again.
 */
export async function startEnvhooks(options: EnvhooksOptions): Promise<Envhooks> {
  const { db, log } = options;
  const retry = options.retry ?? DEFAULT_RETRY;
  let ready = false;

  await migrate(db);
  // The data folder lock makes this the only process: leases left by a killed one are void.
  if (db.kind === "pglite") await releaseAllLeases(db);
  const boss = await openQueue(options.queue, log);
  await createKeyedQueue(boss, GITHUB_EVENTS_QUEUE);
  await createKeyedQueue(boss, DELIVERIES_QUEUE);

  // Work this process commits is woken here at once; the queue carries delayed wake-ups (retries),
  // and the sweep finds work whose wake-up was lost with a process.
  const outbox: Outbox = { write: writeDeliveries, wake: (integrationId) => relaying.wake(integrationId) };
  const { receive, githubConnected } = await createReceiver(options, outbox);
  const wakeAt = (queue: KeyedQueue) => (key: string, startAfter: Date) =>
    enqueueKey(boss, queue, key, { startAfter });
  const applying = dispatcher(GITHUB_EVENTS_QUEUE, (projectKey) =>
    drainProject({ db, receive, log, retry, wakeAt: wakeAt(GITHUB_EVENTS_QUEUE) }, projectKey),
  );

  const sender = createSender({ allowPrivateUrls: options.allowPrivateUrls });
  const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  const relay = { db, boss, sender, log, version: packageJson.version, owner };
  const relaying = dispatcher(DELIVERIES_QUEUE, (integrationId) => drainIntegration(relay, integrationId));

  /** Drains a queue's keys in this process; a failure of envhooks itself is tried again shortly. */
  function dispatcher(queue: KeyedQueue, drain: (key: string) => Promise<unknown>) {
    return createKeyedDispatcher({
      concurrency: queue.concurrency,
      drain,
      onError(key, error) {
        log.error({ err: error, queue: queue.name, key }, "draining failed; trying again shortly");
        wakeAt(queue)(key, new Date(Date.now() + INTERNAL_RETRY_MS)).catch(() => {
          // The database is out of reach: the sweep finds this work when it is back.
        });
      },
    });
  }
  await dispatchKeys(boss, GITHUB_EVENTS_QUEUE, applying);
  await dispatchKeys(boss, DELIVERIES_QUEUE, relaying);

  // Work left behind by a crash: deliveries GitHub sent, and deliveries to send.
  async function sweep() {
    for (const projectKey of await projectsWithPendingEvents(db)) applying.wake(projectKey);
    for (const id of await integrationsWithDueDeliveries(db)) relaying.wake(id);
  }
  await sweep();
  const sweeper = setInterval(() => {
    sweep().catch((error) => log.warn({ err: error }, "sweep for left-behind work failed"));
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  const app = createServer({
    db,
    log,
    webhookSecret: options.github.webhookSecret,
    apiToken: options.apiToken,
    accept: acceptDelivery(db, (projectKey) => applying.wake(projectKey)),
    isReady: () => ready,
    relay: { ...relay, allowPrivateUrls: options.allowPrivateUrls },
  });
  ready = true;
  return {
    app,
    boss,
    githubConnected,
    async stop() {
      ready = false;
      clearInterval(sweeper);
      await Promise.all([applying.stop(10_000), relaying.stop(10_000)]);
      await boss.stop({ graceful: true, timeout: 10_000, close: true });
      await sender.close();
    },
  };
}

/**
 * With GitHub App credentials, deliveries go through Probot, whose `context.config` reads
 * `.github/envhooks.yml`. Without them (local trial), they are applied with the default options.
 */
async function createReceiver(
  options: EnvhooksOptions,
  outbox: Outbox,
): Promise<{ receive: ReceiveEvent; githubConnected: boolean }> {
  const { appId, privateKey, webhookSecret, baseUrl } = options.github;
  if (appId && privateKey) {
    const probot = new Probot({
      appId,
      privateKey,
      secret: webhookSecret ?? "",
      log: options.log.child({ name: "probot" }),
      ...(baseUrl ? { baseUrl } : {}),
      ...(options.Octokit ? { Octokit: options.Octokit } : {}),
    });
    await probot.load(envhooksApp({ db: options.db, outbox }));
    // biome-ignore lint/suspicious/noExplicitAny: stored deliveries were verified when they arrived
    return { receive: (event) => probot.receive(event as any), githubConnected: true };
  }
  return {
    githubConnected: false,
    receive: async ({ id, name, payload }) => {
      const event = { name, payload } as GithubEvent;
      await applyEvent({ db: options.db, outbox }, id, event, null, {
        ok: true,
        config: DEFAULT_REPO_CONFIG,
      });
    },
  };
}
