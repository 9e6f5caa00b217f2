import type { Delivery, DeliveryAttempt } from "../store/deliveries.ts";
import { maskUrl } from "./delivery-request.ts";
import { deliveryOrder, type Integration } from "./integration.ts";
import { MASK, maskCredentialHeaders, maskUrlCredentials } from "./mask-secrets.ts";

const iso = (date: Date | null) => (date ? new Date(date).toISOString() : null);

/**
 * What an integration is called wherever it appears: its `name`, or `type → host` (`webhook →
 * deploy.example.com`, `slack → hooks.slack.com`). Takes the API's JSON (`name`, `type`, `url`:
 * masked or an origin is enough) or anything shaped alike.
 */
export function integrationName(integration: {
  name?: string | null | undefined;
  type: string;
  url?: string | null | undefined;
}): string {
  if (integration.name) return integration.name;
  let host = "";
  try {
    host = integration.url ? new URL(integration.url).host : "";
  } catch {
    host = "";
  }
  return host ? `${integration.type} → ${host}` : integration.type;
}

/**
 * What the caller may do with the project: a reader (a `pull` user, a read token) is shown where
 * deliveries go, not the capability URL itself (a secret path, a token in the query) nor the
 * values of custom headers.
 */
export type Access = "read" | "write";

/**
 * An integration as the API shows it. Secrets never leave after creation: a webhook's signing
 * secret, header values and URL parts that look like credentials, a chat channel's URL (it holds
 * the channel's token) and HipChat's room token are masked. Readers see a webhook's URL as its
 * origin only, and no header value.
 */
export function presentIntegration(integration: Integration, access: Access = "write") {
  const settings = presentSettings(integration, access);
  return {
    id: integration.id,
    type: integration.type,
    /** As set; null: the default, `display_name`. */
    name: integration.name ?? null,
    /** What pages show: `name`, or `type → host`. */
    display_name: integrationName({ name: integration.name, type: integration.type, url: settings.url }),
    project: integration.projectKey,
    ...(integration.owner ? { owner: integration.owner } : {}),
    ...settings,
    ...deliveryOrder(integration),
    status: integration.status,
    disabled_reason: integration.disabledReason,
    failing_since: iso(integration.failingSince),
    last_datetime: iso(integration.lastDatetime),
    last_status: integration.lastStatus,
    last_reason: integration.lastReason,
    last_context: integration.lastContext,
    created_at: iso(integration.createdAt),
    updated_at: iso(integration.updatedAt),
  };
}

function presentSettings(integration: Integration, access: Access) {
  if (integration.type === "webhook") {
    const { headers, ...config } = integration.config;
    return {
      ...config,
      url: access === "write" ? maskUrlCredentials(config.url) : maskUrl(config.url),
      headers:
        access === "write"
          ? maskCredentialHeaders(headers)
          : Object.fromEntries(Object.keys(headers).map((name) => [name, MASK])),
      secret: integration.secret ? MASK : null,
      secret_rotation_ends_at:
        integration.previousSecretUntil && new Date(integration.previousSecretUntil) > new Date()
          ? iso(integration.previousSecretUntil)
          : null,
    };
  }
  if (integration.type === "hipchat") {
    return { ...integration.config, url: maskUrlCredentials(integration.config.url ?? ""), token: MASK };
  }
  return { url: maskUrl(integration.secret ?? ""), ...integration.config };
}

/**
 * A delivery in the log; with `attempts`, each attempt as sent and answered (signatures masked).
 * The log keeps a webhook's URL as its origin and a masked path; readers see every attempt's URL
 * so, and so does everyone an attempt logged before then that the background rewrite has not
 * reached yet (src/store/attempt-urls.ts).
 */
export function presentDelivery(delivery: Delivery, attempts?: DeliveryAttempt[], access: Access = "write") {
  return {
    id: delivery.id,
    integration_id: delivery.integrationId,
    activity_id: delivery.activityId,
    event: delivery.event,
    state: delivery.state,
    attempts: delivery.attempts,
    next_attempt_at: delivery.state === "pending" ? iso(delivery.nextAttemptAt) : null,
    last_status: delivery.lastStatus,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    updated_at: iso(delivery.updatedAt),
    test: delivery.test === true,
    ...(attempts
      ? {
          body: delivery.body,
          attempt_log: attempts.map((attempt) => ({
            attempt: attempt.attempt,
            started_at: iso(attempt.startedAt),
            duration_ms: attempt.durationMs,
            url:
              access === "write" && !attempt.mayHoldFullUrl
                ? maskUrlCredentials(attempt.url)
                : maskUrl(attempt.url),
            request_headers: maskCredentialHeaders(attempt.requestHeaders),
            status_code: attempt.statusCode,
            response_headers: attempt.responseHeaders,
            response_body: attempt.responseBody,
            error: attempt.error,
            succeeded: attempt.succeeded,
          })),
        }
      : {}),
  };
}
