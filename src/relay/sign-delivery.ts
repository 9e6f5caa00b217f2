import { createHmac, createSecretKey, type KeyObject } from "node:crypto";

export interface SigningInput {
  deliveryId: string;
  event: string;
  body: string;
  /** Seconds since the epoch. */
  timestamp: number;
  secret: string | null;
  /** Still signed with during a rotation. */
  previousSecret: string | null;
  /** Also send Shipway's legacy headers. */
  shipway: boolean;
}

/** The key Standard Webhooks signs with: the base64 after `whsec_`, or the secret's own bytes. */
export function standardWebhooksKey(secret: string): Buffer {
  return secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret, "utf8");
}

/**
 * Keys as KeyObjects, made once per secret and scheme: given a string or bytes, every HMAC imports
 * the key again (a measurable share of the relay's time at 1,000 deliveries/s). `standard`: Standard
 * Webhooks' key; otherwise the secret's own bytes (GitHub's and Shipway's schemes). Bounded: emptied
 * when it holds more keys than a process plausibly signs with.
 */
const keys = new Map<string, KeyObject>();
const MAX_KEYS = 10_000;
function signingKey(secret: string, standard: boolean): KeyObject {
  const name = `${standard ? "s" : "r"}:${secret}`;
  let key = keys.get(name);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = createSecretKey(standard ? standardWebhooksKey(secret) : Buffer.from(secret, "utf8"));
    keys.set(name, key);
  }
  return key;
}

/**
 * The headers that identify and sign a delivery.
 * - `X-Envhooks-Signature-256`: GitHub's scheme, HMAC-SHA256 of the body keyed with the secret.
 * - `webhook-id`, `webhook-timestamp`, `webhook-signature`: Standard Webhooks
 *   (https://www.standardwebhooks.com), HMAC-SHA256 of `id.timestamp.body`; one `v1,` signature per
 *   secret in force, space separated, so receivers keep verifying during a rotation.
 * - `X-Shipway-*` with `sha1=`: Shipway's legacy scheme.
 */
export function signDelivery(input: SigningInput): Record<string, string> {
  const headers: Record<string, string> = {
    "x-envhooks-event": input.event,
    "x-envhooks-delivery": input.deliveryId,
    "webhook-id": input.deliveryId,
    "webhook-timestamp": String(input.timestamp),
  };
  if (input.shipway) {
    headers["x-shipway-event"] = input.event;
    headers["x-shipway-delivery"] = input.deliveryId;
  }
  if (!input.secret) return headers;

  headers["x-envhooks-signature-256"] =
    `sha256=${createHmac("sha256", signingKey(input.secret, false)).update(input.body).digest("hex")}`;
  const signed = `${input.deliveryId}.${input.timestamp}.${input.body}`;
  headers["webhook-signature"] = [input.secret, input.previousSecret]
    .filter((secret): secret is string => Boolean(secret))
    .map((secret) => `v1,${createHmac("sha256", signingKey(secret, true)).update(signed).digest("base64")}`)
    .join(" ");
  if (input.shipway) {
    headers["x-shipway-signature"] =
      `sha1=${createHmac("sha1", signingKey(input.secret, false)).update(input.body).digest("hex")}`;
  }
  return headers;
}
