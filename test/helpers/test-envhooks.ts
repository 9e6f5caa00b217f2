import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { sign } from "@octokit/webhooks-methods";
import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { type Envhooks, type EnvhooksOptions, type Role, startEnvhooks } from "../../src/envhooks.ts";
import { createSecretBox, type SecretBox } from "../../src/store/secret-box.ts";
import type { FakeGithub } from "./fake-github.ts";
import type { StoreKind, TestStore } from "./stores.ts";

export const WEBHOOK_SECRET = "test-webhook-secret";
/** The operator token: 32 characters at least, as ENVHOOKS_API_TOKEN must be. */
export const API_TOKEN = "test-api-token-0123456789abcdef0123456789";
/** The key every test instance encrypts secrets with, unless a test passes its own `secrets`. */
export const TEST_SECRET_KEY = Buffer.alloc(32, "envhooks-test-key");

/** Everything a test needs around a running envhooks. */
export interface TestEnvhooks extends Envhooks {
  store: TestStore;
  /** Every log line, as written. */
  logs: string[];
  /** Signs and posts a GitHub delivery the way GitHub does; returns the response. */
  deliver(
    name: string,
    payload: unknown,
    options?: { deliveryId?: string; secret?: string },
  ): Promise<Response>;
  /** A request to the API with the operator token; `body` is sent as JSON. */
  api(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestEnvhooks(
  kind: StoreKind,
  options: {
    github?: FakeGithub;
    retryDelaySeconds?: number;
    retryLimit?: number;
    allowPrivateUrls?: boolean;
    /** null: start without WEBHOOK_SECRET / ENVHOOKS_API_TOKEN. */
    webhookSecret?: string | null;
    apiToken?: string | null;
    /** The clock for expiry and runner timeouts. */
    now?: () => Date;
    role?: Role;
    /** Another instance's store: several instances on one database (closed by its first owner). */
    store?: TestStore;
    /** Keep Probot's throttle as in production: writes to GitHub 1 s apart per installation. */
    githubThrottle?: boolean;
    /** ENVHOOKS_METRICS_TOKEN: /metrics asks for it. */
    metricsToken?: string;
    /** Encrypts secrets at rest; TEST_SECRET_KEY by default. */
    secrets?: SecretBox;
    /** ENVHOOKS_PUBLIC_URL: links to the dashboard (log_url, the PR comment). */
    publicUrl?: string;
    /** The App's OAuth client (GITHUB_CLIENT_ID/SECRET): "Sign in with GitHub" against `github`. */
    oauthClient?: { clientId: string; clientSecret: string };
    /** GitHub Actions' OIDC issuer (a local one); used with `publicUrl` as the audience. */
    actionsOidcIssuer?: string;
    /** What unverified webhook bodies may hold and how long they may take (production's by default). */
    webhookLimits?: EnvhooksOptions["webhookLimits"];
    /** ENVHOOKS_TRUSTED_PROXIES: whose X-Forwarded-For sign-in throttling believes. */
    trustedProxies?: string[];
  } = {},
): Promise<TestEnvhooks> {
  const store = options.store ?? (await kind.open());
  const ownsStore = !options.store;
  const logs: string[] = [];
  const log = pino(
    { level: "debug" },
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  const envhooks = await startEnvhooks({
    db: store.db,
    queue: store.queue,
    log,
    apiToken: options.apiToken === null ? undefined : API_TOKEN,
    allowPrivateUrls: options.allowPrivateUrls ?? true,
    metricsToken: options.metricsToken,
    publicUrl: options.publicUrl,
    secrets: options.secrets ?? createSecretBox([TEST_SECRET_KEY]),
    retry: { delaySeconds: options.retryDelaySeconds ?? 1, backoff: false, limit: options.retryLimit ?? 3 },
    github: {
      webhookSecret: options.webhookSecret === null ? undefined : WEBHOOK_SECRET,
      appId: options.github ? "1" : undefined,
      privateKey: options.github?.privateKey,
      baseUrl: options.github?.baseUrl,
      actionsOidcIssuer: options.actionsOidcIssuer,
      ...(options.oauthClient ?? {}),
    },
    // A function, so it sees (and overrides) the throttle options Probot sets on every instance:
    // the throttle spaces writes 1 s apart, as GitHub asks of real apps; off unless a test asks.
    Octokit: ProbotOctokit.defaults((instance: Record<string, any>) => ({
      ...instance,
      retry: { enabled: false },
      throttle: { ...instance.throttle, enabled: options.githubThrottle ?? false },
    })),
    ...(options.now ? { now: options.now } : {}),
    ...(options.role ? { role: options.role } : {}),
    ...(options.webhookLimits ? { webhookLimits: options.webhookLimits } : {}),
    ...(options.trustedProxies ? { trustedProxies: options.trustedProxies } : {}),
  });
  return {
    ...envhooks,
    store,
    logs,
    async deliver(name, payload, { deliveryId = randomUUID(), secret = WEBHOOK_SECRET } = {}) {
      const body = typeof payload === "string" ? payload : JSON.stringify(payload);
      return envhooks.app.request("/api/github/webhooks", {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-github-event": name,
          "x-github-delivery": deliveryId,
          "x-hub-signature-256": await sign(secret, body),
        },
      });
    },
    api: (path, init = {}) =>
      Promise.resolve(
        envhooks.app.request(path, {
          method: init.method ?? (init.body === undefined ? "GET" : "POST"),
          headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
          ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        }),
      ),
    async close() {
      await envhooks.stop();
      if (ownsStore) await store.close();
    },
  };
}

/** Polls until `check` returns a value other than undefined (or false), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${last}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
