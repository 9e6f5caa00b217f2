import type { Delivery } from "../store/deliveries.ts";
import type { Integration } from "./integration.ts";
import { signDelivery } from "./sign-delivery.ts";

/** Where a delivery goes and with which headers; `loggedUrl` is what the delivery log may keep. */
export interface DeliveryRequest {
  url: string;
  loggedUrl: string;
  headers: Record<string, string>;
}

/** A URL whose path holds a token, as logs and API answers may show it. */
export function maskUrl(url: string): string {
  try {
    return `${new URL(url).origin}/********`;
  } catch {
    return "********";
  }
}

/**
 * The request for a delivery: webhooks go to their URL, signed; chat channels to their secret
 * webhook URL (HipChat: its room notification endpoint, with the room token as bearer).
 */
export function deliveryRequest(
  integration: Integration,
  delivery: Pick<Delivery, "id" | "event" | "body">,
  { version, now }: { version: string; now: Date },
): DeliveryRequest {
  const base = {
    "content-type": "application/json",
    "x-envhooks-event": delivery.event,
    "x-envhooks-delivery": delivery.id,
  };
  if (integration.type === "webhook") {
    const shipway = integration.config.format === "shipway";
    const rotating = integration.previousSecretUntil && new Date(integration.previousSecretUntil) > now;
    return {
      url: integration.config.url,
      // Its path and query may be a capability (a secret path, a token): the log keeps the origin.
      loggedUrl: maskUrl(integration.config.url),
      headers: {
        ...integration.config.headers,
        ...base,
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
      },
    };
  }
  const headers = { ...base, "user-agent": `Envhooks-Hookshot/${version}` };
  const secret = integration.secret ?? "";
  if (integration.type === "hipchat") {
    const server = (integration.config.url ?? "").replace(/\/+$/, "");
    const url = `${server}/v2/room/${encodeURIComponent(integration.config.room ?? "")}/notification`;
    return { url, loggedUrl: url, headers: { ...headers, authorization: `Bearer ${secret}` } };
  }
  let url = secret;
  if (integration.type === "googlechat" && integration.config.thread_by_environment) {
    // Without this, a message naming a thread still starts a new one.
    url += `${url.includes("?") ? "&" : "?"}messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`;
  }
  return { url, loggedUrl: maskUrl(url), headers };
}
