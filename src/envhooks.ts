import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { PgBoss } from "pg-boss";
import type { Logger } from "pino";
import { Probot, ProbotOctokit } from "probot";
import packageJson from "../package.json" with { type: "json" };
import { QUIET_RUN_MS, readQuietRuns } from "./actions/read-quiet-runs.ts";
import { actionsOidcIssuer } from "./actions/verify-actions-token.ts";
import { envhooksApp } from "./app.ts";
import type { Settings } from "./config/env.schema.ts";
import { DEFAULT_REPO_CONFIG } from "./config/repo-config.schema.ts";
import type { GithubOutbox } from "./github/github-outbox.ts";
import { RateBudget } from "./github/rate-budget.ts";
import { type RecoveryRun, recoverDeliveries } from "./github/recover-deliveries.ts";
import { drainGithub } from "./github/sync-github.ts";
import { createServer } from "./http/create-server.ts";
import type { WebhookLimits } from "./http/routes/github-webhooks.ts";
import { acceptDelivery } from "./intake/accept-delivery.ts";
import { type ApplyBatch, createBatchApplier } from "./intake/apply-batch.ts";
import {
  type ApplyDeps,
  applyEvent,
  expireEnvironments,
  type Outbox,
  Refused,
} from "./intake/apply-event.ts";
import { drainProject, type ReceiveEvent } from "./intake/drain-project.ts";
import { limitResync } from "./intake/limit-resync.ts";
import { createRepoOptions, type RepoOptions } from "./intake/repo-options.ts";
import { completeOverdueActivities, reportProgress } from "./intake/report-progress.ts";
import { applyRepositoryEvent, handleInstallation } from "./intake/repository-events.ts";
import { createResyncQueue, type ResyncDeps, resyncRepository } from "./intake/resync.ts";
import {
  applyCheckEvents,
  applyChecksRead,
  readWaitedCommitsAgain,
  requiredChecksKnown,
  settleDueCheckWaits,
} from "./intake/wait-for-checks.ts";
import type { GithubEvent, RepositoryPayload } from "./lifecycle/github-event.ts";
import { createMetrics } from "./metrics.ts";
import { startBackgroundJob } from "./queue/background-job.ts";
import { createKeyedDispatcher } from "./queue/keyed-dispatcher.ts";
import { createKeyedQueue, dispatchKeys, enqueueKey, type KeyedQueue } from "./queue/keyed-queue.ts";
import { openQueue, type QueueTarget } from "./queue/open-queue.ts";
import {
  DEFAULT_RETRY,
  DELIVERIES_QUEUE,
  GITHUB_EVENTS_QUEUE,
  GITHUB_UPDATES_QUEUE,
  INTERNAL_RETRY_MS,
  type RetryPolicy,
} from "./queue/queues.ts";
import { LEASE_SECONDS } from "./queue/with-lease.ts";
import { recordAttemptsTogether } from "./relay/attempt-recorder.ts";
import { maskUrl } from "./relay/delivery-request.ts";
import { createDrainNudges, drainIntegration, PER_LANE } from "./relay/drain-integration.ts";
import { takeLeasesTogether } from "./relay/lease-taker.ts";
import { deliveryAlerts } from "./relay/raise-alert.ts";
import { createSender } from "./relay/send-delivery.ts";
import { writeDeliveries } from "./relay/write-deliveries.ts";
import { maskAttemptUrls } from "./store/attempt-urls.ts";
import type { BackgroundJob } from "./store/background-jobs.ts";
import type { Database } from "./store/database.ts";
import { projectsWithPendingEvents } from "./store/github-events.ts";
import { projectsWithDueGithubTasks } from "./store/github-tasks.ts";
import { resealIntegrations } from "./store/integration-secrets.ts";
import { integrationsWithDueDeliveries } from "./store/integrations.ts";
import { releaseAllLeases } from "./store/leases.ts";
import { migrate } from "./store/migrate.ts";
import { prunePushCommits } from "./store/push-commits.ts";
import { DEFAULT_RETENTION, type Purged, purgeExpired, type Retention } from "./store/retention.ts";
import { createSecretBox, type SecretBox } from "./store/secret-box.ts";
import { githubUserAccess } from "./web/access/github-user.ts";
import type { SetupDeps } from "./web/access/setup.ts";

/** How often deliveries left behind (a process died holding them, a job was lost) are looked for. */
const SWEEP_INTERVAL_MS = 10_000;
/** A push's commits are kept this long for a pull request's `synchronize` to the same head. */
const PUSH_COMMITS_KEPT_MS = 24 * 3600_000;
/** How often missed GitHub deliveries are looked for, and retention purges (issue 18). */
const BACKGROUND_EVERY_MS = 10 * 60_000;

export interface EnvhooksOptions {
  db: Database;
  queue: QueueTarget;
  log: Logger;
  github: Settings["github"];
  apiToken: string | undefined;
  /** ENVHOOKS_METRICS_TOKEN: `/metrics` asks for it as a bearer token; open when unset. */
  metricsToken?: string | undefined;
  /** ENVHOOKS_ALLOW_PRIVATE_URLS: let integrations target loopback and private addresses. */
  allowPrivateUrls: boolean;
  /** ENVHOOKS_SECRET_KEY (or the embedded store's key file): encrypts secrets at rest. None: stored plain. */
  secrets?: SecretBox;
  retry?: RetryPolicy;
  /** Probot's Octokit class (tests turn its own retries off). */
  Octokit?: typeof ProbotOctokit;
  /** ENVHOOKS_PUBLIC_URL: where envhooks is reached, for links on GitHub. */
  publicUrl?: string | undefined;
  /** ENVHOOKS_TRUSTED_PROXIES: the reverse proxies whose X-Forwarded-For sign-in throttling believes. */
  trustedProxies?: readonly string[] | undefined;
  /** The clock for expiry and runner timeouts (tests move it). */
  now?: () => Date;
  /**
   * ENVHOOKS_ROLE: `all` serves HTTP and works the queue; `web` serves HTTP and leaves the work to
   * workers (through the queue); `worker` works the queue and serves only health and metrics.
   */
  role?: Role;
  /** Setup in the browser (/setup) while the GitHub App is not configured. */
  setup?: SetupDeps;
  /** ENVHOOKS_RETENTION and ENVHOOKS_ACTIVITY_RETENTION (30 days and a year by default). */
  retention?: Retention;
  /** What unverified webhook bodies may hold and how long they may take (tests make them small). */
  webhookLimits?: Partial<WebhookLimits>;
}

export type Role = "all" | "web" | "worker";

export interface Envhooks {
  /** Every HTTP route; serve it with @hono/node-server or call `app.request()`. */
  app: OpenAPIHono;
  boss: PgBoss;
  /** Whether GitHub App credentials are set (repo config is read from GitHub). */
  githubConnected: boolean;
  /**
   * Looks for work that is due without an event: work left behind by a crash, expired
   * environments, deploy runners that did not report in time. Runs at start and every 10 s.
   */
  sweep(): Promise<void>;
  /** Asks GitHub again for deliveries it failed to deliver (at start and every 10 minutes too); undefined: another instance is at it, or no App. */
  recoverDeliveries(): Promise<RecoveryRun | undefined>;
  /** Purges what retention lets go (at start and every 10 minutes too); undefined: another instance is at it. */
  purge(): Promise<Record<Purged, number> | undefined>;
  /**
   * Reads the workflow runs of unfinished activities quiet for 10 minutes (every one at start; then
   * every minute); undefined: another instance is at it, or no App.
   */
  readQuietRuns(): Promise<number | undefined>;
  role: Role;
  /** Turns readiness false (`/readyz` 503), first step of a graceful shutdown. */
  notReady(): void;
  /**
   * Stops taking work and waits, at most `timeoutMs`, for the deliveries and GitHub requests in
   * flight; the database stays open.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Starts envhooks on an open database: migrations, the job queue and its workers, the Probot app,
 * and the HTTP routes. Deliveries left pending by a crash are scheduled again.
 */
export async function startEnvhooks(options: EnvhooksOptions): Promise<Envhooks> {
  const { db, log } = options;
  const retry = options.retry ?? DEFAULT_RETRY;
  const now = options.now ?? (() => new Date());
  const role = options.role ?? "all";
  let ready = false;
  const stopping = new AbortController();
  const signal = stopping.signal;

  await migrate(db);
  const secrets = options.secrets ?? createSecretBox([]);
  // Secrets stored plain or with an older key are encrypted with the first key; a missing key stops here.
  await resealIntegrations(db, secrets);
  // The data folder lock makes this the only process: leases left by a killed one are void.
  if (db.kind === "pglite") await releaseAllLeases(db);
  const boss = await openQueue(options.queue, log);
  await createKeyedQueue(boss, GITHUB_EVENTS_QUEUE);
  await createKeyedQueue(boss, DELIVERIES_QUEUE);
  await createKeyedQueue(boss, GITHUB_UPDATES_QUEUE);

  // Work this process commits is woken here at once (in a `web` instance, through the queue for a
  // worker); the queue carries delayed wake-ups (retries), and the sweep finds work whose wake-up
  // was lost with a process.
  const nudges = createDrainNudges();
  const outbox: Outbox = {
    // The drains under way hear which lanes got deliveries (see DrainNudges).
    write: (tx, projectKey, activities, options) =>
      writeDeliveries(tx, projectKey, activities, { ...options, lanes: nudges.expect }),
    wake: (integrationId) => {
      nudges.nudge(integrationId);
      wake(DELIVERIES_QUEUE, integrationId);
    },
  };
  const githubOutbox: GithubOutbox = { wake: (projectKey) => wake(GITHUB_UPDATES_QUEUE, projectKey) };
  const metrics = createMetrics(db);
  const settled = new Set<string>();
  const { receive, applyBatch, githubConnected, octokitFor, appOctokit, repoOptions } = await createReceiver(
    options,
    { db, outbox, now, metrics, settled, log },
    githubOutbox,
  );
  const apply: ApplyDeps = { db, outbox, now, metrics, ...(octokitFor ? { github: githubOutbox } : {}) };
  // Issue 18: resync a repository with GitHub (the API, and repositories the App is installed on).
  const resyncDeps: ResyncDeps | undefined =
    repoOptions && octokitFor ? { apply, options: repoOptions, octokitFor, log } : undefined;
  const wakeAt = (queue: KeyedQueue) => (key: string, startAfter: Date) =>
    enqueueKey(boss, queue, key, { startAfter });
  const applying = dispatcher(GITHUB_EVENTS_QUEUE, (projectKey) =>
    drainProject(
      {
        db,
        receive,
        applyBatch,
        applyChecks: (events) => applyCheckEvents(apply, events),
        log,
        retry,
        signal,
        settled,
        wakeAt: wakeAt(GITHUB_EVENTS_QUEUE),
      },
      projectKey,
    ),
  );

  const sender = createSender({ allowPrivateUrls: options.allowPrivateUrls });
  const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  const relay = {
    db,
    boss,
    sender,
    log,
    version: packageJson.version,
    owner,
    signal,
    metrics,
    recordAttempt: recordAttemptsTogether(db),
    takeLease: takeLeasesTogether(db, secrets, { owner, seconds: LEASE_SECONDS, perLane: PER_LANE }),
    // Failure alerts on envhooks' clock: one per integration and type in 10 minutes.
    alerts: deliveryAlerts(db, boss, metrics, now),
    secrets,
    again: (integrationId: string) => relaying.wake(integrationId),
    nudges,
  };
  const relaying = dispatcher(DELIVERIES_QUEUE, (integrationId) => drainIntegration(relay, integrationId));
  const budget = new RateBudget(metrics);
  const resting = new Map<string, number>();
  const updatingGithub = dispatcher(GITHUB_UPDATES_QUEUE, async (projectKey) => {
    if (!octokitFor) return;
    await drainGithub(
      {
        db,
        log,
        octokitFor,
        owner,
        signal,
        metrics,
        publicUrl: options.publicUrl,
        retry,
        budget,
        resting,
        checksRead: {
          requiredKnown: (projectKey, branch) => requiredChecksKnown(apply, projectKey, branch),
          apply: async (projectKey, sha, read) => {
            await applyChecksRead(apply, projectKey, sha, read);
          },
        },
        failActivity: async (activityId, reason) => {
          const report = { state: "complete" as const, result: "failure" as const, log: reason };
          // Finished meanwhile (superseded, or a report came): nothing to fail.
          await reportProgress(apply, activityId, report).catch((error: unknown) => {
            if (!(error instanceof Refused)) throw error;
          });
        },
        wakeAt: wakeAt(GITHUB_UPDATES_QUEUE),
      },
      projectKey,
    );
  });
  const dispatchers = new Map([
    [GITHUB_EVENTS_QUEUE, applying],
    [DELIVERIES_QUEUE, relaying],
    [GITHUB_UPDATES_QUEUE, updatingGithub],
  ]);

  /** Wakes a key's work: in this process, or (a `web` instance) in whichever worker takes the job. */
  function wake(queue: KeyedQueue, key: string) {
    if (role !== "web") return dispatchers.get(queue)?.wake(key);
    enqueueKey(boss, queue, key).catch((error) =>
      log.warn({ err: error, queue: queue.name, key }, "wake-up not queued; the sweep will find the work"),
    );
  }

  /** Drains a queue's keys in this process; a failure of envhooks itself is tried again shortly. */
  function dispatcher(queue: KeyedQueue, drain: (key: string) => Promise<unknown>) {
    return createKeyedDispatcher({
      concurrency: queue.concurrency,
      drain,
      // Not at once for a wake-up that came meanwhile: a failure that repeats never hot-loops.
      restMs: INTERNAL_RETRY_MS,
      onError(key, error) {
        log.error({ err: error, queue: queue.name, key }, "draining failed; trying again shortly");
        wakeAt(queue)(key, new Date(Date.now() + INTERNAL_RETRY_MS)).catch(() => {
          // The database is out of reach: the sweep finds this work when it is back.
        });
      },
    });
  }

  async function sweep() {
    // Work left behind by a crash: deliveries GitHub sent, deliveries to send, updates for GitHub.
    for (const projectKey of await projectsWithPendingEvents(db)) applying.wake(projectKey);
    for (const id of await integrationsWithDueDeliveries(db)) relaying.wake(id);
    if (octokitFor) {
      for (const projectKey of await projectsWithDueGithubTasks(db)) updatingGithub.wake(projectKey);
      await prunePushCommits(db, new Date(now().getTime() - PUSH_COMMITS_KEPT_MS));
    }
    // Work that falls due with time.
    await completeOverdueActivities(apply, now());
    await expireEnvironments(apply, now());
    // wait_for_checks: timeouts, graces with no checks, and waits whose activity was superseded.
    await settleDueCheckWaits(apply, now());
  }
  let sweeper: NodeJS.Timeout | undefined;
  if (role !== "web") {
    for (const [queue, keys] of dispatchers) {
      // A wake-up through the queue (another instance wrote deliveries, a retry fell due) reaches
      // the drain under way at once, as this process's own writes do.
      const target =
        queue === DELIVERIES_QUEUE
          ? {
              wake(key: string) {
                nudges.nudge(key);
                keys.wake(key);
              },
            }
          : keys;
      await dispatchKeys(boss, queue, target);
    }
    // Check events may have been missed while no process listened: waited-for commits are read again.
    if (octokitFor) await readWaitedCommitsAgain(apply);
    await sweep();
    sweeper = setInterval(() => {
      sweep().catch((error) => log.warn({ err: error }, "sweep for left-behind work failed"));
    }, SWEEP_INTERVAL_MS);
    sweeper.unref();
  }
  // Missed GitHub deliveries and retention: one instance at a time, never a `web` one.
  function background<Result>(job: BackgroundJob, run: (keepGoing: () => boolean) => Promise<Result>) {
    return role === "web"
      ? undefined
      : startBackgroundJob({ db, log, job, owner, everyMs: BACKGROUND_EVERY_MS, run });
  }
  const recovering = appOctokit
    ? background("recover-github-deliveries", (keepGoing) =>
        recoverDeliveries({ db, log, appOctokit, now, metrics, keepGoing }),
      )
    : undefined;
  // Workflow runs whose events went missing (issue 24): every open one at start, then those quiet
  // for 10 minutes, looked for every minute.
  let readAllRuns = true;
  const readingRuns =
    octokitFor && role !== "web"
      ? startBackgroundJob({
          db,
          log,
          job: "read-quiet-runs",
          owner,
          everyMs: 60_000,
          run: (keepGoing) => {
            const quietSince = readAllRuns ? now() : new Date(now().getTime() - QUIET_RUN_MS);
            readAllRuns = false;
            return readQuietRuns({ apply, log, octokitFor, budget, keepGoing }, quietSince);
          },
        })
      : undefined;
  const purging = background("retention", (keepGoing) =>
    purgeExpired(db, {
      retention: options.retention ?? DEFAULT_RETENTION,
      now,
      keepGoing,
      onPurged: (what, count) => metrics.purged.inc({ what }, count),
    }),
  );
  // Attempts logged before the log kept a webhook's URL as its origin (migration 019), rewritten
  // in batches; once done, the job's row is gone and its runs find no lease to take.
  const maskingUrls = background("mask-attempt-urls", (keepGoing) =>
    maskAttemptUrls(db, maskUrl, { keepGoing }),
  );

  const app = createServer({
    db,
    log,
    webhookSecret: options.github.webhookSecret,
    webhookLimits: options.webhookLimits,
    apiToken: options.apiToken,
    metricsToken: options.metricsToken,
    accept: acceptDelivery(db, (projectKey) => wake(GITHUB_EVENTS_QUEUE, projectKey)),
    onInstallation: handleInstallation({
      db,
      log,
      markStale: repoOptions?.onInstallation,
      resyncLater: resyncDeps && createResyncQueue(resyncDeps),
    }),
    // Issue 22: limited per project and by the installation's GitHub budget (which resyncs count in).
    resync:
      resyncDeps &&
      limitResync({ db, now, budgetLeft: (id, at) => budget.left(id, at) }, (fullName, options) =>
        resyncRepository({ ...resyncDeps, budget }, fullName, options),
      ),
    apply,
    isReady: () => ready,
    relay: { ...relay, allowPrivateUrls: options.allowPrivateUrls },
    metrics,
    onlyProbes: role === "worker",
    publicUrl: options.publicUrl,
    actionsOidc:
      options.publicUrl && octokitFor
        ? {
            issuer:
              options.github.actionsOidcIssuer ??
              // github.com's, or GHE_HOST's (its REST root is set then).
              actionsOidcIssuer(options.github.baseUrl ? githubWebUrl(options.github) : undefined),
            audience: options.publicUrl,
          }
        : undefined,
    trustedProxies: options.trustedProxies,
    githubWebUrl: githubWebUrl(options.github),
    secrets,
    now,
    userProjects: signInWithGithub(options),
    setup: options.setup,
  });
  ready = true;
  return {
    app,
    boss,
    githubConnected,
    role,
    sweep,
    recoverDeliveries: async () => recovering?.runNow(),
    purge: async () => purging?.runNow(),
    readQuietRuns: async () => readingRuns?.runNow(),
    notReady() {
      ready = false;
    },
    async stop(timeoutMs = 10_000) {
      ready = false;
      clearInterval(sweeper);
      // Drains stop after the item in flight; what is left stays pending for the next process.
      stopping.abort();
      await Promise.all([...dispatchers.values()].map((keys) => keys.stop(timeoutMs)));
      await Promise.all([recovering?.stop(), purging?.stop(), maskingUrls?.stop(), readingRuns?.stop()]);
      // At the deadline, sends still waiting for their receiver are cut short and recorded as
      // interrupted: pending, they go again (same webhook-id) from the next process. Recording
      // them is one statement; a database out of reach does not hold the exit for longer.
      sender.interrupt();
      await relaying.stop(5_000);
      await boss.stop({ graceful: true, timeout: timeoutMs, close: true });
      await sender.close();
    },
  };
}

/** GitHub's web root: GHE_HOST's, or the REST root without `/api/v3` (a fake GitHub), or github.com. */
export function githubWebUrl(github: Settings["github"]): string {
  return github.webUrl ?? github.baseUrl?.replace(/\/api\/v3\/?$/, "") ?? "https://github.com";
}

/** Sign in with GitHub, with the App's OAuth client when it is set. */
function signInWithGithub(options: EnvhooksOptions) {
  const { clientId, clientSecret, baseUrl } = options.github;
  if (!clientId || !clientSecret) return undefined;
  return githubUserAccess({
    clientId,
    clientSecret,
    webUrl: githubWebUrl(options.github),
    apiUrl: baseUrl ?? "https://api.github.com",
    ...(options.Octokit ? { Octokit: options.Octokit } : {}),
  });
}

/**
 * Probot's throttle waits inside the request when GitHub rate-limits an installation (up to an
 * hour, then retries). envhooks answers rate limits itself instead: an options read falls back to
 * the stored options, a compare to no commits, and GitHub updates wait for the reset in the store
 * (`rateLimitWaitMs`), so nothing holds a drain, and nobody else's work, while GitHub says wait.
 */
function answeringRateLimits(Octokit: typeof ProbotOctokit): typeof ProbotOctokit {
  return Octokit.defaults((instance: { throttle?: Record<string, unknown> }) => ({
    ...instance,
    throttle: { ...instance.throttle, onRateLimit: () => false, onSecondaryRateLimit: () => false },
  }));
}

/**
 * With GitHub App credentials, deliveries go through Probot, `.github/envhooks.yml` is kept in the
 * store and read again when it may have changed (`createRepoOptions`), and envhooks writes back to GitHub. Without them (local trial), they are
 * applied with the default options and nothing is sent to GitHub.
 */
async function createReceiver(
  options: EnvhooksOptions,
  deps: ApplyDeps,
  github: GithubOutbox,
): Promise<{
  receive: ReceiveEvent;
  /** Lifecycle events applied together, without Probot's per-event `receive`. */
  applyBatch: ApplyBatch;
  githubConnected: boolean;
  /** With GitHub App credentials: the stored repository options and what refreshes them. */
  repoOptions?: RepoOptions;
  octokitFor: ((installationId: number) => Promise<InstanceType<typeof ProbotOctokit>>) | undefined;
  /** With GitHub App credentials: an Octokit authenticated as the App itself (its JWT). */
  appOctokit?: () => Promise<InstanceType<typeof ProbotOctokit>>;
}> {
  const { appId, privateKey, webhookSecret, baseUrl } = options.github;
  if (appId && privateKey) {
    const probot = new Probot({
      appId,
      privateKey,
      secret: webhookSecret ?? "",
      log: options.log.child({ name: "probot" }),
      ...(baseUrl ? { baseUrl } : {}),
      Octokit: answeringRateLimits(options.Octokit ?? ProbotOctokit),
    });
    const octokitFor = (installationId: number) => probot.auth(installationId);
    const repoOptions = createRepoOptions({
      db: deps.db,
      log: options.log,
      now: deps.now ?? (() => new Date()),
      metrics: deps.metrics,
      octokitFor,
    });
    await probot.load(envhooksApp({ ...deps, github }, repoOptions));
    return {
      repoOptions,
      // biome-ignore lint/suspicious/noExplicitAny: stored deliveries were verified when they arrived
      receive: (event) => probot.receive(event as any),
      applyBatch: createBatchApplier({
        apply: { ...deps, github },
        log: options.log,
        github: { options: repoOptions, octokitFor },
      }),
      githubConnected: true,
      octokitFor,
      appOctokit: () => probot.auth(),
    };
  }
  return {
    githubConnected: false,
    octokitFor: undefined,
    applyBatch: createBatchApplier({ apply: deps, log: options.log }),
    receive: async ({ id, name, payload }) => {
      if (name === "repository") {
        await applyRepositoryEvent(deps, id, payload as RepositoryPayload);
        return;
      }
      // Without the App no workflow run was started by envhooks: nothing to follow.
      if (name === "workflow_run" || name === "workflow_job") return;
      // Nor does anything wait for checks (wait_for_checks needs the App).
      if (name === "check_suite" || name === "check_run" || name === "status") return;
      // Without GitHub, nobody can be asked whether a commenter may write: commands are refused.
      const event = { name, payload, canWrite: false } as GithubEvent;
      await applyEvent(deps, id, event, null, {
        ok: true,
        config: DEFAULT_REPO_CONFIG,
      });
    },
  };
}
