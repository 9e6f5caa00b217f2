import { readFileSync } from "node:fs";
import ipaddr from "ipaddr.js";
import ms from "ms";
import { z } from "zod";
import { parseSecretKey } from "../store/secret-box.ts";

const optionalText = z
  .string()
  .trim()
  .transform((value) => value || undefined)
  .optional();

/** A retention such as `30d` or `1y` (the `ms` package's syntax), in milliseconds: a day at least. */
const retention = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((text, ctx) => {
      const value = ms((text || fallback) as ms.StringValue);
      if (typeof value === "number" && value >= 86_400_000) return value;
      ctx.addIssue({
        code: "custom",
        message: "must be a duration of a day or more, such as 30d, 12w or 1y",
      });
      return z.NEVER;
    });

/** The operator's token opens every project: shorter ones are refused at start. */
const MIN_API_TOKEN_LENGTH = 32;

/** The environment variables envhooks reads. Probot's own names where Probot has one. */
export const envSchema = z.object({
  /** Port the HTTP server listens on. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Address to listen on; all interfaces when unset. */
  HOST: optionalText,
  /** pino log level. */
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** The GitHub App's id (from its settings page). */
  APP_ID: optionalText,
  /** The GitHub App's private key, PEM text (newlines may be written as \n). */
  PRIVATE_KEY: optionalText,
  /** A file holding the private key, instead of PRIVATE_KEY. */
  PRIVATE_KEY_PATH: optionalText,
  /** The secret GitHub signs webhooks with (X-Hub-Signature-256). */
  WEBHOOK_SECRET: optionalText,
  /** The GitHub App's OAuth client id (its settings page): "Sign in with GitHub" on the dashboard. */
  GITHUB_CLIENT_ID: optionalText,
  /** The GitHub App's OAuth client secret. */
  GITHUB_CLIENT_SECRET: optionalText,
  /**
   * A smee.io channel (https://smee.io/…) that GitHub sends webhooks to, forwarded to this envhooks:
   * local development without a public URL, as Probot does.
   */
  WEBHOOK_PROXY_URL: optionalText.refine((url) => !url || /^https?:\/\/[^/]/.test(url), {
    message: "must be an http:// or https:// URL (a smee.io channel)",
  }),
  /** GitHub Enterprise Server host (or a local fake GitHub in tests). */
  GHE_HOST: optionalText,
  /** Protocol for GHE_HOST. */
  GHE_PROTOCOL: z.enum(["http", "https"]).default("https"),
  /** `postgres://…`: use PostgreSQL instead of the embedded database. */
  DATABASE_URL: optionalText.refine((url) => !url || /^postgres(ql)?:\/\//.test(url), {
    message: "must start with postgres:// or postgresql://",
  }),
  /** Folder of the embedded database (used when DATABASE_URL is unset). */
  ENVHOOKS_DATA_DIR: z.string().default("./.data"),
  /**
   * The file /setup writes the registered App's credentials (and a generated operator token) to,
   * mode 600; `npm start` reads `.env` from the working folder.
   */
  ENVHOOKS_ENV_FILE: z.string().default(".env"),
  /**
   * The operator's bearer token for the HTTP API: at least 32 characters (`openssl rand -hex 32`).
   * The API answers 503 while it is unset.
   */
  ENVHOOKS_API_TOKEN: optionalText.refine((token) => !token || token.length >= MIN_API_TOKEN_LENGTH, {
    message: `must be at least ${MIN_API_TOKEN_LENGTH} characters: it opens every project; generate one with \`openssl rand -hex 32\``,
  }),
  /** Bearer token Prometheus sends to scrape `/metrics`; `/metrics` is open while it is unset. */
  ENVHOOKS_METRICS_TOKEN: optionalText,
  /** Where envhooks is reached from outside, e.g. https://envhooks.example.com: links on GitHub. */
  ENVHOOKS_PUBLIC_URL: optionalText.refine((url) => !url || /^https?:\/\/[^/]/.test(url), {
    message: "must be an http:// or https:// URL",
  }),
  /** `all` (HTTP and queue work), `web` (HTTP only) or `worker` (queue work, probes and metrics only). */
  ENVHOOKS_ROLE: z.enum(["all", "web", "worker"]).default("all"),
  /** Milliseconds to keep serving after SIGTERM with readiness false, so a load balancer stops sending first. */
  ENVHOOKS_SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(120_000).default(0),
  /**
   * Milliseconds the drain after the shutdown delay may take in all (requests, then deliveries in
   * flight); at the deadline the process ends, logging what it cut short. Grace periods are above it.
   */
  ENVHOOKS_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(20_000),
  /** `true` lets integrations send to loopback, private and link-local addresses (tests, private networks). */
  /**
   * Keys that encrypt integrations' secrets, URLs and headers at rest: 32 random bytes each, base64
   * or hex, separated by commas or spaces. The first encrypts, all decrypt (rotation). Unset: the
   * embedded store generates one into its data folder; PostgreSQL stores secrets plain, with a warning.
   */
  ENVHOOKS_SECRET_KEY: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const keys: Buffer[] = [];
      for (const [n, part] of (text ?? "")
        .split(/[\s,]+/)
        .filter(Boolean)
        .entries()) {
        try {
          keys.push(parseSecretKey(part));
        } catch (error) {
          ctx.addIssue({ code: "custom", message: `key ${n + 1} ${(error as Error).message}` });
        }
      }
      return keys;
    }),
  /**
   * How long GitHub payloads, delivered deliveries, finished GitHub updates and attempt bodies are
   * kept (failed deliveries: twice as long), e.g. `30d`.
   */
  ENVHOOKS_RETENTION: retention("30d"),
  /** How long activities are kept, with their deliveries, e.g. `1y`. */
  ENVHOOKS_ACTIVITY_RETENTION: retention("1y"),
  ENVHOOKS_ALLOW_PRIVATE_URLS: z
    .enum(["true", "false", "1", "0", ""])
    .default("false")
    .transform((value) => value === "true" || value === "1"),
  /**
   * The reverse proxies in front of envhooks, whose `X-Forwarded-For` entries sign-in throttling
   * believes: addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`), separated by commas or spaces.
   * Empty (the default): the connection's peer is the client, whatever header it sends.
   */
  ENVHOOKS_TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const entries = (text ?? "").split(/[\s,]+/).filter(Boolean);
      for (const entry of entries) {
        const valid = entry.includes("/") ? ipaddr.isValidCIDR(entry) : ipaddr.isValid(entry);
        if (!valid) {
          ctx.addIssue({
            code: "custom",
            message: `${entry} is neither an IP address nor a CIDR range (such as 10.0.0.0/8)`,
          });
        }
      }
      return entries;
    }),
});

export type Env = z.infer<typeof envSchema>;

/** Settings the rest of the program uses, derived from the environment once. */
export interface Settings {
  port: number;
  host: string | undefined;
  logLevel: Env["LOG_LEVEL"];
  github: {
    appId: string | undefined;
    privateKey: string | undefined;
    webhookSecret: string | undefined;
    /** REST API root, e.g. https://api.github.com or https://ghe.example.com/api/v3. */
    baseUrl: string | undefined;
    /** Web root, e.g. https://github.com or https://ghe.example.com: app registration and OAuth. */
    webUrl?: string | undefined;
    /** GitHub Actions' OIDC issuer, when not github.com's or GHE_HOST's (a local issuer in tests). */
    actionsOidcIssuer?: string | undefined;
    /** The App's OAuth client (sign in with GitHub). */
    clientId?: string | undefined;
    clientSecret?: string | undefined;
  };
  /** WEBHOOK_PROXY_URL: a smee.io channel forwarded to this envhooks. */
  webhookProxyUrl: string | undefined;
  /** ENVHOOKS_ENV_FILE: where /setup keeps what it generates. */
  envFile: string;
  database: { kind: "postgres"; url: string } | { kind: "pglite"; dataDir: string };
  apiToken: string | undefined;
  metricsToken: string | undefined;
  allowPrivateUrls: boolean;
  /** ENVHOOKS_SECRET_KEY: the first encrypts, all decrypt; empty when unset. */
  secretKeys: Buffer[];
  publicUrl: string | undefined;
  /** ENVHOOKS_TRUSTED_PROXIES: addresses and CIDR ranges; empty when unset. */
  trustedProxies: string[];
  role: Env["ENVHOOKS_ROLE"];
  shutdownDelayMs: number;
  drainTimeoutMs: number;
  /** ENVHOOKS_RETENTION and ENVHOOKS_ACTIVITY_RETENTION. */
  retention: { storedMs: number; activitiesMs: number };
}

/** Parses the environment; throws an error naming every bad variable. The only reader of process.env. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`Invalid environment variables:\n  ${problems.join("\n  ")}`);
  }
  const vars = parsed.data;
  if (vars.ENVHOOKS_ROLE !== "all" && !vars.DATABASE_URL) {
    throw new Error(
      `Invalid environment variables:\n  ENVHOOKS_ROLE: ${vars.ENVHOOKS_ROLE} needs DATABASE_URL (PostgreSQL); the embedded database serves one process, which must be "all".`,
    );
  }
  const privateKey =
    vars.PRIVATE_KEY?.replace(/\\n/g, "\n") ??
    (vars.PRIVATE_KEY_PATH ? readFileSync(vars.PRIVATE_KEY_PATH, "utf8") : undefined);
  return {
    port: vars.PORT,
    host: vars.HOST,
    logLevel: vars.LOG_LEVEL,
    github: {
      appId: vars.APP_ID,
      privateKey,
      webhookSecret: vars.WEBHOOK_SECRET,
      baseUrl: vars.GHE_HOST ? `${vars.GHE_PROTOCOL}://${vars.GHE_HOST}/api/v3` : undefined,
      webUrl: vars.GHE_HOST ? `${vars.GHE_PROTOCOL}://${vars.GHE_HOST}` : "https://github.com",
      clientId: vars.GITHUB_CLIENT_ID,
      clientSecret: vars.GITHUB_CLIENT_SECRET,
    },
    webhookProxyUrl: vars.WEBHOOK_PROXY_URL,
    envFile: vars.ENVHOOKS_ENV_FILE,
    database: vars.DATABASE_URL
      ? { kind: "postgres", url: vars.DATABASE_URL }
      : { kind: "pglite", dataDir: vars.ENVHOOKS_DATA_DIR },
    apiToken: vars.ENVHOOKS_API_TOKEN,
    metricsToken: vars.ENVHOOKS_METRICS_TOKEN,
    allowPrivateUrls: vars.ENVHOOKS_ALLOW_PRIVATE_URLS,
    secretKeys: vars.ENVHOOKS_SECRET_KEY,
    publicUrl: vars.ENVHOOKS_PUBLIC_URL?.replace(/\/+$/, ""),
    trustedProxies: vars.ENVHOOKS_TRUSTED_PROXIES,
    role: vars.ENVHOOKS_ROLE,
    shutdownDelayMs: vars.ENVHOOKS_SHUTDOWN_DELAY_MS,
    drainTimeoutMs: vars.ENVHOOKS_DRAIN_TIMEOUT_MS,
    retention: { storedMs: vars.ENVHOOKS_RETENTION, activitiesMs: vars.ENVHOOKS_ACTIVITY_RETENTION },
  };
}
