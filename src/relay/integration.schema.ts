import { z } from "zod";

/**
 * Seconds to wait after each failed attempt, like Svix's schedule: the first attempt is immediate,
 * then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. Seven retries: more than Divshot's five.
 */
export const DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

/** Headers envhooks sets itself; an integration's own `headers` cannot replace them. */
const RESERVED_HEADER =
  /^(host|content-type|content-length|user-agent|connection|transfer-encoding|x-envhooks-.*|webhook-.*|x-shipway-.*)$/i;

const pattern = z.string().min(1).max(200);

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "must be a valid HTTP header name")
  .refine((name) => !RESERVED_HEADER.test(name), "is set by envhooks and cannot be overridden");

export const ACTIVITY_STATES = ["pending", "in_progress", "complete", "cancelled"] as const;

export const WEBHOOK_FORMATS = ["platformsh", "dockership", "kudu", "divshot", "shipway"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** What a webhook integration can be configured with. */
const webhookFields = {
  /** The receiver: an http or https URL. */
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).max(2000),
  /** Activity types to send, with `*` globs (`environment.*`). */
  events: z.array(pattern).min(1).max(50),
  /** Activity states to send. */
  states: z.array(z.enum(ACTIVITY_STATES)).min(1),
  /** Environment names to send, with `*` globs (`feature/*`, `pr-*`). */
  environments: z.array(pattern).min(1).max(50),
  /** Environment names never to send, with `*` globs; wins over `environments`. */
  excluded_environments: z.array(pattern).max(50),
  /** The payload dialect receivers expect. */
  format: z.enum(WEBHOOK_FORMATS),
  /** Extra headers sent with every delivery. */
  headers: z.record(headerName, z.string().max(2000)),
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
};

export const createWebhookSchema = z
  .object({
    type: z.literal("webhook"),
    url: webhookFields.url,
    events: webhookFields.events.default(["*"]),
    states: webhookFields.states.default(["complete"]),
    environments: webhookFields.environments.default(["*"]),
    excluded_environments: webhookFields.excluded_environments.default([]),
    format: webhookFields.format.default("platformsh"),
    headers: webhookFields.headers.default({}),
    timeout_ms: webhookFields.timeout_ms.default(15_000),
    retry_schedule: webhookFields.retry_schedule.default(DEFAULT_RETRY_SCHEDULE),
    secret: webhookFields.secret.optional(),
  })
  .strict();

/** `POST …/integrations`: a discriminated union on `type` (chat types join it later). */
export const createIntegrationSchema = z.discriminatedUnion("type", [createWebhookSchema]);
export type CreateIntegration = z.infer<typeof createIntegrationSchema>;

/** `PATCH …/integrations/{id}`: any field but `type`; a new `secret` starts a 24 h rotation. */
export const updateIntegrationSchema = z
  .object({
    url: webhookFields.url,
    events: webhookFields.events,
    states: webhookFields.states,
    environments: webhookFields.environments,
    excluded_environments: webhookFields.excluded_environments,
    format: webhookFields.format,
    headers: webhookFields.headers,
    timeout_ms: webhookFields.timeout_ms,
    retry_schedule: webhookFields.retry_schedule,
    secret: webhookFields.secret,
  })
  .partial()
  .strict()
  .refine((body) => Object.keys(body).length > 0, "send at least one field to change");
export type UpdateIntegration = z.infer<typeof updateIntegrationSchema>;

/** An integration's settings as stored (everything but its secrets). */
export type WebhookConfig = Omit<z.infer<typeof createWebhookSchema>, "type" | "secret">;
