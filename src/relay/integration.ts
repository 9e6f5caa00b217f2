import {
  type ChatConfig,
  type ChatType,
  DEFAULT_CONCURRENCY,
  type Ordering,
  type WebhookConfig,
} from "./integration.schema.ts";

export type IntegrationStatus = "active" | "paused" | "disabled";
export type IntegrationType = Integration["type"];

interface StoredIntegration {
  id: string;
  /** The project's key (`owner/repo`, lower case); `owner/*` for an owner-wide integration. */
  projectKey: string;
  /** An owner-wide integration's owner (lower case): it receives every repository's activities. */
  owner: string | null;
  /** What people call it; null shows `type → host` (integrationName in present-integration.ts). */
  name: string | null;
  /**
   * Webhooks: the signing secret. Chat: what grants posting, so it is never shown again: the
   * channel's webhook URL, or HipChat's room token.
   */
  secret: string | null;
  previousSecret: string | null;
  previousSecretUntil: Date | null;
  status: IntegrationStatus;
  disabledReason: string | null;
  failingSince: Date | null;
  lastDatetime: Date | null;
  lastStatus: string | null;
  lastReason: string | null;
  lastContext: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** An integration as stored: a webhook, or a chat channel. */
export type Integration = StoredIntegration &
  ({ type: "webhook"; config: WebhookConfig } | { type: ChatType; config: ChatConfig });
export type WebhookIntegration = Extract<Integration, { type: "webhook" }>;

/**
 * How the integration's deliveries leave: its `ordering` and `concurrency`, or the defaults for
 * settings stored before they existed. (With `integration` ordering, one goes at a time whatever
 * `concurrency` says.)
 */
export function deliveryOrder(integration: Pick<Integration, "type" | "config">): {
  ordering: Ordering;
  concurrency: number;
} {
  return {
    ordering: integration.config.ordering ?? "environment",
    concurrency: integration.config.concurrency ?? DEFAULT_CONCURRENCY[integration.type],
  };
}
