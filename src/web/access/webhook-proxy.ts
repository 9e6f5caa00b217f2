import type { Logger } from "pino";

/** smee.io, where Probot makes its development channels. */
export const SMEE_URL = "https://smee.io";

/** Headers of a GitHub delivery that are forwarded as they came. */
const FORWARDED = /^(x-github-|x-hub-signature|content-type$|user-agent$)/;

/**
 * Makes a new channel on a smee.io server (`GET /new` redirects to it), as Probot's setup does
 * through smee-client's `createChannel`.
 */
export async function createSmeeChannel(smeeUrl = SMEE_URL): Promise<string> {
  const response = await fetch(new URL("/new", smeeUrl), {
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  const location = response.headers.get("location");
  if (response.status < 300 || response.status >= 400 || !location) {
    throw new Error(`${smeeUrl}/new answered ${response.status} without a channel`);
  }
  return new URL(location, smeeUrl).toString();
}

export interface WebhookProxy {
  /** Deliveries forwarded so far. */
  readonly forwarded: number;
  stop(): void;
}

/**
 * Forwards a smee.io channel's deliveries to envhooks' webhook route, as smee-client does for
 * Probot's WEBHOOK_PROXY_URL: the channel is read as server-sent events, each event's headers and
 * body are posted to `target`, and a dropped connection is opened again (1 s, doubling to 30 s).
 * Written here rather than taken from smee-client, which Probot does not install (it fetches it
 * with npx at run time) and whose EventSource dependency is not in node_modules.
 */
export function forwardWebhookProxy({
  source,
  target,
  log,
}: {
  source: string;
  target: string;
  log: Logger;
}): WebhookProxy {
  const stopping = new AbortController();
  let forwarded = 0;
  let delay = 1000;

  async function forward(data: string) {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return;
    }
    if (message.body === undefined) return;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(message)) {
      if (FORWARDED.test(name.toLowerCase()) && typeof value === "string")
        headers[name.toLowerCase()] = value;
    }
    headers["content-type"] ??= "application/json";
    const body = typeof message.body === "string" ? message.body : JSON.stringify(message.body);
    const response = await fetch(target, { method: "POST", headers, body, signal: stopping.signal });
    await response.body?.cancel();
    forwarded++;
    log.info(
      { delivery: headers["x-github-delivery"], event: headers["x-github-event"], status: response.status },
      "forwarded a delivery from the webhook proxy",
    );
  }

  async function listen() {
    const response = await fetch(source, {
      headers: { accept: "text/event-stream" },
      signal: stopping.signal,
    });
    if (!response.ok || !response.body) throw new Error(`${source} answered ${response.status}`);
    log.info({ source, target }, "forwarding the webhook proxy's deliveries");
    delay = 1000;
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end = buffer.search(/\r?\n\r?\n/);
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const lines = block.split(/\r?\n/);
        const event =
          lines
            .find((line) => line.startsWith("event:"))
            ?.slice(6)
            .trim() ?? "message";
        const data = lines
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (event === "message" && data) {
          await forward(data).catch((error) => {
            if (!stopping.signal.aborted)
              log.warn({ err: error }, "a delivery from the webhook proxy was not forwarded");
          });
        }
        end = buffer.search(/\r?\n\r?\n/);
      }
    }
  }

  void (async () => {
    while (!stopping.signal.aborted) {
      try {
        await listen();
      } catch (error) {
        if (stopping.signal.aborted) return;
        log.warn({ err: error, source, retryMs: delay }, "webhook proxy connection lost; connecting again");
      }
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      delay = Math.min(delay * 2, 30_000);
    }
  })();

  return {
    get forwarded() {
      return forwarded;
    },
    stop: () => stopping.abort(),
  };
}
