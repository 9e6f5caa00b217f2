import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** An error with the HTTP answer it should become: `{ "error": { code, message, details } }`. */
export class HttpError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly details: unknown;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Writes an error answer in envhooks' one JSON shape. */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  details?: unknown,
) {
  return c.json({ error: { code, message, details: details ?? null } }, status);
}
