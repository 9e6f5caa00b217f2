import type { Hook, z as zod } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { HttpError } from "./http-error.ts";

/** Names each bad field: `limit: Too big: expected number to be <=100`. */
export function describeFields(error: z.ZodError): Array<{ field: string; message: string }> {
  return error.issues.map((issue) => ({ field: issue.path.join(".") || "(body)", message: issue.message }));
}

/** The hook every validated route uses: a 400 naming each bad parameter or field. */
// biome-ignore lint/suspicious/noExplicitAny: the hook is shared by routes of every shape
export const rejectInvalid: Hook<any, any, any, any> = (result) => {
  if (result.success) return;
  const fields = describeFields(result.error);
  throw new HttpError(
    400,
    "invalid_parameters",
    `Invalid ${fields.map((f) => `${f.field} (${f.message})`).join(", ")}.`,
    { fields },
  );
};

/** An OpenAPI response (or body) of JSON in `schema`. */
export const jsonContent = (schema: zod.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** What a NUL character is refused with: PostgreSQL can neither store nor compare one in text. */
const NUL_MESSAGE = "must not contain a NUL character (%00)";

/**
 * The field of the first path segment or query parameter that holds NUL: `owner` / `repo` for a
 * project's path, the parameter's name for a query, `path` for another segment; undefined if none.
 */
export function findNulField(url: URL): string | undefined {
  let segments: string[];
  try {
    segments = url.pathname.split("/").map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined; // a malformed percent-encoding: refused as such (refuseMalformedPath)
  }
  const at = segments.findIndex((segment) => segment.includes("\0"));
  if (at >= 0) {
    // /api/projects/{owner}/{repo}/… and the dashboard's /projects/{owner}/{repo}/…
    const projects = segments[1] === "api" ? 2 : 1;
    if (segments[projects] === "projects" && (at === projects + 1 || at === projects + 2)) {
      return at === projects + 1 ? "owner" : "repo";
    }
    return "path";
  }
  for (const [name, value] of url.searchParams) {
    if (name.includes("\0") || value.includes("\0")) return name.replaceAll("\0", "") || "(query)";
  }
  return undefined;
}

/**
 * Refuses NUL in the path or the query with a 400 naming the field, before anything reads them:
 * PostgreSQL refuses U+0000 in text, and a lookup (a moved project's, a filter's) would fail with
 * a 500. `page` answers those who are not calling the API (the dashboard) with a page instead.
 */
export function refuseNulCharacters({
  page,
}: {
  page?: (c: Context, error: HttpError) => Response | Promise<Response>;
} = {}): MiddlewareHandler {
  return async function refuseNul(c, next) {
    const field = findNulField(new URL(c.req.url));
    if (!field) return next();
    const error = new HttpError(400, "invalid_parameters", `Invalid ${field} (${NUL_MESSAGE}).`, {
      fields: [{ field, message: NUL_MESSAGE }],
    });
    if (page && !/^\/(api|rest)\//.test(c.req.path)) return page(c, error);
    throw error;
  };
}
