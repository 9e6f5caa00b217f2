import { isIP } from "node:net";
import { Agent, request } from "undici";
import { MAX_CONCURRENCY } from "./integration.schema.ts";
import { BlockedAddressError, guardedLookup, isPublicAddress, urlHost } from "./ssrf-guard.ts";

/** The first 16 KB of a receiver's answer are kept in the delivery log. */
export const RESPONSE_BODY_LIMIT = 16 * 1024;

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Accept any TLS certificate (the integration's `insecure_ssl`). */
  insecureTls?: boolean;
}

/** One attempt, as sent and as answered. */
export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  /** From a Retry-After header, when the receiver sent one. */
  retryAfter: string | undefined;
  /** Cut short by `interrupt()` (a shutdown): the receiver's answer is unknown, not a failure. */
  interrupted?: boolean;
}

export interface Sender {
  send(outgoing: OutgoingRequest): Promise<AttemptResult>;
  /** Cuts short every send in flight, and refuses later ones: each resolves as `interrupted`. */
  interrupt(): void;
  close(): Promise<void>;
}

/** Why an interrupted attempt ended, as its delivery log says. */
export const INTERRUPTED = "interrupted: envhooks shut down before the receiver answered; sent again later";

/**
 * Sends deliveries over keep-alive connection pools (undici). Success is a 2xx within the
 * timeout; redirects are not followed and count as failures, as do other statuses, timeouts and
 * network errors. Unless `allowPrivateUrls`, receivers on non-public addresses are refused.
 */
export function createSender({ allowPrivateUrls }: { allowPrivateUrls: boolean }): Sender {
  const agent = (rejectUnauthorized: boolean) =>
    new Agent({
      keepAliveTimeout: 30_000,
      // Per origin: one integration may have MAX_CONCURRENCY requests in flight, none kept
      // queued here (its time in a queue would count against the receiver's timeout).
      connections: MAX_CONCURRENCY,
      connect: { rejectUnauthorized, ...(allowPrivateUrls ? {} : { lookup: guardedLookup }) },
    });
  const verifying = agent(true);
  const insecure = agent(false);
  // One controller per send, not one shared signal: AbortSignal.any() keeps each combined signal
  // linked to a long-lived source (https://github.com/nodejs/node/issues/54614).
  const inFlight = new Set<AbortController>();
  let interrupted = false;
  return {
    async send(outgoing) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const cut = new AbortController();
      if (interrupted) cut.abort();
      inFlight.add(cut);
      const signal = AbortSignal.any([AbortSignal.timeout(outgoing.timeoutMs), cut.signal]);
      try {
        signal.throwIfAborted();
        const host = urlHost(outgoing.url);
        // Sockets skip lookup() for address literals: check those here.
        if (!allowPrivateUrls && isIP(host) && !isPublicAddress(host))
          throw new BlockedAddressError(host, host);
        const response = await request(outgoing.url, {
          method: "POST",
          headers: outgoing.headers,
          body: outgoing.body,
          dispatcher: outgoing.insecureTls ? insecure : verifying,
          headersTimeout: outgoing.timeoutMs,
          bodyTimeout: outgoing.timeoutMs,
          signal,
        });
        const responseBody = await readLimited(response.body);
        const responseHeaders = flattenHeaders(response.headers);
        const ok = response.statusCode >= 200 && response.statusCode < 300;
        return {
          ok,
          statusCode: response.statusCode,
          responseHeaders,
          responseBody,
          error: ok ? null : `HTTP ${response.statusCode}`,
          durationMs: elapsed(),
          retryAfter: responseHeaders["retry-after"],
        };
      } catch (error) {
        const wasCut = cut.signal.aborted && signal.reason === cut.signal.reason;
        return {
          ok: false,
          statusCode: null,
          responseHeaders: null,
          responseBody: null,
          error: wasCut ? INTERRUPTED : describeSendError(error, outgoing.timeoutMs),
          durationMs: elapsed(),
          retryAfter: undefined,
          ...(wasCut ? { interrupted: true } : {}),
        };
      } finally {
        inFlight.delete(cut);
      }
    },
    interrupt() {
      interrupted = true;
      for (const cut of inFlight) cut.abort();
    },
    close: async () => {
      await Promise.all([verifying.close(), insecure.close()]);
    },
  };
}

async function readLimited(body: AsyncIterable<Buffer> & { dump?: () => Promise<void> }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_BODY_LIMIT) break;
  }
  // Cut on a character boundary: decoding drops a partial last character.
  return new TextDecoder("utf-8", { fatal: false })
    .decode(Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT))
    .replace(/\uFFFD$/, "");
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

function describeSendError(error: unknown, timeoutMs: number): string {
  const found = findCause(error);
  if (found instanceof BlockedAddressError) return `refused: ${found.message}`;
  const err = error as { name?: string; code?: string; message?: string };
  if (
    err.name === "TimeoutError" ||
    err.name === "AbortError" ||
    err.code === "UND_ERR_HEADERS_TIMEOUT" ||
    err.code === "UND_ERR_BODY_TIMEOUT"
  ) {
    return `timeout: no answer within ${timeoutMs} ms`;
  }
  const code = (found as { code?: string } | undefined)?.code ?? err.code;
  return `${code ? `${code}: ` : ""}${(found as Error | undefined)?.message ?? err.message ?? String(error)}`;
}

function findCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (current instanceof BlockedAddressError) return current;
    const next = (current as { cause?: unknown }).cause;
    if (!next) return current;
    current = next;
  }
  return current;
}
