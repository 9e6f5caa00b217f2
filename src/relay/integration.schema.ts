import { z } from "zod";

/**
 * Seconds to wait after each failed attempt, like Svix's schedule: the first attempt is immediate,
 * then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. Seven retries: more than Divshot's five.
 */
export const DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

/** Headers envhooks sets itself; an integration's own `headers` cannot replace them. */
const RESERVED_HEADER =
  /^(host|content-type|content-length|user-agent|connection|transfer-encoding|x-envhooks-.*|webhook-.*|x-shipway-.*)$/i;

/** Limits on filter patterns: the matcher is linear, and these keep each activity's check small. */
export const PATTERN_LIMITS = { length: 100, wildcards: 10, patterns: 50 } as const;

/** A filter pattern: `*` matches any run of characters, `?` one. */
const pattern = z
  .string()
  .min(1)
  .max(PATTERN_LIMITS.length, `must be at most ${PATTERN_LIMITS.length} characters`)
  .refine(
    (text) => (text.match(/[*?]/g)?.length ?? 0) <= PATTERN_LIMITS.wildcards,
    `must have at most ${PATTERN_LIMITS.wildcards} wildcards (* and ?); one * already matches any run of characters`,
  );
const patterns = z
  .array(pattern)
  .max(PATTERN_LIMITS.patterns, `must list at most ${PATTERN_LIMITS.patterns} patterns`);

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "must be a valid HTTP header name")
  .refine((name) => !RESERVED_HEADER.test(name), "is set by envhooks and cannot be overridden");

export const ACTIVITY_STATES = ["pending", "in_progress", "complete", "cancelled"] as const;
export const ACTIVITY_RESULTS = ["success", "failure"] as const;

/**
 * Which deliveries of an integration must leave in turn: `environment`, each environment's in
 * turn while different environments' go in parallel; `integration`, all in turn, one at a time;
 * `none`, any order, in parallel.
 */
export const ORDERINGS = ["environment", "integration", "none"] as const;
export type Ordering = (typeof ORDERINGS)[number];

export const CHAT_TYPES = ["slack", "discord", "teams", "mattermost", "googlechat", "hipchat"] as const;
export type ChatType = (typeof CHAT_TYPES)[number];

/** Deliveries one integration may have in flight at once, at most. */
export const MAX_CONCURRENCY = 64;

/**
 * Deliveries in flight at once unless set. A webhook receiver takes 16. A chat channel takes far
 * fewer: Slack's incoming webhooks allow about one message a second per channel
 * (https://docs.slack.dev/apis/web-api/rate-limits), Discord's about 30 a minute per channel
 * (https://discord.com/developers/docs/topics/rate-limits), Google Chat's one write a second per
 * space (https://developers.google.com/workspace/chat/limits) and HipChat's 100 in 5 minutes per
 * token: one at a time, each retried after the service's Retry-After when it answers 429. Teams'
 * webhooks take a few a second (2); Mattermost is self-hosted, its rate limit off by default or
 * 10 a second (4).
 */
export const DEFAULT_CONCURRENCY: Record<"webhook" | ChatType, number> = {
  webhook: 16,
  slack: 1,
  discord: 1,
  teams: 2,
  mattermost: 4,
  googlechat: 1,
  hipchat: 1,
};

export const WEBHOOK_FORMATS = ["platformsh", "dockership", "kudu", "divshot", "shipway"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/**
 * What people call an integration ("Staging deploys"): 1 to 100 characters, no control character.
 * Unset, pages and the API show `type → host` (integrationName in present-integration.ts).
 */
export const integrationNameSchema = z
  .string()
  .trim()
  .min(1, "must not be empty (leave it out for the default name)")
  .max(100, "must be at most 100 characters")
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  .refine((text) => !/[\u0000-\u001f\u007f]/.test(text), "must not contain control characters");

/** What a webhook integration can be configured with. */
const webhookFields = {
  /** The receiver: an http or https URL. */
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).max(2000),
  /** Activity types to send, with `*` globs (`environment.*`). */
  events: patterns.min(1),
  /** Activity states to send. */
  states: z.array(z.enum(ACTIVITY_STATES)).min(1),
  /**
   * Activity results to send (`["failure"]` for a failures-only channel); unset, every result. An
   * activity with no result yet (pending, in progress) does not match a `results` filter.
   */
  results: z.array(z.enum(ACTIVITY_RESULTS)).min(1),
  /**
   * Owner-wide integrations: the repositories to send, with `*` globs — a repository name
   * (`api-*`), or `owner/name` when the pattern has a slash. Unset, every repository.
   */
  projects: patterns.min(1),
  /** Environment names to send, with `*` globs (`feature/*`, `pr-*`). */
  environments: patterns.min(1),
  /** Environment names never to send, with `*` globs; wins over `environments`. */
  excluded_environments: patterns,
  /** The payload dialect receivers expect. */
  format: z.enum(WEBHOOK_FORMATS),
  /** Extra headers sent with every delivery. */
  headers: z.record(headerName, z.string().max(2000)),
  /** Skip TLS certificate verification for this receiver only (GitHub's and Kudu's `insecure_ssl`). */
  insecure_ssl: z.boolean(),
  /** How long a receiver has to answer, in milliseconds. */
  timeout_ms: z.number().int().min(100).max(60_000),
  /** Seconds to wait after each failure before the next attempt; its length is the number of retries. */
  retry_schedule: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(7 * 86_400),
    )
    .min(5)
    .max(20),
  /** The signing secret (`whsec_…` or any 16+ characters); generated when omitted. Never shown again. */
  secret: z.string().min(16).max(200),
  /** Which deliveries leave in turn: `environment` (the default), `integration` (all) or `none`. */
  ordering: z.enum(ORDERINGS),
  /** Deliveries in flight at once, at most (1 to 64); with `integration` ordering, always one. */
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY),
};

/** The filters and delivery settings every integration type has. */
const commonFields = {
  name: integrationNameSchema.optional(),
  events: webhookFields.events.default(["*"]),
  states: webhookFields.states.default(["complete"]),
  results: webhookFields.results.optional(),
  projects: webhookFields.projects.optional(),
  environments: webhookFields.environments.default(["*"]),
  excluded_environments: webhookFields.excluded_environments.default([]),
  timeout_ms: webhookFields.timeout_ms.default(15_000),
  retry_schedule: webhookFields.retry_schedule.default(DEFAULT_RETRY_SCHEDULE),
  ordering: webhookFields.ordering.default("environment"),
};

/** What chat integrations add: HipChat's room and token, Google Chat's threads. */
const chatFields = {
  /** The HipChat room's id or name. */
  room: z.string().min(1).max(100),
  /** A HipChat room notification token (sent as `Authorization: Bearer`); kept as a secret. */
  token: z.string().min(1).max(200),
  /** Google Chat: reply in one thread per environment. */
  thread_by_environment: z.boolean(),
};

export const createWebhookSchema = z
  .object({
    type: z.literal("webhook"),
    url: webhookFields.url,
    ...commonFields,
    concurrency: webhookFields.concurrency.default(DEFAULT_CONCURRENCY.webhook),
    format: webhookFields.format.default("platformsh"),
    headers: webhookFields.headers.default({}),
    insecure_ssl: webhookFields.insecure_ssl.default(false),
    secret: webhookFields.secret.optional(),
  })
  .strict();

/** A channel's incoming-webhook URL: it holds the channel's token, so it is kept as a secret. */
const channelUrl = webhookFields.url;

const chatWebhookSchema = <T extends Exclude<ChatType, "hipchat">>(type: T) =>
  z
    .object({
      type: z.literal(type),
      url: channelUrl,
      ...commonFields,
      concurrency: webhookFields.concurrency.default(DEFAULT_CONCURRENCY[type]),
    })
    .strict();

const createChatSchemas = [
  chatWebhookSchema("slack"),
  chatWebhookSchema("discord"),
  chatWebhookSchema("teams"),
  chatWebhookSchema("mattermost"),
  z
    .object({
      type: z.literal("googlechat"),
      url: channelUrl,
      thread_by_environment: chatFields.thread_by_environment.default(true),
      ...commonFields,
      concurrency: webhookFields.concurrency.default(DEFAULT_CONCURRENCY.googlechat),
    })
    .strict(),
  z
    .object({
      type: z.literal("hipchat"),
      /** The HipChat server, e.g. `https://hipchat.example.com`. */
      url: webhookFields.url,
      room: chatFields.room,
      token: chatFields.token,
      ...commonFields,
      concurrency: webhookFields.concurrency.default(DEFAULT_CONCURRENCY.hipchat),
    })
    .strict(),
] as const;

/** `POST …/integrations`: a discriminated union on `type`. */
export const createIntegrationSchema = z.discriminatedUnion("type", [
  createWebhookSchema,
  ...createChatSchemas,
]);
export type CreateIntegration = z.infer<typeof createIntegrationSchema>;

/** Settings a chat integration keeps beside its secret (the channel URL, or HipChat's token). */
export interface ChatConfig {
  events: string[];
  states: Array<(typeof ACTIVITY_STATES)[number]>;
  results?: Array<(typeof ACTIVITY_RESULTS)[number]> | undefined;
  projects?: string[] | undefined;
  environments: string[];
  excluded_environments: string[];
  timeout_ms: number;
  retry_schedule: number[];
  /** Integrations stored before these were settable have none: see deliveryOrder(). */
  ordering?: Ordering;
  concurrency?: number;
  /** HipChat: the server's URL; the others keep their URL as the secret. */
  url?: string;
  room?: string;
  thread_by_environment?: boolean;
}

/**
 * `PATCH …/integrations/{id}`: any field of the integration's type but `type`; a new webhook
 * `secret` starts a 24 h rotation. Fields of another type are refused by the route.
 */
export const updateIntegrationSchema = z
  .object({
    /** A new name; null goes back to the default (`type → host`). */
    name: integrationNameSchema.nullable(),
    url: webhookFields.url,
    events: webhookFields.events,
    states: webhookFields.states,
    /** null: every result again. */
    results: webhookFields.results.nullable(),
    /** null: every repository again. */
    projects: webhookFields.projects.nullable(),
    environments: webhookFields.environments,
    excluded_environments: webhookFields.excluded_environments,
    format: webhookFields.format,
    headers: webhookFields.headers,
    insecure_ssl: webhookFields.insecure_ssl,
    timeout_ms: webhookFields.timeout_ms,
    retry_schedule: webhookFields.retry_schedule,
    ordering: webhookFields.ordering,
    concurrency: webhookFields.concurrency,
    secret: webhookFields.secret,
    ...chatFields,
  })
  .partial()
  .strict()
  .refine((body) => Object.keys(body).length > 0, "send at least one field to change");
export type UpdateIntegration = z.infer<typeof updateIntegrationSchema>;

/**
 * An integration's settings as stored (everything but its secrets). `ordering` and `concurrency`
 * may be missing from settings written before they existed: see deliveryOrder().
 */
export type WebhookConfig = Omit<
  z.infer<typeof createWebhookSchema>,
  "type" | "secret" | "ordering" | "concurrency" | "name"
> &
  Partial<Pick<z.infer<typeof createWebhookSchema>, "ordering" | "concurrency">>;
