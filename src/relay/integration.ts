import type { WebhookConfig } from "./integration.schema.ts";

export type IntegrationStatus = "active" | "paused" | "disabled";

/** An integration as stored. */
export interface Integration {
  id: string;
  projectKey: string;
  type: "webhook";
  config: WebhookConfig;
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
