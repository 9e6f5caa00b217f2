import { createHmac, timingSafeEqual } from "node:crypto";
import { type Context, Hono } from "hono";
import type { RequestIdVariables } from "hono/request-id";
import type { Logger } from "pino";
import { type Delivery, keptHeaders } from "../../intake/accept-delivery.ts";
import type { InstallationEvent } from "../../intake/repository-events.ts";
import { InvalidPayload, parseGithubPayload } from "../../lifecycle/github-event.schema.ts";
import {
  HANDLED_EVENTS,
  type IssueCommentPayload,
  isEnvhooksCommand,
  REPOSITORY_ACTIONS,
} from "../../lifecycle/github-event.ts";
import type { Metrics } from "../../metrics.ts";
import { HttpError } from "../http-error.ts";

/** GitHub caps webhook payloads at 25 MB: https://docs.github.com/en/webhooks/webhook-events-and-payloads */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
/** A body over this is large: only a few of them are read at once (most deliveries are far smaller). */
export const LARGE_WEBHOOK_BYTES = 1024 * 1024;
/** How many large bodies are read and checked at once, process-wide (4 × 25 MB at most). */
export const MAX_LARGE_WEBHOOK_BODIES = 4;
/**
 * Unverified bytes held at once, process-wide, over every body being read: past it, 503. Bodies over
 * 1 MB may not take the last fifth of it, kept for ordinary deliveries.
 */
export const MAX_UNVERIFIED_BYTES = 100 * 1024 * 1024;
/**
 * How long a body may take to arrive. GitHub gives up on a delivery after 10 s
 * (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/troubleshooting-webhooks#timed-out),
 * so a body still arriving after 30 s is no delivery of GitHub's: 408, and its place is freed.
 */
export const WEBHOOK_READ_TIMEOUT_MS = 30_000;
/** The Retry-After of a body refused while others are read (seconds). */
const BUSY_RETRY_AFTER_SECONDS = 10;

/** What unverified bodies may hold and how long they may take (tests make them small). */
export interface WebhookLimits {
  /** Unverified bytes held at once, process-wide (MAX_UNVERIFIED_BYTES). */
  unverifiedBytes: number;
  /** How long one body may take to arrive (WEBHOOK_READ_TIMEOUT_MS). */
  readTimeoutMs: number;
}

export interface GithubWebhookDeps {
  /** WEBHOOK_SECRET; the route answers 503 while it is unset. */
  secret: string | undefined;
  /** Stores the delivery and schedules it, committed before it resolves. */
  accept: (delivery: Delivery) => Promise<"accepted" | "duplicate">;
  log: Logger;
  metrics?: Metrics | undefined;
  /**
   * An `installation` or `installation_repositories` delivery: the options of the repositories it
   * names may have changed, those removed (or all, when it is deleted) are deactivated, and those
   * added are resynced. Nothing is stored in the inbox for it; it resolves once what it changes in
   * the store is committed.
   */
  onInstallation?: ((payload: InstallationEvent) => Promise<unknown>) | undefined;
  /** Production's limits by default. */
  limits?: Partial<WebhookLimits> | undefined;
  /**
   * Whether a `workflow_run`/`workflow_job` event of run `runId` in the project may concern
   * envhooks (a run it started, or one it may have started: see `mayConcernEnvhooks`); the others,
   * every CI run of every repository, are acknowledged without being stored. All are stored without it.
   */
  runMayConcernEnvhooks?: ((projectKey: string, runId: number) => Promise<boolean>) | undefined;
  /**
   * Whether the project waits for checks (`wait_for_checks`): its `check_suite`, `check_run` and
   * `status` events are stored then; every other repository's are acknowledged without being stored.
   */
  projectWaitsForChecks?: ((projectKey: string) => Promise<boolean>) | undefined;
}

/**
 * `POST /api/github/webhooks`: verifies GitHub's signature, stores the delivery in the inbox and
 * answers 202 once it is committed; the lifecycle runs afterwards. Nothing of a refused request is
 * stored, and its payload is never logged.
 */
export function githubWebhookRoutes({
  secret,
  accept,
  log,
  metrics,
  onInstallation,
  runMayConcernEnvhooks,
  projectWaitsForChecks,
  limits: { unverifiedBytes = MAX_UNVERIFIED_BYTES, readTimeoutMs = WEBHOOK_READ_TIMEOUT_MS } = {},
}: GithubWebhookDeps) {
  // The series an unchecked request can add exist from the start, so none ever appears.
  for (const outcome of Object.values(OUTCOMES)) metrics?.githubEvents.inc({ event: OTHER, outcome }, 0);
  // Anyone can post a body: until its signature is checked it is a stranger's, so what a stranger
  // can make the process hold is bounded (twelve 25 MB bodies at once doubled the RSS): in bytes,
  // in large bodies at once, and in time.
  const held: Held = {
    large: new Slots(MAX_LARGE_WEBHOOK_BODIES),
    bytes: new ByteBudget(unverifiedBytes),
    readTimeoutMs,
  };
  return new Hono<Env>().post("/api/github/webhooks", async function receiveGithubWebhook(c) {
    try {
      const { outcome, response } = await receive(c);
      metrics?.githubEvents.inc({ event: c.get("metricsEvent") ?? OTHER, outcome });
      return response;
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      const outcome = OUTCOMES[status] ?? "error";
      metrics?.githubEvents.inc({ event: c.get("metricsEvent") ?? OTHER, outcome });
      throw error;
    }
  });

  async function receive(c: Context<Env>): Promise<{ outcome: string; response: Response }> {
    if (!secret) {
      throw new HttpError(
        503,
        "webhook_secret_missing",
        "Set WEBHOOK_SECRET to the GitHub App's webhook secret.",
      );
    }
    const name = c.req.header("x-github-event");
    const deliveryId = c.req.header("x-github-delivery");
    const signature = c.req.header("x-hub-signature-256");
    const missing = [!name && "X-GitHub-Event", !deliveryId && "X-GitHub-Delivery"].filter(Boolean);
    if (!name || !deliveryId) {
      throw new HttpError(400, "missing_header", `Missing header: ${missing.join(", ")}.`, {
        headers: missing,
      });
    }
    if (!signature) {
      throw new HttpError(
        401,
        "signature_missing",
        "X-Hub-Signature-256 is missing: sign deliveries with WEBHOOK_SECRET.",
      );
    }
    const body = await readVerified(c, secret, signature, held).catch((error: unknown) => {
      if (error instanceof HttpError && error.code === "signature_mismatch") {
        // The delivery id and event name only: a refused payload is never logged.
        log.warn(
          { requestId: c.get("requestId"), delivery: deliveryId, event: name },
          "webhook refused: signature does not match",
        );
      }
      if (error instanceof HttpError && error.code === "busy") {
        log.warn(
          { requestId: c.get("requestId"), delivery: deliveryId, event: name },
          "webhook refused for now: other bodies are being read",
        );
      }
      if (error instanceof HttpError && error.code === "request_timeout") {
        log.warn(
          { requestId: c.get("requestId"), delivery: deliveryId, event: name },
          "webhook refused: its body took too long to arrive",
        );
      }
      throw error;
    });
    // Only now is the header known to come from GitHub: a label from it cannot grow /metrics at will.
    c.set("metricsEvent", METRIC_EVENTS.has(name) ? name : OTHER);
    if (onInstallation && INSTALLATION_EVENTS.has(name)) {
      const payload = parsePayload(name, body) as unknown as InstallationEvent;
      await onInstallation(payload).catch((error: unknown) => {
        throw new HttpError(503, "store_unavailable", "The event could not be recorded. Retry later.", null, {
          cause: error,
        });
      });
      const message =
        "The repositories it names are followed: options read again, those removed deactivated, those added listed as projects and resynced.";
      return {
        outcome: "accepted",
        response: c.json({ status: "accepted", delivery: deliveryId, message }, 202),
      };
    }
    if (!HANDLED_EVENTS.has(name)) {
      const message = `envhooks does not act on ${name} events.`;
      return { outcome: "ignored", response: c.json({ status: "ignored", message }, 202) };
    }
    const payload = parsePayload(name, body);
    if (name === "issue_comment" && !isEnvhooksCommand(payload as unknown as IssueCommentPayload)) {
      const message = "The comment is not an envhooks command.";
      return { outcome: "ignored", response: c.json({ status: "ignored", message }, 202) };
    }
    const run = payload.workflow_run as { event?: string } | undefined;
    if (name === "workflow_run" && run?.event !== "workflow_dispatch") {
      const message = "envhooks follows only the runs it starts (workflow_dispatch).";
      return { outcome: "ignored", response: c.json({ status: "ignored", message }, 202) };
    }
    const runId =
      name === "workflow_job"
        ? (payload.workflow_job as { run_id?: unknown } | undefined)?.run_id
        : (payload.workflow_run as { id?: unknown } | undefined)?.id;
    if ((name === "workflow_run" || name === "workflow_job") && runMayConcernEnvhooks) {
      const key = (payload.repository as { full_name: string }).full_name.toLowerCase();
      const concerns =
        typeof runId === "number" &&
        (await runMayConcernEnvhooks(key, runId).catch((error: unknown) => {
          throw new HttpError(
            503,
            "store_unavailable",
            "The event could not be recorded. Retry later.",
            null,
            {
              cause: error,
            },
          );
        }));
      if (!concerns) {
        const message = "envhooks follows only the runs it starts; this one is not one of them.";
        return { outcome: "ignored", response: c.json({ status: "ignored", message }, 202) };
      }
    }
    if (CHECK_EVENTS.has(name) && projectWaitsForChecks) {
      const key = (payload.repository as { full_name: string }).full_name.toLowerCase();
      const waits = await projectWaitsForChecks(key).catch((error: unknown) => {
        throw new HttpError(503, "store_unavailable", "The event could not be recorded. Retry later.", null, {
          cause: error,
        });
      });
      if (!waits) {
        const message = "The repository does not wait for checks (wait_for_checks).";
        return { outcome: "ignored", response: c.json({ status: "ignored", message }, 202) };
      }
    }
    if (name === "repository" && !REPOSITORY_ACTIONS.has(String(payload.action))) {
      const message = `envhooks acts on repository ${[...REPOSITORY_ACTIONS].join(", ")}, not ${String(payload.action)}.`;
      return { outcome: "ignored", response: c.json({ status: "ignored", message }, 202) };
    }
    const outcome = await accept({
      deliveryId,
      name,
      action: typeof payload.action === "string" ? payload.action : null,
      projectKey: (payload.repository as { full_name: string }).full_name.toLowerCase(),
      payload: body,
      headers: keptHeaders((header) => c.req.header(header)),
    });
    log.info(
      { requestId: c.get("requestId"), delivery: deliveryId, event: name, outcome },
      "GitHub delivery received",
    );
    const response =
      outcome === "duplicate"
        ? c.json({ status: "duplicate", message: `Delivery ${deliveryId} was received already.` }, 200)
        : c.json({ status: "accepted", delivery: deliveryId }, 202);
    return { outcome, response };
  }
}

type Env = { Variables: RequestIdVariables & { metricsEvent?: string } };

/** A count of places taken without waiting: one is free or the caller is refused. */
class Slots {
  #free: number;
  constructor(size: number) {
    this.#free = size;
  }
  /** A place, with the function that gives it back (once); undefined when none is free. */
  take(): (() => void) | undefined {
    if (this.#free === 0) return undefined;
    this.#free -= 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#free += 1;
    };
  }
}

/** Bytes taken without waiting from a fixed budget: they fit or the caller is refused. */
class ByteBudget {
  readonly size: number;
  #free: number;
  constructor(size: number) {
    this.size = size;
    this.#free = size;
  }
  /** Takes `bytes` if at least `keepFree` stays free afterwards; false otherwise. */
  take(bytes: number, keepFree = 0): boolean {
    if (this.#free - bytes < keepFree) return false;
    this.#free -= bytes;
    return true;
  }
  give(bytes: number) {
    this.#free += bytes;
  }
}

/** What unverified bodies hold, process-wide. */
interface Held {
  large: Slots;
  bytes: ByteBudget;
  readTimeoutMs: number;
}

/**
 * Reads the body and checks its signature (an HMAC computed as it arrives). Until the signature is
 * checked, every chunk read counts against the process-wide budget of unverified bytes; a body
 * over 1 MB (announced by Content-Length, or found while reading) also needs one of the few large
 * places, and may not take the budget's last fifth. Refused, it gets 503 with Retry-After, the rest
 * of it unread; a body still arriving after the read deadline gets 408. GitHub marks the delivery
 * failed, and envhooks asks GitHub to send failed deliveries again (see github-redeliveries).
 */
async function readVerified(c: Context<Env>, secret: string, signature: string, held: Held) {
  const busy = () => {
    c.header("Retry-After", String(BUSY_RETRY_AFTER_SECONDS));
    return new HttpError(
      503,
      "busy",
      `Other deliveries are being read: envhooks holds at most ${Math.floor(held.bytes.size / 1024 / 1024)} MB of bodies not yet checked, at most ${MAX_LARGE_WEBHOOK_BODIES} over 1 MB. Retry later.`,
    );
  };
  const tooLarge = () => new HttpError(413, "payload_too_large", "GitHub sends at most 25 MB per delivery.");
  const announced = Number(c.req.header("content-length") ?? Number.NaN);
  if (announced > MAX_WEBHOOK_BYTES) throw tooLarge();
  let release = announced > LARGE_WEBHOOK_BYTES ? held.large.take() : undefined;
  if (announced > LARGE_WEBHOOK_BYTES && !release) throw busy();
  // Large bodies leave a fifth of the budget to ordinary deliveries.
  const largeKeepsFree = Math.floor(held.bytes.size / 5);
  let taken = 0;
  const reader = c.req.raw.body?.getReader();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), held.readTimeoutMs);
  });
  try {
    const chunks: Uint8Array[] = [];
    const hmac = createHmac("sha256", secret);
    let length = 0;
    for (;;) {
      const next = reader ? await Promise.race([reader.read(), late]) : undefined;
      let refusal: HttpError | undefined;
      if (next === "late") {
        refusal = new HttpError(
          408,
          "request_timeout",
          `The body took over ${Math.round(held.readTimeoutMs / 1000)} s to arrive; GitHub sends a delivery at once.`,
        );
      } else if (!next || next.done) {
        break;
      } else {
        length += next.value.byteLength;
        if (length > MAX_WEBHOOK_BYTES) refusal = tooLarge();
        else if (length > LARGE_WEBHOOK_BYTES && !release) {
          release = held.large.take();
          if (!release) refusal = busy();
        }
        if (!refusal) {
          if (!held.bytes.take(next.value.byteLength, release ? largeKeepsFree : 0)) refusal = busy();
          else taken += next.value.byteLength;
        }
        if (!refusal) {
          chunks.push(next.value);
          hmac.update(next.value);
        }
      }
      if (refusal) {
        await reader?.cancel().catch(() => undefined);
        throw refusal;
      }
    }
    // As @octokit/webhooks-methods' verify does, over the bytes as they came (GitHub signs those).
    const expected = Buffer.from(`sha256=${hmac.digest("hex")}`);
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(
        401,
        "signature_mismatch",
        "X-Hub-Signature-256 does not match the body and WEBHOOK_SECRET.",
      );
    }
    return Buffer.concat(chunks, length).toString("utf8");
  } finally {
    clearTimeout(timer);
    held.bytes.give(taken);
    release?.();
  }
}

/** The App's own events: envhooks reads their installation (and the repositories added) only. */
const INSTALLATION_EVENTS: ReadonlySet<string> = new Set(["installation", "installation_repositories"]);

/**
 * The `event` label values of /metrics: the events envhooks acts on, the App's own, and `other`
 * for the rest and for every request whose signature was not checked.
 */
const METRIC_EVENTS: ReadonlySet<string> = new Set([
  ...HANDLED_EVENTS,
  "installation",
  "installation_repositories",
]);
const OTHER = "other";
const CHECK_EVENTS: ReadonlySet<string> = new Set(["check_suite", "check_run", "status"]);

/** What the metrics call a refused delivery, by the status it was answered with. */
const OUTCOMES: Record<number, string> = {
  400: "invalid",
  401: "refused",
  408: "invalid",
  413: "invalid",
  503: "unavailable",
};

/**
 * The payload, with the fields envhooks reads checked: a delivery of the wrong shape is refused
 * here (GitHub shows the answer in "Recent Deliveries") rather than stored to fail on every retry.
 */
function parsePayload(name: string, body: string): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch (error) {
    throw new HttpError(400, "invalid_json", `The body is not valid JSON: ${(error as Error).message}`);
  }
  try {
    return parseGithubPayload(name, payload);
  } catch (error) {
    if (!(error instanceof InvalidPayload)) throw error;
    throw new HttpError(
      400,
      "invalid_payload",
      `${error.message} envhooks stored nothing: these are fields it reads from GitHub's ${name} event.`,
      { field: error.field, problems: error.problems },
    );
  }
}
