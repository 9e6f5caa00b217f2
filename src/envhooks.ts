import type { Hono } from "hono";
import type { PgBoss } from "pg-boss";
import type { Logger } from "pino";
import { Probot, type ProbotOctokit } from "probot";
import { envhooksApp } from "./app.ts";
import type { Settings } from "./config/env.schema.ts";
import { DEFAULT_REPO_CONFIG } from "./config/repo-config.schema.ts";
import { createServer } from "./http/create-server.ts";
import { acceptDelivery } from "./intake/accept-delivery.ts";
import { applyEvent } from "./intake/apply-event.ts";
import { drainProject, type ReceiveEvent } from "./intake/drain-project.ts";
import type { GithubEvent } from "./lifecycle/github-event.ts";
import {
  createGithubEventQueue,
  DEFAULT_RETRY,
  enqueueProject,
  type RetryPolicy,
  workGithubEvents,
} from "./queue/github-event-jobs.ts";
import { openQueue, type QueueTarget } from "./queue/open-queue.ts";
import type { Database } from "./store/database.ts";
import { projectsWithPendingEvents } from "./store/github-events.ts";
import { migrate } from "./store/migrate.ts";

export interface EnvhooksOptions {
  db: Database;
  queue: QueueTarget;
  log: Logger;
  github: Settings["github"];
  apiToken: string | undefined;
  retry?: RetryPolicy;
  /** Probot's Octokit class (tests turn its own retries off). */
  Octokit?: typeof ProbotOctokit;
}

export interface Envhooks {
  /** Every HTTP route; serve it with @hono/node-server or call `app.request()`. */
  app: Hono;
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
  const boss = await openQueue(options.queue, log);
  await createGithubEventQueue(boss, retry);

  const { receive, githubConnected } = await createReceiver(options);
  const drain = (projectKey: string) =>
    drainProject({ db, receive, log, maxAttempts: retry.limit + 1 }, projectKey);
  await workGithubEvents(boss, drain);
  for (const projectKey of await projectsWithPendingEvents(db)) await enqueueProject(boss, projectKey);

  const app = createServer({
    db,
    log,
    webhookSecret: options.github.webhookSecret,
    apiToken: options.apiToken,
    accept: acceptDelivery(db, boss),
    isReady: () => ready,
  });
  ready = true;
  return {
    app,
    boss,
    githubConnected,
    async stop() {
      ready = false;
      await boss.stop({ graceful: true, timeout: 10_000, close: true });
    },
  };
}

/**
 * With GitHub App credentials, deliveries go through Probot, whose `context.config` reads
 * `.github/envhooks.yml`. Without them (local trial), they are applied with the default options.
 */
async function createReceiver(
  options: EnvhooksOptions,
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
    await probot.load(envhooksApp({ db: options.db }));
    // biome-ignore lint/suspicious/noExplicitAny: stored deliveries were verified when they arrived
    return { receive: (event) => probot.receive(event as any), githubConnected: true };
  }
  return {
    githubConnected: false,
    receive: async ({ id, name, payload }) => {
      const event = { name, payload } as GithubEvent;
      await applyEvent({ db: options.db }, id, event, null, { ok: true, config: DEFAULT_REPO_CONFIG });
    },
  };
}
