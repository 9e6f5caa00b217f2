import type { Logger } from "pino";
import type { Metrics } from "../metrics.ts";
import type { Database } from "../store/database.ts";
import {
  type AttemptRecord,
  type Delivery,
  type RecordedAttempt,
  settleUnrecordedAttempt,
} from "../store/deliveries.ts";
import { setIntegrationStatus } from "../store/integrations.ts";
import { type RecordAttempt, recordEachAttempt } from "./attempt-recorder.ts";
import { deliveryRequest } from "./delivery-request.ts";
import type { Integration } from "./integration.ts";
import type { RaiseDeliveryAlert } from "./raise-alert.ts";
import { nextRetryDelayMs, parseRetryAfter } from "./retry-schedule.ts";
import type { Sender } from "./send-delivery.ts";

/** An integration that keeps failing for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3600 * 1000;

export interface AttemptDeps {
  db: Database;
  sender: Sender;
  log: Logger;
  /** For the User-Agent. */
  version: string;
  now?: () => Date;
  metrics?: Metrics | undefined;
  /** How attempts are recorded (the relay records its drains' attempts together); by default each alone. */
  recordAttempt?: RecordAttempt;
  /** Records failure alerts (an integration disabled, a delivery failed for good); none without it. */
  alerts?: RaiseDeliveryAlert | undefined;
}

export interface AttemptOutcome {
  state: Delivery["state"];
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  /** The integration was disabled by this attempt (410 Gone, or failing for 5 days). */
  disabled: boolean;
  /** The record gave up the lease (`releaseLeaseOf`): kept while the delivery waits for a retry. */
  released: boolean;
  /** Released: a delivery of the integration may go after all, and nobody holds the lease. */
  dueAfterRelease: boolean;
  /** When the delivery is tried again (it stays pending until then). */
  retryAt: Date | undefined;
}

/**
 * Sends a delivery once and records the attempt with its consequences: delivered; retried on the
 * integration's schedule (or after Retry-After); failed for good when the schedule is exhausted;
 * the integration disabled on 410 Gone or after failing for five days. An attempt cut short by a
 * shutdown is none of these: the delivery stays pending, due at once, for the next process.
 */
export async function attemptDelivery(
  deps: AttemptDeps,
  integration: Integration,
  delivery: Delivery,
  {
    retry = true,
    releaseLeaseOf,
    onAnswered,
  }: {
    retry?: boolean;
    /**
     * Asked once the receiver answered: the owner whose lease on the integration the record gives
     * up (unless the delivery waits for a retry), or undefined to keep it.
     */
    releaseLeaseOf?: () => string | undefined;
    /** Called once the receiver answered (or the send failed), before the attempt is recorded. */
    onAnswered?: () => void;
  } = {},
): Promise<AttemptOutcome> {
  const startedAt = deps.now?.() ?? new Date();
  const request = deliveryRequest(integration, delivery, { version: deps.version, now: startedAt });
  const { timeout_ms: timeoutMs, retry_schedule: schedule } = integration.config;
  const result = await deps.sender.send({
    url: request.url,
    headers: request.headers,
    body: delivery.body,
    timeoutMs,
    insecureTls: integration.type === "webhook" && integration.config.insecure_ssl === true,
  });
  const releasing = releaseLeaseOf?.();
  onAnswered?.();

  // A test (`…/test`, Kudu's publish) only reports: it neither disables the integration nor counts.
  const test = delivery.test === true;
  const gone = result.statusCode === 410 && !test;
  // A rate limit is the receiver asking to wait, not failing: it moves neither the schedule nor
  // the five-day clock, and the attempt after it comes when the receiver said.
  const rateLimited = result.statusCode === 429;
  // Interrupted, the receiver did not fail: the attempt neither moves the schedule nor counts
  // toward disabling, and the delivery goes again (same webhook-id) as soon as a process can send.
  const interrupted = result.interrupted === true;
  const retryAfterMs = parseRetryAfter(
    result.retryAfter ?? retryAfterInBody(result.responseBody),
    Date.now(),
  );
  // Without retries (a test), an interrupted attempt is not sent again either: nobody waits for it.
  const delay = !retry
    ? undefined
    : interrupted
      ? 0
      : result.ok || gone
        ? undefined
        : rateLimited
          ? nextRetryDelayMs(1, schedule, { retryAfterMs })
          : nextRetryDelayMs(delivery.failures + 1, schedule, { retryAfterMs });
  const retryAt = delay === undefined ? undefined : new Date(Date.now() + delay);
  const url = request.loggedUrl;
  const requestHeaders = request.headers;

  const attempt: AttemptRecord = {
    delivery,
    startedAt,
    url,
    requestHeaders,
    result,
    rateLimited,
    reason: result.ok ? `HTTP ${result.statusCode}` : (result.error ?? "failed"),
    retryAt,
    releaseLeaseOf: releasing,
  };
  const { state, failingSince, released, dueAfterRelease } = await recordOrSettle(deps, attempt);
  let disabled: string | undefined;
  if (gone) disabled = "the receiver answered 410 Gone";
  else if (
    !test &&
    !interrupted &&
    failingSince &&
    Date.now() - new Date(failingSince).getTime() > DISABLE_AFTER_FAILING_MS
  ) {
    disabled = "every delivery failed for 5 days";
  }
  if (disabled) await setIntegrationStatus(deps.db, integration.id, "disabled", disabled);
  if (!test) await raiseAlerts(deps, integration, delivery, { disabled, failed: state === "failed", result });

  const type = integration.type;
  // An interrupted attempt's duration is the shutdown's, not the receiver's.
  if (!interrupted && !test)
    deps.metrics?.attemptSeconds.observe({ integration_type: type }, result.durationMs / 1000);
  if (!test)
    deps.metrics?.deliveries.inc({
      integration_type: type,
      outcome: result.ok
        ? "delivered"
        : interrupted
          ? "interrupted"
          : rateLimited
            ? "rate_limited"
            : state === "failed"
              ? "failed"
              : "retrying",
    });
  const log = deps.log.child({ delivery: delivery.id, integration: integration.id });
  if (interrupted)
    log.warn(
      { ms: result.durationMs },
      retryAt
        ? "delivery attempt interrupted by the shutdown; sent again later"
        : "delivery attempt interrupted by the shutdown; not sent again (a test)",
    );
  else if (result.ok) log.debug({ status: result.statusCode, ms: result.durationMs }, "delivered");
  else log.warn({ status: result.statusCode, err: result.error, retryAt, state }, "delivery attempt failed");
  if (disabled) log.warn({ reason: disabled }, "integration disabled");

  return {
    state,
    ok: result.ok,
    statusCode: result.statusCode,
    error: result.error,
    disabled: Boolean(disabled),
    released,
    dueAfterRelease,
    retryAt,
  };
}

/**
 * Records the attempt; when the log refuses it (for whatever reason), the delivery still moves on
 * as the attempt says (delivered, or due at its retry): left as it was, it would be due at once
 * and sent again and again, holding back its lane. Only when even that fails does the error reach
 * the drain, which stops (and is tried again later).
 */
async function recordOrSettle(deps: AttemptDeps, attempt: AttemptRecord): Promise<RecordedAttempt> {
  const record = deps.recordAttempt ?? recordEachAttempt(deps.db);
  try {
    return await record(attempt);
  } catch (error) {
    const log = deps.log.child({
      delivery: attempt.delivery.id,
      integration: attempt.delivery.integrationId,
    });
    log.error({ err: error }, "could not record a delivery attempt; the delivery moves on without it");
    const why = `envhooks could not record this attempt (${attempt.reason}): ${(error as Error)?.message ?? error}`;
    try {
      return await settleUnrecordedAttempt(deps.db, attempt, why);
    } catch (settling) {
      log.error({ err: settling }, "could not settle a delivery after its attempt");
      throw error;
    }
  }
}

/** Discord says how long to wait in its JSON answer too: `{ "retry_after": 1.5 }` (seconds). */
function retryAfterInBody(body: string | null): string | undefined {
  if (!body?.includes("retry_after")) return undefined;
  try {
    const seconds = (JSON.parse(body) as { retry_after?: unknown }).retry_after;
    return typeof seconds === "number" && seconds >= 0 ? String(Math.ceil(seconds)) : undefined;
  } catch {
    return undefined;
  }
}

/** A delivery that failed for good, and an integration just disabled, each become an alert. */
async function raiseAlerts(
  deps: AttemptDeps,
  integration: Integration,
  delivery: Delivery,
  outcome: {
    disabled: string | undefined;
    failed: boolean;
    result: { error: string | null; statusCode: number | null };
  },
): Promise<void> {
  if (!deps.alerts) return;
  try {
    if (outcome.failed) {
      await deps.alerts({
        kind: "failed",
        integration,
        deliveryId: delivery.id,
        activityId: delivery.activityId,
        attempts: delivery.failures + 1,
        error: outcome.result.error ?? `HTTP ${outcome.result.statusCode}`,
      });
    }
    if (outcome.disabled) {
      await deps.alerts({
        kind: "disabled",
        integration,
        activityId: delivery.activityId,
        reason: outcome.disabled,
      });
    }
  } catch (error) {
    // The attempt is recorded already: a lost alert must not send the delivery again.
    deps.log.error({ err: error, integration: integration.id }, "could not record a failure alert");
  }
}
