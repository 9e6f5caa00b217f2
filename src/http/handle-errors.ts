import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "pino";
import { errorResponse, HttpError } from "./http-error.ts";

/** Turns every thrown error into `{ "error": { code, message, details } }`; unexpected ones are logged, not shown. */
export function handleErrors(log: Logger): ErrorHandler {
  return async function onError(error, c) {
    if (error instanceof HttpError) {
      if (error.status >= 500 && error.cause)
        log.error({ err: error.cause, path: c.req.path, requestId: c.get("requestId") }, error.message);
      return errorResponse(c, error.status, error.code, error.message, error.details);
    }
    // decodeURIComponent on something the client sent (a path, a query); the paths are checked first.
    if (error instanceof URIError) {
      return errorResponse(c, 400, "invalid_encoding", "The request has a malformed percent-encoding.");
    }
    // PostgreSQL refusing NUL (U+0000) in a value the client sent (a body field): the client's
    // input, not a failure of ours. Paths and queries are checked before this (refuseNulCharacters).
    // The same codes for a value of our own (22021 is any invalid byte sequence) are our failure.
    if (NUL_REFUSED.has(String((error as { code?: unknown }).code)) && (await bodyHoldsNul(c))) {
      log.warn(
        { err: error, method: c.req.method, path: c.req.path, requestId: c.get("requestId") },
        "request refused: PostgreSQL refused a NUL character the request holds",
      );
      return errorResponse(
        c,
        400,
        "invalid_characters",
        "The request holds a NUL character (\\u0000 or %00), which envhooks cannot store: remove it.",
      );
    }
    if (error instanceof HTTPException) {
      return errorResponse(c, error.status as 400, "http_error", error.message || "The request was refused.");
    }
    log.error(
      { err: error, method: c.req.method, path: c.req.path, requestId: c.get("requestId") },
      "request failed",
    );
    return errorResponse(c, 500, "internal_error", "Something went wrong on our side; it was logged.");
  };
}

/** PostgreSQL's codes for NUL in text (22021) and in jsonb (22P05, `\\u0000`). */
const NUL_REFUSED: ReadonlySet<string> = new Set(["22021", "22P05"]);

/**
 * Whether the request's body holds NUL, raw or escaped (`\u0000` in JSON, `%00` in a form), as
 * read by its handler (Hono keeps what it read); false when it cannot be read again.
 */
async function bodyHoldsNul(c: Context): Promise<boolean> {
  if (c.req.method === "GET" || c.req.method === "HEAD") return false;
  try {
    const body = await c.req.text();
    return body.includes("\0") || /\\u0000|%00/i.test(body);
  } catch {
    return false;
  }
}

export const notFound: NotFoundHandler = (c) =>
  errorResponse(c, 404, "not_found", `Nothing at ${c.req.method} ${c.req.path}.`);
