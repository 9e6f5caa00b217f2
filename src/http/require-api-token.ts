import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HttpError } from "./http-error.ts";

/**
 * Bearer authentication with the operator's `ENVHOOKS_API_TOKEN`. With no token configured the API
 * answers 503 saying what to set, rather than being open.
 */
export function requireApiToken(apiToken: string | undefined): MiddlewareHandler {
  const expected = apiToken ? Buffer.from(apiToken) : undefined;
  return async function requireToken(c, next) {
    if (!expected) {
      throw new HttpError(
        503,
        "api_disabled",
        "The API is disabled: set ENVHOOKS_API_TOKEN and restart envhooks.",
      );
    }
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1]) {
      throw new HttpError(401, "unauthorized", "Send the API token as `Authorization: Bearer <token>`.");
    }
    const given = Buffer.from(match[1].trim());
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(401, "unauthorized", "The API token is not valid.");
    }
    await next();
  };
}
