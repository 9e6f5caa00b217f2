import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HttpError } from "./http-error.ts";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * `/metrics` behind `Authorization: Bearer <ENVHOOKS_METRICS_TOKEN>` when that is set (Prometheus'
 * `authorization` scrape option sends it); open when it is not. Compared as SHA-256 digests in
 * constant time, so neither the token nor its length leaks through timing.
 */
export function requireMetricsToken(token: string | undefined): MiddlewareHandler {
  const expected = token ? digest(token) : undefined;
  return async function requireMetrics(c, next) {
    if (!expected) return next();
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
    if (given && timingSafeEqual(digest(given), expected)) return next();
    c.header("WWW-Authenticate", 'Bearer realm="envhooks metrics"');
    throw new HttpError(
      401,
      "unauthorized",
      "Send ENVHOOKS_METRICS_TOKEN as `Authorization: Bearer <token>` (Prometheus: the scrape config's `authorization`).",
    );
  };
}
