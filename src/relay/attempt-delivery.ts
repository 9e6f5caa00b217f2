import type { Logger } from "pino";
import type { Database, TransactionOptions } from "../store/database.ts";
import { type Delivery, recordAttempt } from "../store/deliveries.ts";
import { recordIntegrationAttempt, setIntegrationStatus } from "../store/integrations.ts";
import type { Integration } from "./integration.ts";
import { nextRetryDelayMs, parseRetryAfter } from "./retry-schedule.ts";
import type { Sender } from "./send-delivery.ts";
import { signDelivery } from "./sign-delivery.ts";

/**
 * The relay's own records (attempts, leases) commit without waiting for the disk: lost in a
 * database crash, a delivery is sent again with the same webhook-id, which receivers expect.
 */
export const BOOKKEEPING: TransactionOptions = { durable: false };

/** An integration that keeps failing for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3600 * 1000;

export interface AttemptDeps {
  db: Database;
  sender: Sender;
  log: Logger;
  /** For the User-Agent. */
  version: string;
  now?: () => Date;
}

export interface AttemptOutcome {
  state: Delivery["state"];
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  /** The integration was disabled by this attempt (410 Gone, or failing for 5 days). */
  disabled: boolean;
}

/** The request headers of a delivery: content type, user agent, the integration's own, and signatures. */
export function deliveryHeaders(
  integration: Integration,
  delivery: Pick<Delivery, "id" | "event" | "body">,
  { version, now }: { version: string; now: Date },
): Record<string, string> {
  const shipway = integration.config.format === "shipway";
  const rotating = integration.previousSecretUntil && new Date(integration.previousSecretUntil) > now;
  return {
    ...integration.config.headers,
    "content-type": "application/json",
    // Shipway receivers look for their own prefix.
    "user-agent": `${shipway ? `Shipway-Hookshot/${version} ` : ""}Envhooks-Hookshot/${version}`,
    ...signDelivery({
      deliveryId: delivery.id,
      event: delivery.event,
      body: delivery.body,
      timestamp: Math.floor(now.getTime() / 1000),
      secret: integration.secret,
      previousSecret: rotating ? integration.previousSecret : null,
      shipway,
    }),
  };
}

/**
 * Sends a delivery once and records the attempt with its consequences: delivered; retried on the
 * integration's schedule (or after Retry-After); failed for good when the schedule is exhausted;
 * the integration disabled on 410 Gone or after failing for five days.
 */
export async function attemptDelivery(
  deps: AttemptDeps,
  integration: Integration,
  delivery: Delivery,
  { retry = true }: { retry?: boolean } = {},
): Promise<AttemptOutcome> {
  const startedAt = deps.now?.() ?? new Date();
  const requestHeaders = deliveryHeaders(integration, delivery, { version: deps.version, now: startedAt });
  const { url, timeout_ms: timeoutMs, retry_schedule: schedule } = integration.config;
  const result = await deps.sender.send({ url, headers: requestHeaders, body: delivery.body, timeoutMs });

  const gone = result.statusCode === 410;
  const delay =
    result.ok || gone || !retry
      ? undefined
      : nextRetryDelayMs(delivery.failures + 1, schedule, {
          retryAfterMs: parseRetryAfter(result.retryAfter, Date.now()),
        });
  const retryAt = delay === undefined ? undefined : new Date(Date.now() + delay);

  const outcome = await deps.db.transaction(async (tx) => {
    const state = await recordAttempt(tx, delivery, { startedAt, url, requestHeaders, result }, retryAt);
    const { failingSince } = await recordIntegrationAttempt(tx, integration.id, {
      ok: result.ok,
      reason: result.ok ? `HTTP ${result.statusCode}` : (result.error ?? "failed"),
      context: delivery.body,
    });
    let disabled: string | undefined;
    if (gone) disabled = "the receiver answered 410 Gone";
    else if (failingSince && Date.now() - new Date(failingSince).getTime() > DISABLE_AFTER_FAILING_MS) {
      disabled = "every delivery failed for 5 days";
    }
    if (disabled) await setIntegrationStatus(tx, integration.id, "disabled", disabled);
    return { state, disabled };
  }, BOOKKEEPING);

  const log = deps.log.child({ delivery: delivery.id, integration: integration.id });
  if (result.ok) log.debug({ status: result.statusCode, ms: result.durationMs }, "delivered");
  else
    log.warn(
      { status: result.statusCode, err: result.error, retryAt, state: outcome.state },
      "delivery attempt failed",
    );
  if (outcome.disabled) log.warn({ reason: outcome.disabled }, "integration disabled");

  return {
    state: outcome.state,
    ok: result.ok,
    statusCode: result.statusCode,
    error: result.error,
    disabled: Boolean(outcome.disabled),
  };
}
